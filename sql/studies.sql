-- studies: allowlist/blocklist eligibility, study participants and their
-- statuses, events, opt-out and withdrawal cascades, completion codes
SELECT participants.create_project('Study project') AS sp \gset
SELECT participants.create_project('Study other') AS so \gset
-- uuids and timestamps masked
CREATE FUNCTION smask(j jsonb) RETURNS text LANGUAGE sql AS $$
	SELECT regexp_replace(regexp_replace(j::text,
		'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<uuid>', 'g'),
		'"\d{4}-\d\d-\d\dT[0-9:.]+[+-]\d\d:\d\d"', '<ts>', 'g')
$$;
-- a participant's status in a study
CREATE FUNCTION sstatus(project uuid, study uuid, ident text) RETURNS text LANGUAGE plpgsql AS $$ BEGIN RETURN (
	SELECT sp.status FROM participants.study_participant sp
	JOIN participants.participant p ON p.project_id = sp.project_id AND p.id = sp.participant_id
	WHERE sp.project_id = project AND sp.study_id = study AND p.participant_identifier = ident);
END $$;
-- a participant's history in a study: "PRIOR>STATUS" steps
CREATE FUNCTION shistory(project uuid, study uuid, ident text) RETURNS text LANGUAGE plpgsql AS $$ BEGIN RETURN (
	SELECT string_agg(coalesce(h->>'priorStatus', '-') || '>' || (h->>'status'), ' ' ORDER BY o)
	FROM jsonb_array_elements(participants.status_history(project, study, ident)) WITH ORDINALITY x(h, o));
END $$;
SELECT r->'totalAdded' AS added FROM participants.upsert_participants(:'sp', $$[
 {"participantIdentifier": "T01", "demographics": {"firstName": "Ann", "city": "Austin"}},
 {"participantIdentifier": "T02", "demographics": {"firstName": "Bob", "city": "Boston"}},
 {"participantIdentifier": "T03", "demographics": {"firstName": "Cy", "city": "Austin"}},
 {"participantIdentifier": "T04", "demographics": {"firstName": "Di", "city": "Denver"}},
 {"participantIdentifier": "T05", "demographics": {"firstName": "Ed", "city": "Austin"}},
 {"participantIdentifier": "T06", "demographics": {"firstName": "Flo", "city": "Austin"}}
]$$) AS r;
SELECT participants.upsert_participant(:'so', '{"participantIdentifier": "X01"}')->>'actionTaken' AS other;

-- the default graph is copied into every new project
SELECT count(*) AS transitions,
       count(*) FILTER (WHERE to_status IN ('CANCELLED', 'OPTED_OUT')) AS to_cancel_or_opt_out,
       count(*) FILTER (WHERE from_status IN ('COMPLETED_STUDY', 'CANCELLED', 'OPTED_OUT')) AS from_final
FROM participants.status_transition WHERE project_id = :'sp';
SELECT count(*) = (SELECT count(*) FROM participants.default_status_transitions()) AS same_as_default
FROM participants.status_transition WHERE project_id = :'so';

-- segments for the lists and the completion codes
SELECT (participants.create_segment(:'sp', 'Austin', filter => '{"demographic_fields": {"City": "Austin"}}'))->>'segmentID' AS austin \gset
SELECT (participants.create_segment(:'sp', 'Panel'))->>'segmentID' AS panel \gset
SELECT (participants.create_segment(:'sp', 'Do not contact'))->>'segmentID' AS dnc \gset
SELECT (participants.create_segment(:'sp', 'Completed'))->>'segmentID' AS completed \gset
SELECT (participants.create_segment(:'sp', 'Needs follow-up'))->>'segmentID' AS followup \gset
SELECT (participants.create_segment(:'so', 'Other group'))->>'segmentID' AS othergroup \gset
SELECT participants.add_segment_members(:'sp', :'panel', '["T02", "T03"]');
SELECT participants.add_segment_members(:'sp', :'dnc', '["T05"]');
SELECT participants.add_segment_members(:'sp', :'followup', '["T01", "T03"]');

