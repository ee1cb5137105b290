-- pgTAP: the studies' surface (functions, volatility, keys, triggers, dump
-- registration, privileges), and NOTIFY delivery proven with real
-- listeners: other connections (dblink) listen and write, so that commits
-- and rollbacks happen outside this test's own transaction.
BEGIN;
SELECT plan(38);

SELECT has_function('participants', 'create_study', ARRAY['uuid', 'text', 'uuid[]', 'uuid[]', 'jsonb', 'jsonb']);
SELECT has_function('participants', 'update_study', ARRAY['uuid', 'uuid', 'text', 'uuid[]', 'uuid[]', 'jsonb', 'jsonb']);
SELECT has_function('participants', 'get_study', ARRAY['uuid', 'uuid']);
SELECT has_function('participants', 'add_study_participants', ARRAY['uuid', 'uuid', 'jsonb', 'boolean']);
SELECT has_function('participants', 'set_participant_status', ARRAY['uuid', 'uuid', 'text', 'text', 'boolean', 'text', 'text']);
SELECT has_function('participants', 'study_participants', ARRAY['uuid', 'uuid', 'text', 'integer', 'integer']);
SELECT has_function('participants', 'status_history', ARRAY['uuid', 'uuid', 'text', 'boolean']);
SELECT has_function('participants', 'eligible_participants', ARRAY['uuid', 'uuid', 'integer', 'integer', 'boolean']);
SELECT has_function('participants', 'set_opted_out', ARRAY['uuid', 'text', 'boolean', 'boolean']);
SELECT has_function('participants', 'events_since', ARRAY['uuid', 'bigint', 'integer']);
SELECT has_view('participants', 'study_funnel', 'study funnel view');
SELECT volatility_is('participants', 'get_study', ARRAY['uuid', 'uuid'], 'stable');
SELECT volatility_is('participants', 'study_participants', ARRAY['uuid', 'uuid', 'text', 'integer', 'integer'], 'stable');
SELECT volatility_is('participants', 'status_history', ARRAY['uuid', 'uuid', 'text', 'boolean'], 'stable');
SELECT volatility_is('participants', 'eligible_participants', ARRAY['uuid', 'uuid', 'integer', 'integer', 'boolean'], 'stable');
SELECT volatility_is('participants', 'events_since', ARRAY['uuid', 'bigint', 'integer'], 'stable');
SELECT volatility_is('participants', 'set_participant_status', ARRAY['uuid', 'uuid', 'text', 'text', 'boolean', 'text', 'text'], 'volatile');
SELECT volatility_is('participants', 'set_opted_out', ARRAY['uuid', 'text', 'boolean', 'boolean'], 'volatile');
SELECT col_is_pk('participants', 'study_participant', ARRAY['project_id', 'id'], 'study participant key starts with project_id');
SELECT col_is_pk('participants', 'event', ARRAY['project_id', 'id'], 'event key starts with project_id');
SELECT col_is_pk('participants', 'status_transition', ARRAY['project_id', 'from_status', 'to_status'], 'the graph is per project');
SELECT fk_ok('participants', 'study_participant', ARRAY['project_id', 'participant_id'],
             'participants', 'participant', ARRAY['project_id', 'id'], 'study participants refer to their participant');
SELECT trigger_is('participants', 'study_participant', 'study_participant_guard', 'participants', 'study_participant_guard',
                  'the graph is enforced on every write');
SELECT trigger_is('participants', 'participant', 'participant_studies_sync', 'participants', 'participant_studies_sync',
                  'opt-out and withdrawal cascade from any write');
SELECT set_eq($$SELECT c.relname::text FROM pg_extension e, unnest(e.extconfig) AS t(oid)
                JOIN pg_class c ON c.oid = t.oid WHERE e.extname = 'participants'
                AND c.relname IN ('study', 'study_segment', 'completion_code', 'completion_action',
                                  'status_transition', 'study_participant', 'event', 'project_counter')$$,
              ARRAY['study', 'study_segment', 'completion_code', 'completion_action',
                    'status_transition', 'study_participant', 'event', 'project_counter'],
              'studies, statuses and events are dumped');
SELECT ok(NOT has_function_privilege('public', 'participants.set_participant_status(uuid, uuid, text, text, boolean, text, text)', 'EXECUTE'),
          'PUBLIC cannot execute set_participant_status');
SELECT ok(NOT has_table_privilege('public', 'participants.event', 'SELECT'), 'PUBLIC cannot read events');

-- NOTIFY: a listener (l) and a writer (w) on their own connections, and an
-- outsider (o): a role with nothing but LOGIN, listening on the old shared
-- channel participants_events
CREATE EXTENSION IF NOT EXISTS dblink;
CREATE TEMP TABLE got (n serial, conn text, channel text, payload text);
-- wait up to "seconds" until "want" notifications have arrived on l; how many did.
-- Every notification o receives is kept too.
CREATE FUNCTION pg_temp.wait_for(want int, seconds float8) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
	deadline timestamptz := clock_timestamp() + seconds * interval '1 second';
	have int;
BEGIN
	LOOP
		PERFORM * FROM dblink('l', 'SELECT 1') AS t(x int);
		PERFORM * FROM dblink('o', 'SELECT 1') AS t(x int);
		INSERT INTO got (conn, channel, payload) SELECT 'l', notify_name, extra FROM dblink_get_notify('l');
		INSERT INTO got (conn, channel, payload) SELECT 'o', notify_name, extra FROM dblink_get_notify('o');
		SELECT count(*) INTO have FROM got WHERE conn = 'l';
		EXIT WHEN have >= want OR clock_timestamp() > deadline;
		PERFORM pg_sleep(0.05);
	END LOOP;
	RETURN have;
