-- pgTAP: the governance surface (consent, contact rules, incentives):
-- functions and their volatility, keys that start with project_id, the
-- foreign keys that hold "a version that exists" and "in the study", the
-- triggers that hold the rules for raw SQL, dump registration, privileges;
-- and the rules at work in one transaction.
BEGIN;
SELECT plan(36);

SELECT has_function('participants', 'define_consent', ARRAY['uuid', 'text', 'text[]', 'text', 'text']);
SELECT has_function('participants', 'record_consent', ARRAY['uuid', 'text', 'text', 'integer', 'text[]', 'text', 'jsonb', 'text']);
SELECT has_function('participants', 'withdraw_consent', ARRAY['uuid', 'text', 'text', 'text[]', 'text', 'text']);
SELECT has_function('participants', 'participant_consents', ARRAY['uuid', 'text', 'text']);
SELECT has_function('participants', 'set_contact_rules', ARRAY['uuid', 'jsonb']);
SELECT has_function('participants', 'contact_rules', ARRAY['uuid']);
SELECT has_function('participants', 'contact_history', ARRAY['uuid', 'text', 'text']);
SELECT has_function('participants', 'record_incentive', ARRAY['uuid', 'text', 'uuid', 'numeric', 'text', 'text', 'text', 'text', 'text', 'text']);
SELECT has_function('participants', 'update_incentive', ARRAY['uuid', 'uuid', 'text', 'text']);
SELECT has_function('participants', 'list_incentives', ARRAY['uuid', 'text', 'uuid', 'text', 'integer', 'integer', 'text']);
SELECT has_function('participants', 'incentive_totals', ARRAY['uuid', 'integer']);
SELECT volatility_is('participants', 'participant_consents', ARRAY['uuid', 'text', 'text'], 'stable');
SELECT volatility_is('participants', 'contact_history', ARRAY['uuid', 'text', 'text'], 'stable');
SELECT volatility_is('participants', 'list_incentives', ARRAY['uuid', 'text', 'uuid', 'text', 'integer', 'integer', 'text'], 'stable');
SELECT volatility_is('participants', 'record_consent', ARRAY['uuid', 'text', 'text', 'integer', 'text[]', 'text', 'jsonb', 'text'], 'volatile');
SELECT volatility_is('participants', 'record_incentive', ARRAY['uuid', 'text', 'uuid', 'numeric', 'text', 'text', 'text', 'text', 'text', 'text'], 'volatile');
SELECT is_empty($$SELECT c.relname FROM pg_class c JOIN pg_index i ON i.indrelid = c.oid
                  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0]
                  WHERE c.relnamespace = 'participants'::regnamespace AND i.indisunique
                    AND c.relname IN ('consent', 'participant_consent', 'consent_history', 'study_consent',
                                      'contact_rule', 'contact', 'incentive')
                    AND a.attname <> 'project_id'$$,
                'every key of the governance tables starts with project_id');
SELECT fk_ok('participants', 'participant_consent', ARRAY['project_id', 'name', 'version'],
             'participants', 'consent', ARRAY['project_id', 'name', 'version'], 'a grant names a version that exists');
SELECT fk_ok('participants', 'incentive', ARRAY['project_id', 'study_id', 'participant_id'],
             'participants', 'study_participant', ARRAY['project_id', 'study_id', 'participant_id'],
             'an incentive is paid to a participant in the study');
SELECT trigger_is('participants', 'participant_consent', 'participant_consent_changed', 'participants', 'participant_consent_guard',
                  'every consent change is recorded, from any write');
SELECT trigger_is('participants', 'incentive', 'incentive_guard', 'participants', 'incentive_guard',
                  'the ledger rules hold for raw writes');
SELECT trigger_is('participants', 'contact', 'contact_guard', 'participants', 'contact_guard',
                  'contacts are written by the database only');
SELECT set_eq($$SELECT c.relname::text FROM pg_extension e, unnest(e.extconfig) AS t(oid)
                JOIN pg_class c ON c.oid = t.oid WHERE e.extname = 'participants'
                AND c.relname IN ('consent', 'participant_consent', 'consent_history', 'study_consent',
                                  'contact_rule', 'contact', 'incentive')$$,
              ARRAY['consent', 'participant_consent', 'consent_history', 'study_consent',
                    'contact_rule', 'contact', 'incentive'],
              'the governance tables are dumped');
SELECT ok(NOT has_function_privilege('public', 'participants.record_consent(uuid, text, text, integer, text[], text, jsonb, text)', 'EXECUTE'),
          'PUBLIC cannot execute record_consent');
SELECT ok(NOT has_table_privilege('public', 'participants.contact', 'SELECT'), 'PUBLIC cannot read contacts');

-- the rules at work
CREATE TEMP TABLE g AS SELECT participants.create_project('pgTAP governance') AS p;
SELECT lives_ok($$SELECT participants.upsert_participant((SELECT p FROM g), '{"participantIdentifier": "T-1", "demographics": {"email": "t1@example.com"}}')$$,
                'a participant');
SELECT lives_ok($$SELECT participants.define_consent((SELECT p FROM g), 'main', '{contact}')$$, 'a consent');
ALTER TABLE g ADD s1 uuid, ADD s2 uuid;
UPDATE g SET s1 = (participants.create_study(p, 'One', required_consents => '[{"name": "main", "scopes": ["contact"]}]') ->> 'studyID')::uuid,
             s2 = (participants.create_study(p, 'Two') ->> 'studyID')::uuid;
SELECT is((SELECT participants.add_study_participants(p, s1, '["T-1"]') -> 'skipped' -> 0 ->> 'reason' FROM g), 'no_consent',
          'no consent: skipped');
SELECT is((SELECT participants.record_consent(p, 't1@example.com', 'main', by => 'email') -> 'scopes' FROM g), '["contact"]'::jsonb,
          'consent recorded by email');
SELECT is((SELECT (participants.add_study_participants(p, s1, '["T-1"]') ->> 'added')::int + (participants.add_study_participants(p, s2, '["T-1"]') ->> 'added')::int FROM g), 2,
          'then added to both studies');
SELECT lives_ok($$SELECT participants.set_contact_rules((SELECT p FROM g), '[{"maxContacts": 1, "windowDays": 7}]')$$, 'a rule');
SELECT is((SELECT participants.set_participant_status(p, s1, 'T-1', 'INVITE_SENT') ->> 'status' FROM g), 'INVITE_SENT', 'first contact');
SELECT throws_ok($$SELECT participants.set_participant_status((SELECT p FROM g), (SELECT s2 FROM g), 'T-1', 'INVITE_SENT')$$,
                 'PT409', NULL, 'second contact within the window refused');
SELECT is((SELECT participants.set_participant_status(p, s2, 'T-1', 'INVITE_SENT', override_reason => 'pgTAP') -> 'override' ->> 'reason' FROM g),
          'pgTAP', 'an override lets it through, recorded in the event');
SELECT is((SELECT participants.withdraw_consent(p, 'T-1', 'main') -> 'scopes' FROM g), '[]'::jsonb, 'consent withdrawn');
SELECT is((SELECT sp.status FROM participants.study_participant sp, g WHERE sp.study_id = g.s1), 'CANCELLED',
          'the study that required it cancelled the participant');

SELECT * FROM finish();
ROLLBACK;
