-- pgTAP: the studies' surface (functions, volatility, keys, triggers, dump
-- registration, privileges), and NOTIFY delivery proven with a real
-- listener: a second and third connection (dblink) listen and write, so that
-- commits and rollbacks happen outside this test's own transaction.
BEGIN;
SELECT plan(38);

SELECT has_function('participants', 'create_study', ARRAY['uuid', 'text', 'uuid[]', 'uuid[]', 'jsonb']);
SELECT has_function('participants', 'update_study', ARRAY['uuid', 'uuid', 'text', 'uuid[]', 'uuid[]', 'jsonb']);
SELECT has_function('participants', 'get_study', ARRAY['uuid', 'uuid']);
SELECT has_function('participants', 'add_study_participants', ARRAY['uuid', 'uuid', 'jsonb', 'boolean']);
SELECT has_function('participants', 'set_participant_status', ARRAY['uuid', 'uuid', 'text', 'text', 'boolean', 'text']);
SELECT has_function('participants', 'study_participants', ARRAY['uuid', 'uuid', 'text', 'integer', 'integer']);
SELECT has_function('participants', 'status_history', ARRAY['uuid', 'uuid', 'text', 'boolean']);
SELECT has_function('participants', 'eligible_participants', ARRAY['uuid', 'uuid', 'integer', 'integer']);
SELECT has_function('participants', 'set_opted_out', ARRAY['uuid', 'text', 'boolean', 'boolean']);
SELECT has_function('participants', 'events_since', ARRAY['uuid', 'bigint', 'integer']);
SELECT has_view('participants', 'study_funnel', 'study funnel view');
SELECT volatility_is('participants', 'get_study', ARRAY['uuid', 'uuid'], 'stable');
SELECT volatility_is('participants', 'study_participants', ARRAY['uuid', 'uuid', 'text', 'integer', 'integer'], 'stable');
SELECT volatility_is('participants', 'status_history', ARRAY['uuid', 'uuid', 'text', 'boolean'], 'stable');
SELECT volatility_is('participants', 'eligible_participants', ARRAY['uuid', 'uuid', 'integer', 'integer'], 'stable');
SELECT volatility_is('participants', 'events_since', ARRAY['uuid', 'bigint', 'integer'], 'stable');
SELECT volatility_is('participants', 'set_participant_status', ARRAY['uuid', 'uuid', 'text', 'text', 'boolean', 'text'], 'volatile');
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
                                  'status_transition', 'study_participant', 'event', 'event_id_seq')$$,
              ARRAY['study', 'study_segment', 'completion_code', 'completion_action',
                    'status_transition', 'study_participant', 'event', 'event_id_seq'],
              'studies, statuses and events are dumped');
SELECT ok(NOT has_function_privilege('public', 'participants.set_participant_status(uuid, uuid, text, text, boolean, text)', 'EXECUTE'),
          'PUBLIC cannot execute set_participant_status');
SELECT ok(NOT has_table_privilege('public', 'participants.event', 'SELECT'), 'PUBLIC cannot read events');

-- NOTIFY: a listener (l) and a writer (w) on their own connections
CREATE EXTENSION IF NOT EXISTS dblink;
CREATE TEMP TABLE got (n serial, payload text);
-- wait up to "seconds" until "want" notifications have arrived on l; how many did
CREATE FUNCTION pg_temp.wait_for(want int, seconds float8) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
	deadline timestamptz := clock_timestamp() + seconds * interval '1 second';
	have int;
BEGIN
	LOOP
		PERFORM * FROM dblink('l', 'SELECT 1') AS t(x int);
		INSERT INTO got (payload) SELECT extra FROM dblink_get_notify('l') WHERE notify_name = 'participants_events';
		SELECT count(*) INTO have FROM got;
		EXIT WHEN have >= want OR clock_timestamp() > deadline;
		PERFORM pg_sleep(0.05);
	END LOOP;
	RETURN have;
END $$;
-- run a statement on the writer connection
CREATE FUNCTION pg_temp.w(sql text) RETURNS void LANGUAGE sql AS $$
	SELECT NULL::void FROM dblink('w', sql) AS t(x text)
$$;
SELECT format('dbname=%s port=%s host=%s user=%s', current_database(), current_setting('port'),
	split_part(current_setting('unix_socket_directories'), ',', 1), current_user) AS conn \gset
