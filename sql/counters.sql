-- counters: generated participantIdentifiers and event ids are numbered per
-- project (participants.project_counter), so nothing a project sees counts
-- another project's activity; no shared sequence is left
INSERT INTO t SELECT 'cnt_a', participants.create_project('Counters A', '{"participantIdentifierPrefix": "A-"}');
INSERT INTO t SELECT 'cnt_b', participants.create_project('Counters B', '{"participantIdentifierPrefix": "B-"}');
SELECT sequencename FROM pg_sequences WHERE schemaname = 'participants' ORDER BY 1;

-- A adds one, B adds three, A adds another: A's numbers are consecutive
SELECT participants.upsert_participant(pid('cnt_a'), '{"demographics": {"email": "a1@example.com"}}') -> 'result' ->> 'participantIdentifier' AS a_first;
SELECT jsonb_path_query_array(participants.upsert_participants(pid('cnt_b'),
	'[{"demographics": {"email": "b1@example.com"}}, {"demographics": {"email": "b2@example.com"}}, {"demographics": {"email": "b3@example.com"}}]'),
	'$.results[*].result.participantIdentifier') AS b_three;
SELECT participants.upsert_participant(pid('cnt_a'), '{"demographics": {"email": "a2@example.com"}}') -> 'result' ->> 'participantIdentifier' AS a_second;

-- events: A's ids are 1, 2, 3, ... while B's changes interleave
SELECT participants.create_study(pid('cnt_a'), 'A study') ->> 'studyID' AS sa \gset
SELECT participants.create_study(pid('cnt_b'), 'B study') ->> 'studyID' AS sb \gset
SELECT participants.add_study_participants(pid('cnt_a'), :'sa', '["A-00000001"]') ->> 'added' AS a_added;
SELECT participants.add_study_participants(pid('cnt_b'), :'sb', '["B-00000001", "B-00000002", "B-00000003"]') ->> 'added' AS b_added;
SELECT participants.set_participant_status(pid('cnt_a'), :'sa', 'A-00000001', 'INVITE_SENT') ->> 'status' AS a_status;
SELECT participants.set_participant_status(pid('cnt_b'), :'sb', 'B-00000001', 'INVITE_SENT') ->> 'status' AS b_status;
SELECT participants.set_opted_out(pid('cnt_a'), 'A-00000001', true) ->> 'actionTaken' AS a_opted_out;
SELECT array_agg((e ->> 'eventID')::int ORDER BY (e ->> 'eventID')::int) AS a_event_ids
FROM jsonb_array_elements(participants.events_since(pid('cnt_a'))) e;
SELECT array_agg((e ->> 'eventID')::int ORDER BY (e ->> 'eventID')::int) AS b_event_ids
FROM jsonb_array_elements(participants.events_since(pid('cnt_b'))) e;

-- membership episodes: each project numbers its own (a backend draws them 64
-- at a time and hands them out in order)
SELECT participants.create_segment(pid('cnt_a'), 'A group') ->> 'segmentID' AS ga \gset
SELECT participants.create_segment(pid('cnt_b'), 'B group') ->> 'segmentID' AS gb \gset
SELECT participants.add_segment_members(pid('cnt_a'), :'ga', '["A-00000001"]') ->> 'added' AS a_member;
SELECT participants.add_segment_members(pid('cnt_b'), :'gb', '["B-00000001", "B-00000002", "B-00000003"]') ->> 'added' AS b_members;
SELECT participants.add_segment_members(pid('cnt_a'), :'ga', '["A-00000002"]') ->> 'added' AS a_member;
SELECT array_agg(id ORDER BY id) AS a_episode_ids FROM participants.segment_membership WHERE project_id = pid('cnt_a');
SELECT array_agg(id ORDER BY id) AS b_episode_ids FROM participants.segment_membership WHERE project_id = pid('cnt_b');
-- a raw insert gets its id from the counter too, whatever it names
SELECT participants.remove_segment_members(pid('cnt_a'), :'ga', '["A-00000002"]') ->> 'removed' AS a_removed;
INSERT INTO participants.segment_membership (project_id, id, segment_id, participant_id)
SELECT pid('cnt_a'), 999, :'ga', id FROM participants.participant WHERE project_id = pid('cnt_a') AND participant_identifier = 'A-00000002';
-- (drawn by the backend that runs the insert: on a cluster that may be another
-- connection to the worker, with a block of its own, so only the order is shown)
SELECT count(*) AS a_episodes, bool_and(id <> 999) AS none_named_999,
       max(id) FILTER (WHERE remove_date IS NULL) > max(id) FILTER (WHERE remove_date IS NOT NULL) AS drawn_after
FROM participants.segment_membership WHERE project_id = pid('cnt_a');

-- numbers drawn by a transaction that rolls back are skipped, as nextval's
-- would be, and only in that project
BEGIN;
SELECT participants.upsert_participant(pid('cnt_a'), '{"demographics": {"email": "a3@example.com"}}') -> 'result' ->> 'participantIdentifier' AS a_rolled_back;
ROLLBACK;
SELECT participants.upsert_participant(pid('cnt_a'), '{"demographics": {"email": "a3@example.com"}}') -> 'result' ->> 'participantIdentifier' AS a_after_rollback;
SELECT participants.upsert_participant(pid('cnt_b'), '{"demographics": {"email": "b4@example.com"}}') -> 'result' ->> 'participantIdentifier' AS b_fourth;

-- the counters are drawn in place: no statement may update them (not even a
-- superuser's), a row only goes with its project
SELECT err(format('UPDATE participants.project_counter SET last_event_id = 0 WHERE project_id = %L', pid('cnt_a'))) AS update_counter;
SELECT err(format('UPDATE participants.project_counter SET event_channel = %L WHERE project_id = %L', 'x', pid('cnt_a'))) AS update_channel;
SELECT last_participant_number, last_event_id FROM participants.project_counter WHERE project_id = pid('cnt_a');

-- a project inserted by a raw INSERT gets its counters and channel too
INSERT INTO participants.project (id, name) VALUES ('00000000-0000-4000-8000-00000000c0de', 'Raw project');
SELECT last_participant_number, last_event_id, event_channel ~ '^participants_events_[0-9a-f]{32}$' AS channel
FROM participants.project_counter WHERE project_id = '00000000-0000-4000-8000-00000000c0de';
DELETE FROM participants.project WHERE id = '00000000-0000-4000-8000-00000000c0de';
SELECT count(*) AS counters_gone FROM participants.project_counter WHERE project_id = '00000000-0000-4000-8000-00000000c0de';

-- a project without a counter row (restored from an earlier release's dump)
-- gets one when it first draws, past the participants and events it holds
DELETE FROM participants.project_counter WHERE project_id = pid('cnt_b');
SELECT participants.upsert_participant(pid('cnt_b'), '{"demographics": {"email": "b5@example.com"}}') -> 'result' ->> 'participantIdentifier' AS b_after_restore;
SELECT participants.set_participant_status(pid('cnt_b'), :'sb', 'B-00000002', 'INVITE_SENT') ->> 'status' AS b_status;
SELECT max((e ->> 'eventID')::int) AS b_last_event FROM jsonb_array_elements(participants.events_since(pid('cnt_b'))) e;