-- create_study: allowlist any-of (Austin or Panel), blocklist none-of (DNC)
SELECT participants.create_study(:'sp', 'Diet study', ARRAY[:'austin', :'panel']::uuid[], ARRAY[:'dnc']::uuid[],
	jsonb_build_array(
		jsonb_build_object('code', 'DONE', 'actions', jsonb_build_array(
			jsonb_build_object('action', 'ADD_TO_SEGMENT', 'segmentID', :'completed'),
			jsonb_build_object('action', 'REMOVE_FROM_SEGMENT', 'segmentID', :'followup'))),
		jsonb_build_object('code', 'NOOP', 'actions', '[]'::jsonb))) AS study \gset
SELECT (:'study'::jsonb)->>'studyID' AS st \gset
SELECT smask(:'study'::jsonb) AS study_object;
SELECT ((:'study'::jsonb)->'allowlist') = jsonb_build_array(:'austin', :'panel') AS allowlist_in_order,
       ((:'study'::jsonb)->'blocklist') = jsonb_build_array(:'dnc') AS blocklist;
SELECT participants.get_study(:'sp', :'st') = :'study'::jsonb AS get_study_same;
SELECT participants.create_study(:'sp', 'Open study') AS openstudy \gset
SELECT smask(:'openstudy'::jsonb) AS open_study;
SELECT (:'openstudy'::jsonb)->>'studyID' AS open \gset

-- eligibility, live: T01 T03 T06 (Austin), T02 (Panel); not T04 (neither), T05 (DNC)
SELECT string_agg(p->>'participantIdentifier', ' ' ORDER BY p->>'participantIdentifier') AS eligible,
       max((e->>'totalParticipants')::int) AS total
FROM participants.eligible_participants(:'sp', :'st') e, jsonb_array_elements(e->'participants') p
GROUP BY e;
SELECT (participants.eligible_participants(:'sp', :'st', 1, 2))->'totalParticipants' AS total_page_1,
       jsonb_array_length((participants.eligible_participants(:'sp', :'st', 1, 2))->'participants') AS on_page_1,
       jsonb_array_length((participants.eligible_participants(:'sp', :'st', 2, 2))->'participants') AS on_page_2;
-- T04 moves to Austin: eligible at once (dynamic allowlist segment)
SELECT participants.upsert_participant(:'sp', '{"participantIdentifier": "T04", "demographics": {"city": "Austin"}}')->>'actionTaken' AS moved;
SELECT (participants.eligible_participants(:'sp', :'st'))->'totalParticipants' AS eligible_now;
SELECT participants.upsert_participant(:'sp', '{"participantIdentifier": "T04", "demographics": {"city": "Denver"}}')->>'actionTaken' AS moved_back;
-- no lists: everyone not withdrawn or opted out
SELECT (participants.eligible_participants(:'sp', :'open'))->'totalParticipants' AS open_eligible;

-- add_study_participants: skips with reasons, in the order given
SELECT participants.add_study_participants(:'sp', :'st', '["T01", "T02", "T04", "T05", "T01"]');
SELECT participants.add_study_participants(:'sp', :'st', '["T01", "T03"]');
SELECT sstatus(:'sp', :'st', 'T01') AS t01, sstatus(:'sp', :'st', 'T03') AS t03;
-- by id
SELECT participants.add_study_participants(:'sp', :'open',
	jsonb_build_array((SELECT id FROM participants.participant WHERE project_id = :'sp' AND participant_identifier = 'T04')),
	query_by_id => true);
-- nothing is added when one participant is unknown
SELECT serr(format('SELECT participants.add_study_participants(%L, %L, %L)', :'sp', :'open', '["T05", "nobody"]'));
SELECT count(*) AS open_members FROM participants.study_participant WHERE project_id = :'sp' AND study_id = :'open';

-- every creation wrote an event with priorStatus null
SELECT count(*) AS creation_events FROM participants.event
WHERE project_id = :'sp' AND event_type = 'participant.status_changed' AND payload->>'priorStatus' IS NULL;