END $$;
-- run a statement on the writer connection
CREATE FUNCTION pg_temp.w(sql text) RETURNS void LANGUAGE sql AS $$
	SELECT NULL::void FROM dblink('w', sql) AS t(x text)
$$;
SELECT format('dbname=%s port=%s host=%s', current_database(), current_setting('port'),
	split_part(current_setting('unix_socket_directories'), ',', 1)) AS conn \gset
SELECT dblink_connect('l', :'conn' || ' user=' || current_user);
SELECT dblink_connect('w', :'conn' || ' user=' || current_user);
SELECT dblink_exec('w', 'DROP ROLE IF EXISTS regress_login_only');
SELECT dblink_exec('w', 'CREATE ROLE regress_login_only LOGIN');
SELECT dblink_connect('o', :'conn' || ' user=regress_login_only');
SELECT dblink_exec('o', 'LISTEN participants_events');
SELECT id AS p FROM dblink('w', $$SELECT participants.create_project('pgtap notify')$$) AS t(id uuid) \gset
SELECT id AS other FROM dblink('w', $$SELECT participants.create_project('pgtap notify, other')$$) AS t(id uuid) \gset
SELECT participants.event_channel(:'p') AS channel \gset
SELECT dblink_exec('l', format('LISTEN %I', :'channel'));
SELECT pg_temp.w(format($$SELECT participants.upsert_participant(%L, '{"participantIdentifier": "N1"}')$$, :'p'));
SELECT id AS s FROM dblink('w', format($$SELECT (participants.create_study(%L, 'notify study')->>'studyID')::uuid$$, :'p')) AS t(id uuid) \gset
SELECT pg_temp.w(format($$SELECT participants.add_study_participants(%L, %L, '["N1"]')$$, :'p', :'s'));
SELECT is(pg_temp.wait_for(1, 10), 1, 'adding a participant to a study notifies the project''s channel');
SELECT is((SELECT channel || ' ' || payload FROM got WHERE conn = 'l' AND n = 1), :'channel' || ' ',
	'on the project''s own channel, with an empty payload: a wake-up call with nothing to trust');

-- a status change: nothing before COMMIT, one notification after it
SELECT dblink_exec('w', 'BEGIN');
SELECT pg_temp.w(format($$SELECT participants.set_participant_status(%L, %L, 'N1', 'INVITE_SENT')$$, :'p', :'s'));
SELECT is(pg_temp.wait_for(2, 1), 1, 'nothing is delivered before the transaction commits');
SELECT dblink_exec('w', 'COMMIT');
SELECT is(pg_temp.wait_for(2, 10), 2, 'the status change is delivered after COMMIT');
SELECT ok(:'channel' ~ '^participants_events_[0-9a-f]{32}$' AND :'channel' <> participants.event_channel(:'other'),
	'each project has its own random channel');
SELECT is((SELECT string_agg(e->'payload'->>'status', ',' ORDER BY (e->>'eventID')::bigint)
	FROM jsonb_array_elements(participants.events_since(:'p', 0)) e), 'NOT_STARTED,INVITE_SENT',
	'the consumer reads the events with events_since from its own cursor');

-- a rolled-back status change: no notification, no event
SELECT dblink_exec('w', 'BEGIN');
SELECT pg_temp.w(format($$SELECT participants.set_participant_status(%L, %L, 'N1', 'SURVEY_STARTED')$$, :'p', :'s'));
SELECT dblink_exec('w', 'ROLLBACK');
SELECT is(pg_temp.wait_for(3, 1.5), 2, 'a rolled-back status change is never delivered');
SELECT results_eq(format($$SELECT count(*)::int FROM participants.event WHERE project_id = %L AND payload->>'status' = 'SURVEY_STARTED'$$, :'p'), ARRAY[0],
	'and leaves no event');

-- opt-out: two events in one transaction, one notification
SELECT pg_temp.w(format($$SELECT participants.set_opted_out(%L, 'N1', true)$$, :'p'));
SELECT is(pg_temp.wait_for(4, 3), 3, 'an opt-out (two events, one transaction) notifies once');
SELECT is(ARRAY(SELECT coalesce(e->'payload'->>'status', e->'payload'->>'eventType')
	FROM jsonb_array_elements(participants.events_since(:'p', 2)) e ORDER BY (e->>'eventID')::bigint),
	ARRAY['person.opted_out', 'OPTED_OUT'], 'events_since after the cursor: person.opted_out, then the status moved to OPTED_OUT');
SELECT is((SELECT count(*)::int FROM got WHERE conn = 'o'), 0,
	'a role with nothing but LOGIN, listening on participants_events, heard nothing');

-- clean up what the writer committed
SELECT dblink_disconnect('o');
SELECT pg_temp.w(format($$SELECT participants.delete_participant(%L, 'N1')$$, :'p'));
SELECT dblink_exec('w', format('DELETE FROM participants.study WHERE project_id = %L', :'p'));
SELECT dblink_exec('w', format('DELETE FROM participants.project WHERE id IN (%L, %L)', :'p', :'other'));
SELECT dblink_exec('w', 'DROP ROLE regress_login_only');
SELECT dblink_disconnect('l');
SELECT dblink_disconnect('w');

SELECT * FROM finish();
ROLLBACK;
