-- people by email: get_opted_out, opt_out_people, delete_people (each person
-- as set_opted_out or delete_participant would), set_segment_members (a static
-- segment's members made exactly a list, history kept)
INSERT INTO t SELECT 'ppl', participants.create_project('People by email');
SELECT participants.upsert_participants(pid('ppl'), '[
  {"participantIdentifier": "E-1", "demographics": {"email": "Ada@Example.com"}},
  {"participantIdentifier": "E-2", "demographics": {"email": "bo@example.com"}},
  {"participantIdentifier": "E-3", "demographics": {"email": "cy@example.com"}},
  {"participantIdentifier": "E-4"}
]') ->> 'totalAdded' AS added;
INSERT INTO t SELECT 'ppl_study', (participants.create_study(pid('ppl'), 'Study') ->> 'studyID')::uuid;
SELECT participants.add_study_participants(pid('ppl'), pid('ppl_study'), '["E-1", "E-2", "E-3"]') ->> 'added' AS in_study;

-- get_opted_out, by each kind of name
SELECT participants.get_opted_out(pid('ppl'), 'ada@EXAMPLE.com', 'email') - 'personId' - 'updatedAt' AS by_email,
       participants.get_opted_out(pid('ppl'), 'E-1') ->> 'optedOut' AS by_identifier,
       (participants.get_opted_out(pid('ppl'), 'E-1') ->> 'updatedAt')::timestamptz <= now() AS dated;
SELECT serr($$SELECT participants.get_opted_out(pid('ppl'), 'zed@example.com', 'email')$$) AS not_found,
       serr($$SELECT participants.get_opted_out(pid('ppl'), 'E-1', 'phone')$$) AS bad_by;

-- opt_out_people: by email (any case), unknown ones listed in order, repeats once
SELECT participants.opt_out_people(pid('ppl'), '["ADA@example.com", "nobody@example.com", "bo@example.com", "ada@example.com", "x@y.org"]') AS opted_out;
SELECT participants.get_opted_out(pid('ppl'), 'E-1') ->> 'optedOut' AS e1_out,
       (participants.get_opted_out(pid('ppl'), 'E-1') ->> 'updatedAt')::timestamptz > (SELECT inserted_date FROM participants.participant WHERE project_id = pid('ppl') AND participant_identifier = 'E-1') AS updated_at_moved;
-- as set_opted_out: open study statuses moved to OPTED_OUT, events written
SELECT participants.study_participants(pid('ppl'), pid('ppl_study'), status => 'OPTED_OUT') -> 'totalParticipants' AS opted_out_in_study;
SELECT count(*) AS opt_out_events FROM jsonb_array_elements(participants.events_since(pid('ppl'), 0, 1000)) e
WHERE e -> 'payload' ->> 'eventType' = 'person.opted_out';
-- again: unchanged; back in by identifier
SELECT participants.opt_out_people(pid('ppl'), '["ada@example.com"]') AS again;
SELECT participants.opt_out_people(pid('ppl'), '["E-1", "E-4"]', false, 'identifier') AS back_in;
SELECT serr($$SELECT participants.opt_out_people(pid('ppl'), '"ada@example.com"')$$) AS not_array,
       serr($$SELECT participants.opt_out_people(pid('ppl'), '["ada@example.com", 7]')$$) AS not_string,
       serr($$SELECT participants.opt_out_people(pid('ppl'), '["not-a-uuid"]', true, 'id')$$) AS bad_id,
       serr($$SELECT participants.opt_out_people(pid('ppl'), '[]', true, 'name')$$) AS bad_by;
SELECT participants.opt_out_people(pid('ppl'), '[]') AS empty;

-- set_segment_members: exactly the list, history kept
INSERT INTO t SELECT 'ppl_seg', (participants.create_segment(pid('ppl'), 'Panel') ->> 'segmentID')::uuid;
SELECT participants.add_segment_members(pid('ppl'), pid('ppl_seg'), '["E-1", "E-2"]') AS first_members;
SELECT participants.set_segment_members(pid('ppl'), pid('ppl_seg'), '["E-2", "E-3", "E-4", "E-3"]') AS replaced;
SELECT array_agg(p.participant_identifier ORDER BY p.participant_identifier) AS members
FROM participants.segment_membership m JOIN participants.participant p ON p.project_id = m.project_id AND p.id = m.participant_id
WHERE m.project_id = pid('ppl') AND m.segment_id = pid('ppl_seg') AND m.remove_date IS NULL;
SELECT count(*) FILTER (WHERE (h ->> 'removeDate') IS NOT NULL) AS ended_episodes, count(*) AS episodes
FROM jsonb_array_elements(participants.segment_history(pid('ppl'), pid('ppl_seg'))) h;
SELECT participants.set_segment_members(pid('ppl'), pid('ppl_seg'), '["bo@example.com", "cy@example.com", "ADA@example.com"]', 'email') AS by_email;
SELECT serr($$SELECT participants.set_segment_members(pid('ppl'), pid('ppl_seg'), '["E-2", "E-404"]')$$) AS unknown_member;
SELECT count(*) AS members_unchanged FROM participants.segment_membership
WHERE project_id = pid('ppl') AND segment_id = pid('ppl_seg') AND remove_date IS NULL;
INSERT INTO t SELECT 'ppl_dyn', (participants.create_segment(pid('ppl'), 'Dynamic', filter => '{"enrolled": false}') ->> 'segmentID')::uuid;
SELECT serr($$SELECT participants.set_segment_members(pid('ppl'), pid('ppl_dyn'), '["E-1"]')$$) AS dynamic_segment;
SELECT serr($$SELECT participants.set_segment_members(pid('ppl'), gen_random_uuid(), '["E-1"]')$$) AS no_segment;
SELECT participants.set_segment_members(pid('ppl'), pid('ppl_seg'), '[]') AS emptied;

-- delete_people: one transaction; unknown ones listed; each as delete_participant
SELECT participants.delete_people(pid('ppl'), '["cy@example.com", "gone@example.com", "CY@example.com"]') AS deleted;
SELECT count(*) AS left_participants FROM participants.participant WHERE project_id = pid('ppl');
SELECT count(*) AS events_of_deleted FROM participants.event e
WHERE e.project_id = pid('ppl') AND NOT EXISTS (SELECT 1 FROM participants.participant p WHERE p.project_id = e.project_id AND p.id = e.person_id);
SELECT participants.delete_people(pid('ppl'), '["E-4"]', 'identifier') AS by_identifier;
-- an error in the list: nothing deleted
SELECT serr($$SELECT participants.delete_people(pid('ppl'), '["bo@example.com", null]')$$) AS null_element;
SELECT count(*) AS still_there FROM participants.participant WHERE project_id = pid('ppl');