-- set_participant_status: returns the event payload
SELECT participants.set_participant_status(:'sp', :'st', 'T01', 'INVITE_SENT') AS ev \gset
SELECT smask(:'ev'::jsonb) AS payload;
SELECT (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(:'ev'::jsonb) k) AS payload_keys;
SELECT (:'ev'::jsonb)->>'participantId' = (SELECT id::text FROM participants.study_participant sp
	WHERE sp.project_id = :'sp' AND sp.study_id = :'st' AND sp.participant_id = ((:'ev'::jsonb)->>'personId')::uuid) AS participant_id_is_study_participant,
       (:'ev'::jsonb)->>'studyId' = :'st' AS study_id;
-- the event row holds the same payload, and the study participant its id
SELECT e.payload = :'ev'::jsonb AS stored_payload, sp.last_event_id = e.id AS last_event
FROM participants.event e JOIN participants.study_participant sp
  ON sp.project_id = e.project_id AND sp.id = e.study_participant_id
WHERE e.project_id = :'sp' AND e.id = (SELECT max(id) FROM participants.event WHERE project_id = :'sp');
-- along the survey path
SELECT participants.set_participant_status(:'sp', :'st', 'T01', 'SURVEY_STARTED')->>'priorStatus' AS prior;
-- errors: the graph, final statuses, unknown names
SELECT serr(format('SELECT participants.set_participant_status(%L, %L, %L, %L)', :'sp', :'st', 'T01', 'INCENTIVE_SENT'));
SELECT serr(format('SELECT participants.set_participant_status(%L, %L, %L, %L)', :'sp', :'st', 'T01', 'SURVEY_STARTED'));
SELECT serr(format('SELECT participants.set_participant_status(%L, %L, %L, %L)', :'sp', :'st', 'T01', 'survey_completed'));
SELECT serr(format('SELECT participants.set_participant_status(%L, %L, %L, %L)', :'sp', :'st', 'T04', 'INVITE_SENT'));
SELECT serr(format('SELECT participants.set_participant_status(%L, %L, %L, %L)', :'sp', :'st', 'nobody', 'INVITE_SENT'));
SELECT serr(format('SELECT participants.set_participant_status(%L, %L, %L, %L)', :'sp', gen_random_uuid(), 'T01', 'INVITE_SENT'));
SELECT serr(format('SELECT participants.set_participant_status(%L, %L, %L, %L)', :'so', :'st', 'X01', 'INVITE_SENT'));
SELECT serr(format('SELECT participants.set_participant_status(%L, %L, %L, %L, completion_code => %L)', :'sp', :'st', 'T01', 'SURVEY_COMPLETED', 'NOPE'));
SELECT serr(format('SELECT participants.set_participant_status(%L, %L, %L, NULL)', :'sp', :'st', 'T01'));
SELECT sstatus(:'sp', :'st', 'T01') AS t01_unchanged;

-- a completion code runs its actions in the same transaction
SELECT participants.set_participant_status(:'sp', :'st', 'T01', 'SURVEY_COMPLETED', completion_code => 'DONE')->>'status' AS status;
SELECT string_agg(s->>'segmentName', ', ' ORDER BY s->>'segmentName') AS t01_segments
FROM jsonb_array_elements(participants.participant_segments(:'sp', 'T01')) s;
SELECT completion_code FROM participants.study_participant sp
WHERE sp.project_id = :'sp' AND sp.study_id = :'st' AND sp.participant_id = (SELECT id FROM participants.participant WHERE project_id = :'sp' AND participant_identifier = 'T01');
-- and not when the status change fails
BEGIN;
SELECT serr(format('SELECT participants.set_participant_status(%L, %L, %L, %L, completion_code => %L)', :'sp', :'st', 'T03', 'SURVEY_COMPLETED', 'DONE'));
SELECT string_agg(s->>'segmentName', ', ' ORDER BY s->>'segmentName') AS t03_segments_unchanged
FROM jsonb_array_elements(participants.participant_segments(:'sp', 'T03')) s;
ROLLBACK;
-- a code without actions is recorded; the next status clears it
SELECT participants.set_participant_status(:'sp', :'st', 'T01', 'INCENTIVE_SENT', completion_code => 'NOOP')->>'status' AS status;
SELECT participants.set_participant_status(:'sp', :'st', 'T01', 'COMPLETED_STUDY')->>'status' AS status;
SELECT (participants.study_participants(:'sp', :'st', 'COMPLETED_STUDY'))->'participants'->0->'completionCode' AS code_cleared;
SELECT serr(format('SELECT participants.set_participant_status(%L, %L, %L, %L)', :'sp', :'st', 'T01', 'CANCELLED'));
SELECT shistory(:'sp', :'st', 'T01') AS t01_history;

