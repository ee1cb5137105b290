-- pgTAP: segments' surface (functions, volatility, keys, triggers, dump
-- registration, privileges) and one dynamic membership followed end to end
BEGIN;
SELECT plan(33);

SELECT has_table('participants', 'segment', 'segment table');
SELECT has_table('participants', 'segment_membership', 'membership episodes table');
SELECT has_view('participants', 'segment_summary', 'segment summary view');

SELECT has_function('participants', 'create_segment', ARRAY['uuid', 'text', 'text', 'jsonb']);
SELECT has_function('participants', 'update_segment', ARRAY['uuid', 'uuid', 'text', 'text', 'jsonb']);
SELECT has_function('participants', 'delete_segment', ARRAY['uuid', 'uuid']);
SELECT has_function('participants', 'get_segment', ARRAY['uuid', 'uuid']);
SELECT has_function('participants', 'list_segments', ARRAY['uuid', 'integer', 'integer']);
SELECT has_function('participants', 'add_segment_members', ARRAY['uuid', 'uuid', 'jsonb', 'boolean']);
SELECT has_function('participants', 'remove_segment_members', ARRAY['uuid', 'uuid', 'jsonb', 'boolean']);
SELECT has_function('participants', 'segment_history', ARRAY['uuid', 'uuid', 'text', 'boolean']);
SELECT has_function('participants', 'participant_segments', ARRAY['uuid', 'text', 'boolean']);

SELECT volatility_is('participants', 'get_segment', ARRAY['uuid', 'uuid'], 'stable');
SELECT volatility_is('participants', 'list_segments', ARRAY['uuid', 'integer', 'integer'], 'stable');
SELECT volatility_is('participants', 'segment_history', ARRAY['uuid', 'uuid', 'text', 'boolean'], 'stable');
SELECT volatility_is('participants', 'participant_segments', ARRAY['uuid', 'text', 'boolean'], 'stable');
SELECT volatility_is('participants', 'add_segment_members', ARRAY['uuid', 'uuid', 'jsonb', 'boolean'], 'volatile');
SELECT volatility_is('participants', 'update_segment', ARRAY['uuid', 'uuid', 'text', 'text', 'jsonb'], 'volatile');

SELECT col_is_pk('participants', 'segment', ARRAY['project_id', 'id'], 'segment key starts with project_id');
SELECT col_is_pk('participants', 'segment_membership', ARRAY['project_id', 'id'], 'membership key starts with project_id');
SELECT fk_ok('participants', 'segment_membership', ARRAY['project_id', 'participant_id'],
             'participants', 'participant', ARRAY['project_id', 'id'], 'episodes refer to their participant');
SELECT fk_ok('participants', 'segment_membership', ARRAY['project_id', 'segment_id'],
             'participants', 'segment', ARRAY['project_id', 'id'], 'episodes refer to their segment');
SELECT trigger_is('participants', 'participant', 'participant_segments_sync', 'participants', 'participant_segments_sync',
                  'dynamic segments follow participant writes');
SELECT trigger_is('participants', 'segment', 'segment_sync', 'participants', 'segment_sync', 'refiltered segments are rebuilt');
SELECT set_eq($$SELECT c.relname::text FROM pg_extension e, unnest(e.extconfig) AS t(oid)
                JOIN pg_class c ON c.oid = t.oid WHERE e.extname = 'participants'
                AND c.relname IN ('segment', 'segment_membership')$$,
              ARRAY['segment', 'segment_membership'],
              'segments and their history are dumped');
SELECT ok(NOT has_function_privilege('public', 'participants.add_segment_members(uuid, uuid, jsonb, boolean)', 'EXECUTE'),
          'PUBLIC cannot execute add_segment_members');

-- a dynamic segment follows a participant in and out, with its episodes
SELECT participants.create_project('pgtap segments') AS p \gset
SELECT participants.create_segment(:'p', 'Boston', NULL, '{"demographic_fields": {"City": "Boston"}}')->>'segmentID' AS s \gset
SELECT is(participants.upsert_participant(:'p', '{"participantIdentifier": "T1", "demographics": {"city": "Boston"}}')->>'actionTaken', 'add', 'add T1 in Boston');
SELECT is((participants.get_segment(:'p', :'s')->>'participantCount')::int, 1, 'an added participant joins');
SELECT is(participants.upsert_participant(:'p', '{"participantIdentifier": "T1", "demographics": {"city": "Austin"}}')->>'actionTaken', 'update', 'move T1 to Austin');
SELECT is((participants.get_segment(:'p', :'s')->>'participantCount')::int, 0, 'a changed participant leaves');
SELECT is(jsonb_array_length(participants.segment_history(:'p', :'s', 'T1')), 1, 'the episode is kept');
SELECT throws_ok(format('SELECT participants.add_segment_members(%L, %L, %L)', :'p', :'s', '["T1"]'),
                 'PT409', NULL, 'a dynamic segment cannot be changed by hand');
SELECT throws_ok(format('SELECT participants.create_segment(%L, %L)', :'p', 'boston'),
                 '23505', NULL, 'segment names are unique in any case');

SELECT * FROM finish();
ROLLBACK;