SELECT dblink_connect('l', :'conn');
SELECT dblink_connect('w', :'conn');
SELECT dblink_exec('l', 'LISTEN participants_events');
SELECT id AS p FROM dblink('w', $$SELECT participants.create_project('pgtap notify')$$) AS t(id uuid) \gset
SELECT pg_temp.w(format($$SELECT participants.upsert_participant(%L, '{"participantIdentifier": "N1"}')$$, :'p'));
SELECT id AS s FROM dblink('w', format($$SELECT (participants.create_study(%L, 'notify study')->>'studyID')::uuid$$, :'p')) AS t(id uuid) \gset
SELECT pg_temp.w(format($$SELECT participants.add_study_participants(%L, %L, '["N1"]')$$, :'p', :'s'));
SELECT is(pg_temp.wait_for(1, 10), 1, 'adding a participant to a study notifies its first status');
SELECT is((SELECT e.payload->>'status' FROM got g JOIN participants.event e
	ON e.project_id = (g.payload::jsonb->>'projectID')::uuid AND e.id = (g.payload::jsonb->>'eventID')::bigint WHERE g.n = 1),
	'NOT_STARTED', 'the notification names the event of the first status, NOT_STARTED');

-- a status change: nothing before COMMIT, the event after it
SELECT dblink_exec('w', 'BEGIN');
SELECT pg_temp.w(format($$SELECT participants.set_participant_status(%L, %L, 'N1', 'INVITE_SENT')$$, :'p', :'s'));
SELECT is(pg_temp.wait_for(2, 1), 1, 'nothing is delivered before the transaction commits');
SELECT dblink_exec('w', 'COMMIT');
SELECT is(pg_temp.wait_for(2, 10), 2, 'the status change is delivered after COMMIT');
SELECT is((SELECT payload::jsonb FROM got WHERE n = 2),
	(SELECT jsonb_build_object('projectID', e.project_id, 'eventID', e.id)
	 FROM participants.event e WHERE e.project_id = :'p' AND e.payload->>'status' = 'INVITE_SENT'),
	'the notification is {projectID, eventID} of the stored event, and no more (anyone may LISTEN)');
SELECT is((SELECT (participants.events_since(:'p', (payload::jsonb->>'eventID')::bigint - 1, 1))->0->'payload'->>'priorStatus' FROM got WHERE n = 2),
	'NOT_STARTED', 'events_since from the notified id gives the event, with its prior status');

-- a rolled-back status change: no notification, no event
SELECT dblink_exec('w', 'BEGIN');
SELECT pg_temp.w(format($$SELECT participants.set_participant_status(%L, %L, 'N1', 'SURVEY_STARTED')$$, :'p', :'s'));
SELECT dblink_exec('w', 'ROLLBACK');
SELECT is(pg_temp.wait_for(3, 1.5), 2, 'a rolled-back status change is never delivered');
SELECT is((SELECT count(*)::int FROM participants.event WHERE project_id = :'p' AND payload->>'status' = 'SURVEY_STARTED'), 0,
	'and leaves no event');

-- opt-out: the person event and the cascaded status, in order
SELECT pg_temp.w(format($$SELECT participants.set_opted_out(%L, 'N1', true)$$, :'p'));
SELECT is(pg_temp.wait_for(4, 10), 4, 'an opt-out notifies twice');
SELECT is(ARRAY(SELECT coalesce(e.payload->>'status', e.payload->>'eventType') FROM got g JOIN participants.event e
	ON e.project_id = (g.payload::jsonb->>'projectID')::uuid AND e.id = (g.payload::jsonb->>'eventID')::bigint WHERE g.n > 2 ORDER BY g.n),
	ARRAY['person.opted_out', 'OPTED_OUT'], 'person.opted_out, then the status moved to OPTED_OUT');
SELECT ok((SELECT (payload::jsonb->>'eventID')::bigint FROM got WHERE n = 3) < (SELECT (payload::jsonb->>'eventID')::bigint FROM got WHERE n = 4),
	'notifications arrive in event order');

-- clean up what the writer committed
SELECT pg_temp.w(format($$SELECT participants.delete_participant(%L, 'N1')$$, :'p'));
SELECT dblink_exec('w', format('DELETE FROM participants.study WHERE project_id = %L', :'p'));
SELECT dblink_exec('w', format('DELETE FROM participants.project WHERE id = %L', :'p'));
SELECT dblink_disconnect('l');
SELECT dblink_disconnect('w');

SELECT * FROM finish();
ROLLBACK;