-- raw writes are held to the same rules
-- (the people's ids are read first, so that each raw insert below names its
-- rows by constants: on a cluster Citus then sends it straight to the shard)
SELECT id AS t02 FROM participants.participant WHERE project_id = :'sp' AND participant_identifier = 'T02' \gset
SELECT id AS t05 FROM participants.participant WHERE project_id = :'sp' AND participant_identifier = 'T05' \gset
SELECT id AS t06 FROM participants.participant WHERE project_id = :'sp' AND participant_identifier = 'T06' \gset
SELECT serr(format($$UPDATE participants.study_participant SET status = 'COMPLETED_STUDY' WHERE project_id = %L AND study_id = %L AND status = 'NOT_STARTED'$$, :'sp', :'st'));
SELECT serr(format($$UPDATE participants.study_participant SET status = 'NOPE' WHERE project_id = %L AND study_id = %L$$, :'sp', :'st'));
SELECT serr(format($$UPDATE participants.study_participant SET completion_code = 'DONE' WHERE project_id = %L AND study_id = %L$$, :'sp', :'st'));
SELECT serr(format($$UPDATE participants.study_participant SET study_id = %L WHERE project_id = %L AND study_id = %L$$, :'open', :'sp', :'st'));
SELECT serr(format($$INSERT INTO participants.study_participant (project_id, id, study_id, participant_id, status)
	VALUES (%L, gen_random_uuid(), %L, %L, 'INVITE_SENT')$$, :'sp', :'st', :'t06'));
SELECT serr(format($$INSERT INTO participants.study_participant (project_id, id, study_id, participant_id, status)
	VALUES (%L, gen_random_uuid(), %L, %L, 'NOT_STARTED')$$, :'sp', :'st', :'t05'));
-- a raw move along the graph writes its event like the function
UPDATE participants.study_participant SET status = 'INVITE_SENT'
WHERE project_id = :'sp' AND study_id = :'st'
  AND participant_id = (SELECT id FROM participants.participant WHERE project_id = :'sp' AND participant_identifier = 'T03');
