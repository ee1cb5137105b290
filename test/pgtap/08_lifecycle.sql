-- pgTAP: the data lifecycle surface (imports, erasure, retention, audit):
-- functions and their volatility, keys that start with project_id, the
-- triggers that keep the database-written tables and the audit log as the
-- database writes them, dump registration, privileges (the erasure key
-- readable by no role); and the rules at work in one transaction.
BEGIN;
SELECT plan(33);

SELECT has_function('participants', 'import_participants', ARRAY['uuid', 'text', 'jsonb']);
SELECT has_function('participants', 'import_participants', ARRAY['jsonb']);
SELECT has_function('participants', 'get_import', ARRAY['uuid', 'uuid']);
SELECT has_function('participants', 'import_rows', ARRAY['uuid', 'uuid', 'boolean', 'integer', 'integer']);
SELECT has_function('participants', 'erase_participant', ARRAY['uuid', 'text', 'text', 'text']);
SELECT has_function('participants', 'forget_erasure', ARRAY['uuid', 'uuid']);
SELECT has_function('participants', 'erasures', ARRAY['uuid', 'integer', 'integer']);
SELECT has_function('participants', 'apply_retention', ARRAY['uuid']);
SELECT has_function('participants', 'audit_log', ARRAY['uuid', 'text', 'timestamp with time zone', 'integer', 'integer', 'text']);
SELECT volatility_is('participants', 'import_rows', ARRAY['uuid', 'uuid', 'boolean', 'integer', 'integer'], 'stable');
SELECT volatility_is('participants', 'audit_log', ARRAY['uuid', 'text', 'timestamp with time zone', 'integer', 'integer', 'text'], 'stable');
SELECT volatility_is('participants', 'erase_participant', ARRAY['uuid', 'text', 'text', 'text'], 'volatile');
SELECT volatility_is('participants', 'import_participants', ARRAY['uuid', 'text', 'jsonb'], 'volatile');
SELECT is_empty($$SELECT c.relname FROM pg_class c JOIN pg_index i ON i.indrelid = c.oid
                  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0]
                  WHERE c.relnamespace = 'participants'::regnamespace AND i.indisunique
                    AND c.relname IN ('import', 'import_row', 'erasure', 'project_secret', 'status_archive', 'audit')
                    AND a.attname <> 'project_id'$$,
                'every key of the lifecycle tables starts with project_id');
SELECT trigger_is('participants', 'audit', 'audit_guard', 'participants', 'audit_guard', 'the audit log guards every row write');
SELECT trigger_is('participants', 'audit', 'audit_guard_truncate', 'participants', 'audit_guard', 'and TRUNCATE');
SELECT trigger_is('participants', 'participant', 'participant_audit', 'participants', 'audit_participant',
                  'every participant write is audited, from any writer');
SELECT trigger_is('participants', 'erasure', 'erasure_guard', 'participants', 'lifecycle_guard', 'erasures are written by the database only');
SELECT set_eq($$SELECT c.relname::text FROM pg_extension e, unnest(e.extconfig) AS t(oid)
                JOIN pg_class c ON c.oid = t.oid WHERE e.extname = 'participants'
                AND c.relname IN ('import', 'import_row', 'erasure', 'project_secret', 'status_archive', 'audit')$$,
              ARRAY['import', 'import_row', 'erasure', 'project_secret', 'status_archive', 'audit'],
              'the lifecycle tables are dumped (the erasure key too: restored tombstones keep working)');
SELECT ok(NOT has_function_privilege('public', 'participants.erase_participant(uuid, text, text, text)', 'EXECUTE'),
          'PUBLIC cannot execute erase_participant');
SELECT ok(NOT has_table_privilege('public', 'participants.project_secret', 'SELECT'), 'PUBLIC cannot read the erasure keys');

-- the rules at work
CREATE TEMP TABLE g AS SELECT participants.create_project('pgTAP lifecycle') AS p;
SELECT is(participants.import_participants((SELECT p FROM g), E'participantIdentifier,email,firstName\r\nL-1,l1@example.com,"Lee, Ann"\r\nL-2,bad,x\r\n',
                                           '{"onError": "skip"}') -> 'counts',
          '{"rows": 2, "added": 1, "updated": 0, "unchanged": 0, "failed": 1}'::jsonb, 'a CSV import with a failing row skipped');
SELECT is(participants.get_participant((SELECT p FROM g), 'L-1') -> 'demographics' ->> 'firstName', 'Lee, Ann', 'a quoted comma survives');
SELECT is((SELECT count(*) FROM participants.import_row WHERE project_id = (SELECT p FROM g)), 2::bigint, 'a report for every row');
SELECT is(participants.import_participants((SELECT p FROM g), E'email\nl3@example.com\nbad\n') ->> 'status', 'failed',
          'onError abort: the import fails');
SELECT throws_ok($$SELECT participants.get_participant((SELECT p FROM g), 'l3@example.com', false)$$, 'PT404', NULL,
                 'and writes no participant');
SELECT is(participants.erase_participant((SELECT p FROM g), 'l1@example.com', 'email') -> 'removed' -> 'participant', '1'::jsonb,
          'erased by email');
SELECT throws_ok($$SELECT participants.upsert_participant((SELECT p FROM g), '{"demographics": {"email": "L1@example.com"}}')$$,
                 'PT409', NULL, 'the tombstone refuses the email again');
SELECT is((SELECT count(*) FROM participants.audit WHERE project_id = (SELECT p FROM g) AND person_id IS NULL AND action = 'add'), 1::bigint,
          'the erased person''s audit row lost its person');
SELECT throws_ok($$UPDATE participants.audit SET reason = 'x'$$, 'PT409', NULL, 'the audit log is append-only, for superusers too');
SELECT throws_ok($$DELETE FROM participants.audit$$, 'PT409', NULL, 'no audit row is deleted by hand');
SELECT is(participants.apply_retention((SELECT p FROM g)) -> 'eventsDeleted', '0'::jsonb, 'no retention setting: nothing deleted');
SELECT is(jsonb_array_length(participants.audit_log((SELECT p FROM g)) -> 'entries') > 0, true, 'audit_log lists the changes');

SELECT * FROM finish();
ROLLBACK;