SELECT shistory(:'sp', :'st', 'T03') AS t03_history;
-- a raw insert of a new row starts at NOT_STARTED with its event
INSERT INTO participants.study_participant (project_id, id, study_id, participant_id, status)
VALUES (:'sp', gen_random_uuid(), :'st', :'t06', 'NOT_STARTED');
SELECT shistory(:'sp', :'st', 'T06') AS t06_history;
-- a raw row that arrives with a last_event_id is refused: only a restore loads rows with their history
-- error
INSERT INTO participants.study_participant (project_id, id, study_id, participant_id, status, last_event_id)
VALUES (:'sp', gen_random_uuid(), :'open', :'t06', 'SURVEY_COMPLETED', 0);
-- in a restore (row_security off, as pg_dump's output sets, in an unconfined session) it is loaded as it was, with no event
-- (here with SET LOCAL, which a cluster passes on to its workers: doc/scaling-out.md)
BEGIN;
SET LOCAL citus.propagate_set_commands = 'local';
SET LOCAL row_security = off;
INSERT INTO participants.study_participant (project_id, id, study_id, participant_id, status, last_event_id)
VALUES (:'sp', gen_random_uuid(), :'open', :'t06', 'SURVEY_COMPLETED', 0);
COMMIT;
SELECT shistory(:'sp', :'open', 'T06') AS restored_history;
-- ... and ON CONFLICT DO NOTHING writes no event for a row it skips
INSERT INTO participants.study_participant (project_id, id, study_id, participant_id, status)
VALUES (:'sp', gen_random_uuid(), :'st', :'t06', 'NOT_STARTED')
ON CONFLICT DO NOTHING;
SELECT shistory(:'sp', :'st', 'T06') AS t06_history_unchanged;
-- ... also when the row it skips has the id of the row that is there
SELECT count(*) AS events_before FROM participants.event WHERE project_id = :'sp' \gset
INSERT INTO participants.study_participant (project_id, id, study_id, participant_id, status)
SELECT sp.project_id, sp.id, sp.study_id, sp.participant_id, 'NOT_STARTED'
FROM participants.study_participant sp JOIN participants.participant p ON p.project_id = sp.project_id AND p.id = sp.participant_id
WHERE sp.project_id = :'sp' AND sp.study_id = :'st' AND p.participant_identifier = 'T06'
ON CONFLICT DO NOTHING;
SELECT count(*) - :events_before AS events_written FROM participants.event WHERE project_id = :'sp';
SELECT shistory(:'sp', :'st', 'T06') AS t06_history_unchanged;
-- a key left null is the NOT NULL constraint's error (the trigger writes no event for it first)
SELECT serr(format($$INSERT INTO participants.study_participant (project_id, study_id, participant_id, status)
	VALUES (%L, %L, %L, 'NOT_STARTED')$$, :'sp', :'open', :'t02'));
SELECT serr(format($$INSERT INTO participants.study_participant (id, study_id, participant_id, status)
	VALUES (gen_random_uuid(), %L, %L, 'NOT_STARTED')$$, :'open', :'t02'));
SELECT count(*) - :events_before AS events_written FROM participants.event WHERE project_id = :'sp';
-- events cannot be changed
SELECT serr(format($$UPDATE participants.event SET payload = '{}' WHERE project_id = %L$$, :'sp'));

-- opt-out: every non-final status to OPTED_OUT with its event, then a person.opted_out event
SELECT participants.set_participant_status(:'sp', :'open', 'T04', 'INVITE_SENT')->>'status' AS t04_open;
SELECT max(id) AS before_opt_out FROM participants.event \gset
SELECT participants.set_opted_out(:'sp', 'T03', true)->>'actionTaken' AS opted_out;
SELECT participants.set_opted_out(:'sp', 'T03', true)->>'actionTaken' AS again;
SELECT smask(payload) AS event FROM participants.event WHERE id > :before_opt_out ORDER BY id;
SELECT sstatus(:'sp', :'st', 'T03') AS t03;
SELECT participants.add_study_participants(:'sp', :'open', '["T03"]');
SELECT serr(format('SELECT participants.set_participant_status(%L, %L, %L, %L)', :'sp', :'st', 'T03', 'SCREENER_STARTED'));
-- opting back in allows new studies and revives nothing
SELECT participants.set_opted_out(:'sp', 'T03', false)->>'actionTaken' AS opted_in;
SELECT smask(payload) AS event FROM participants.event WHERE id = (SELECT max(id) FROM participants.event);
SELECT sstatus(:'sp', :'st', 'T03') AS t03_still;
SELECT participants.add_study_participants(:'sp', :'open', '["T03"]');
-- a raw opt-out cascades the same way
SELECT max(id) AS before_raw FROM participants.event \gset
UPDATE participants.participant SET opted_out = true WHERE project_id = :'sp' AND participant_identifier = 'T03';
SELECT string_agg(payload->>'eventType' || ':' || coalesce(payload->>'status', payload->>'optedOut'), ' ' ORDER BY id) AS raw_opt_out
FROM participants.event WHERE id > :before_raw;
UPDATE participants.participant SET opted_out = false WHERE project_id = :'sp' AND participant_identifier = 'T03';

-- withdrawal moves non-final statuses to CANCELLED and keeps the participant out
SELECT participants.withdraw_participant(:'sp', 'T02')->>'actionTaken' AS withdrawn;
SELECT sstatus(:'sp', :'st', 'T02') AS t02;
SELECT shistory(:'sp', :'st', 'T02') AS t02_history;
SELECT participants.add_study_participants(:'sp', :'open', '["T02"]');
SELECT (participants.eligible_participants(:'sp', :'open'))->'totalParticipants' AS open_eligible_now;

-- study_participants: pages, status filter
SELECT smask(participants.study_participants(:'sp', :'st', page_number => 1, page_size => 2)) AS page1;
SELECT (participants.study_participants(:'sp', :'st', 'CANCELLED'))->'totalParticipants' AS cancelled;
SELECT serr(format('SELECT participants.study_participants(%L, %L, %L)', :'sp', :'st', 'DONE'));
SELECT serr(format('SELECT participants.study_participants(%L, %L, page_size => 0)', :'sp', :'st'));
SELECT serr(format('SELECT participants.study_participants(%L, %L)', :'so', :'st'));

-- status_history errors
SELECT serr(format('SELECT participants.status_history(%L, %L, %L)', :'sp', :'st', 'T04'));
SELECT serr(format('SELECT participants.status_history(%L, %L, %L)', :'sp', :'st', 'nobody'));

-- update_study: rename, replace lists and codes; a null keeps
SELECT smask(participants.update_study(:'sp', :'st', name => 'Diet study 2', blocklist => '{}')) AS updated;
SELECT (participants.update_study(:'sp', :'st', allowlist => ARRAY[:'panel']::uuid[]))->'allowlist' = jsonb_build_array(:'panel') AS allowlist_replaced;
SELECT (participants.update_study(:'sp', :'st', allowlist => ARRAY[:'dnc']::uuid[], blocklist => ARRAY[:'panel']::uuid[]))->'blocklist' = jsonb_build_array(:'panel') AS swapped;
SELECT jsonb_array_length((participants.update_study(:'sp', :'st', completion_codes => '[]'))->'completionCodes') AS codes_cleared;
SELECT (participants.get_study(:'sp', :'st'))->>'studyName' AS name_kept;

-- study errors
SELECT serr(format('SELECT participants.create_study(%L, %L)', :'sp', '  '));
SELECT serr(format('SELECT participants.create_study(%L, NULL)', :'sp'));
SELECT serr(format('SELECT participants.create_study(%L, %L, ARRAY[%L]::uuid[])', :'sp', 'X', gen_random_uuid()));
SELECT serr(format('SELECT participants.create_study(%L, %L, ARRAY[%L]::uuid[])', :'sp', 'X', :'othergroup'));
SELECT serr(format('SELECT participants.create_study(%L, %L, ARRAY[%L, %L]::uuid[])', :'sp', 'X', :'panel', :'panel'));
SELECT serr(format('SELECT participants.create_study(%L, %L, ARRAY[%L]::uuid[], ARRAY[%L]::uuid[])', :'sp', 'X', :'panel', :'panel'));
SELECT serr(format('SELECT participants.create_study(%L, %L, ARRAY[NULL]::uuid[])', :'sp', 'X'));
SELECT serr(format('SELECT participants.create_study(%L, %L, completion_codes => %L)', :'sp', 'X', '{}'));
SELECT serr(format('SELECT participants.create_study(%L, %L, completion_codes => %L)', :'sp', 'X', '[{"actions": []}]'));
SELECT serr(format('SELECT participants.create_study(%L, %L, completion_codes => %L)', :'sp', 'X', '[{"code": "A"}, {"code": "A"}]'));
SELECT serr(format('SELECT participants.create_study(%L, %L, completion_codes => %L)', :'sp', 'X', '[{"code": "A", "color": 1}]'));
SELECT serr(format('SELECT participants.create_study(%L, %L, completion_codes => %L)', :'sp', 'X', '[{"code": ""}]'));
SELECT serr(format('SELECT participants.create_study(%L, %L, completion_codes => %L)', :'sp', 'X',
	jsonb_build_array(jsonb_build_object('code', 'A', 'actions', jsonb_build_array(jsonb_build_object('action', 'PAY', 'segmentID', :'panel'))))));
SELECT serr(format('SELECT participants.create_study(%L, %L, completion_codes => %L)', :'sp', 'X',
	jsonb_build_array(jsonb_build_object('code', 'A', 'actions', jsonb_build_array(jsonb_build_object('action', 'ADD_TO_SEGMENT', 'segmentID', 'nope'))))));
SELECT serr(format('SELECT participants.create_study(%L, %L, completion_codes => %L)', :'sp', 'X',
	jsonb_build_array(jsonb_build_object('code', 'A', 'actions', jsonb_build_array(jsonb_build_object('action', 'ADD_TO_SEGMENT'))))));
SELECT serr(format('SELECT participants.create_study(%L, %L, completion_codes => %L)', :'sp', 'X',
	jsonb_build_array(jsonb_build_object('code', 'A', 'actions', jsonb_build_array(jsonb_build_object('action', 'ADD_TO_SEGMENT', 'segmentID', :'austin'))))));
SELECT serr(format('SELECT participants.create_study(%L, %L, completion_codes => %L)', :'sp', 'X',
	jsonb_build_array(jsonb_build_object('code', 'A', 'actions', jsonb_build_array(
		jsonb_build_object('action', 'ADD_TO_SEGMENT', 'segmentID', :'panel'),
		jsonb_build_object('action', 'REMOVE_FROM_SEGMENT', 'segmentID', :'panel'))))));
SELECT serr(format('SELECT participants.create_study(%L, %L, completion_codes => %L)', :'sp', 'X',
	jsonb_build_array(jsonb_build_object('code', 'A', 'actions', jsonb_build_array(jsonb_build_object('action', 'ADD_TO_SEGMENT', 'segmentID', gen_random_uuid()))))));
SELECT serr(format('SELECT participants.create_study(%L, %L)', gen_random_uuid(), 'X'));
SELECT serr(format('SELECT participants.get_study(%L, %L)', :'sp', gen_random_uuid()));
SELECT serr(format('SELECT participants.get_study(%L, %L)', :'so', :'st'));
SELECT serr(format('SELECT participants.update_study(%L, %L, name => %L)', :'sp', gen_random_uuid(), 'X'));
SELECT serr(format('SELECT participants.add_study_participants(%L, %L, %L)', :'sp', gen_random_uuid(), '["T01"]'));
SELECT serr(format('SELECT participants.add_study_participants(%L, %L, %L)', :'sp', :'st', '{"T01": 1}'));
SELECT serr(format('SELECT participants.add_study_participants(%L, %L, %L)', :'sp', :'st', '[1]'));
SELECT serr(format('SELECT participants.set_opted_out(%L, %L, NULL)', :'sp', 'T01'));
SELECT serr(format('SELECT participants.set_opted_out(%L, %L, true)', :'sp', 'nobody'));
SELECT serr(format('SELECT participants.events_since(%L, -1)', :'sp'));
SELECT serr(format('SELECT participants.events_since(%L, 0, 0)', :'sp'));
SELECT serr(format('SELECT participants.events_since(%L, 0, 1001)', :'sp'));
SELECT serr(format('SELECT participants.events_since(%L)', gen_random_uuid()));
-- a segment a study uses cannot be deleted (function or raw)
SELECT serr(format('SELECT participants.delete_segment(%L, %L)', :'sp', :'panel'));
SELECT serr(format('DELETE FROM participants.segment WHERE project_id = %L AND id = %L', :'sp', :'panel'));
SELECT serr(format($$SELECT participants.create_study(%L, 'codes', completion_codes => %L)$$, :'sp',
	jsonb_build_array(jsonb_build_object('code', 'A', 'actions', jsonb_build_array(jsonb_build_object('action', 'ADD_TO_SEGMENT', 'segmentID', :'followup')))))) AS with_code;
SELECT serr(format('SELECT participants.delete_segment(%L, %L)', :'sp', :'followup'));

-- the transition table: a DBA's change takes effect; bad rows are refused
SELECT serr(format($$INSERT INTO participants.status_transition VALUES (%L, 'CANCELLED', 'INVITE_SENT')$$, :'sp'));
SELECT serr(format($$INSERT INTO participants.status_transition VALUES (%L, 'INVITE_SENT', 'INVITE_SENT')$$, :'sp'));
SELECT serr(format($$INSERT INTO participants.status_transition VALUES (%L, 'INVITE_SENT', 'SENT')$$, :'sp'));
SELECT serr(format($$INSERT INTO participants.status_transition VALUES (%L, 'invite_sent', 'NOT_STARTED')$$, :'sp'));
SELECT participants.upsert_participant(:'sp', '{"participantIdentifier": "T07"}')->>'actionTaken' AS t07;
SELECT participants.add_study_participants(:'sp', :'open', '["T07"]')->'added' AS t07_added;
SELECT serr(format('SELECT participants.set_participant_status(%L, %L, %L, %L)', :'sp', :'open', 'T07', 'SURVEY_STARTED'));
INSERT INTO participants.status_transition VALUES (:'sp', 'NOT_STARTED', 'SURVEY_STARTED');
SELECT participants.set_participant_status(:'sp', :'open', 'T07', 'SURVEY_STARTED')->>'status' AS new_edge_used;
DELETE FROM participants.status_transition WHERE project_id = :'sp' AND from_status = 'SURVEY_STARTED' AND to_status = 'SURVEY_COMPLETED';
SELECT serr(format('SELECT participants.set_participant_status(%L, %L, %L, %L)', :'sp', :'open', 'T07', 'SURVEY_COMPLETED'));
-- a change rolled back is forgotten
BEGIN;
DELETE FROM participants.status_transition WHERE project_id = :'sp' AND to_status = 'CANCELLED';
SELECT serr(format('SELECT participants.set_participant_status(%L, %L, %L, %L)', :'sp', :'open', 'T07', 'CANCELLED'));
ROLLBACK;
SELECT participants.set_participant_status(:'sp', :'open', 'T07', 'CANCELLED')->>'status' AS cancel_allowed_again;
-- the other project's graph is its own
SELECT count(*) AS other_graph FROM participants.status_transition WHERE project_id = :'so';

-- events_since: oldest first, paged by eventID, this project only
SELECT count(*) AS events FROM participants.event WHERE project_id = :'sp';
SELECT jsonb_array_length(participants.events_since(:'sp', 0, 1000)) AS all_events,
       (SELECT bool_and((e->>'eventID')::bigint > 0) FROM jsonb_array_elements(participants.events_since(:'sp', 0, 1000)) e) AS ids;
SELECT (participants.events_since(:'sp', 0, 3)) -> 2 -> 'eventID' = (participants.events_since(:'sp', 0, 1000)) -> 2 -> 'eventID' AS paged;
SELECT (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys((participants.events_since(:'sp', 0, 1))->0) k) AS event_keys;
SELECT jsonb_array_length(participants.events_since(:'sp', (SELECT max(id) FROM participants.event))) AS after_last;
SELECT jsonb_array_length(participants.events_since(:'so')) AS other_events;

-- views
SELECT study, status, participants FROM participants.study_funnel WHERE project_id = :'sp' ORDER BY study, status;
SELECT study, participants, finished, allowlist, blocklist, completion_codes
FROM participants.study_summary WHERE project_id = :'sp' ORDER BY study;

-- deleting a participant deletes its study statuses and events
SELECT participants.delete_participant(:'sp', 'T01')->>'actionTaken' AS deleted;
SELECT count(*) AS t01_rows FROM participants.study_participant sp
WHERE sp.project_id = :'sp' AND NOT EXISTS (SELECT 1 FROM participants.participant p WHERE p.project_id = sp.project_id AND p.id = sp.participant_id);
SELECT count(*) AS orphan_events FROM participants.event e
WHERE e.project_id = :'sp' AND NOT EXISTS (SELECT 1 FROM participants.participant p WHERE p.project_id = e.project_id AND p.id = e.person_id);

-- a new session whose first study work is adding participants, in two transactions:
-- each first event is pending until its row is in, in memory of the transaction
-- (the second add once read the first transaction's freed memory and crashed)
SELECT participants.upsert_participant(:'sp', '{"participantIdentifier": "N01"}') IS NOT NULL AS n01,
       participants.upsert_participant(:'sp', '{"participantIdentifier": "N02"}') IS NOT NULL AS n02;
\c
SELECT participants.add_study_participants(:'sp', :'open', '["N01"]')->>'added' AS added_first;
SELECT participants.add_study_participants(:'sp', :'open', '["N02"]')->>'added' AS added_second;
SELECT participants.add_study_participants(:'sp', :'open', '["N01", "N02"]')->'skipped' AS skipped;
