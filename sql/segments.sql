-- segments: static groups, dynamic segments kept by triggers, membership
-- history, segment-filtered search
SELECT participants.create_project('Segment study') AS s \gset
SELECT participants.create_project('Segment other') AS o \gset
-- a segment object without its generated id and date
CREATE FUNCTION seg(j jsonb) RETURNS jsonb LANGUAGE sql AS $$
	SELECT j - 'segmentID' - 'createdDate' || jsonb_build_object(
		'has_id', j ? 'segmentID', 'has_date', (j->>'createdDate')::timestamptz IS NOT NULL)
$$;
-- current members of a segment, by identifier
CREATE FUNCTION members(project uuid, segment uuid) RETURNS text LANGUAGE plpgsql AS $$ BEGIN RETURN (
	SELECT coalesce(string_agg(p.participant_identifier, ' ' ORDER BY p.participant_identifier), '')
	FROM participants.segment_membership m
	JOIN participants.participant p ON p.project_id = m.project_id AND p.id = m.participant_id
	WHERE m.project_id = project AND m.segment_id = segment AND m.remove_date IS NULL);
END $$;
-- episodes of a segment: identifier and whether it ended, in order (those
-- that began together, in one rebuild, by identifier)
-- (the history is read first: on a cluster a call inside the join would be
-- pushed into the shard's query)
CREATE FUNCTION episodes(project uuid, segment uuid, participant text DEFAULT NULL) RETURNS text LANGUAGE plpgsql AS $$
DECLARE h jsonb := participants.segment_history(project, segment, participant);
BEGIN RETURN (
	SELECT coalesce(string_agg(p.participant_identifier || CASE WHEN e->>'removeDate' IS NULL THEN '+' ELSE '-' END, ' '
		ORDER BY (e->>'addDate')::timestamptz, p.participant_identifier), '')
	FROM jsonb_array_elements(h) WITH ORDINALITY AS x(e, o)
	JOIN participants.participant p ON p.project_id = project AND p.id = (e->>'participantID')::uuid);
END $$;
SELECT r->'totalAdded' AS added FROM participants.upsert_participants(:'s', $$[
 {"participantIdentifier": "S01", "demographics": {"firstName": "Ann", "lastName": "Smith", "city": "Austin", "email": "ann@example.com"}, "customFields": {"Smoker": 1, "Site": "North"}},
 {"participantIdentifier": "S02", "demographics": {"firstName": "Bob", "lastName": "Smith", "city": "Boston"}, "customFields": {"Smoker": "0", "Site": "South"}},
 {"participantIdentifier": "S03", "demographics": {"firstName": "Cy", "lastName": "Jones", "city": "Austin"}, "customFields": {"Smoker": true, "Site": "North"}},
 {"participantIdentifier": "S04", "invitationStatus": "approved", "demographics": {"firstName": "Di", "lastName": "Ng"}, "customFields": {"Site": "Northwest"}},
 {"participantIdentifier": "S05", "invitationStatus": "pending", "demographics": {"firstName": "Ed", "lastName": "Olsen", "city": "austin"}}
]$$) AS r;
SELECT participants.upsert_participant(:'o', '{"participantIdentifier": "X01", "demographics": {"email": "x@example.com"}}')->>'actionTaken' AS other_project;

-- static segments (participant groups)
SELECT seg(participants.create_segment(:'s', 'Call list', 'Phone these first')) AS created;
SELECT participants.create_segment(:'s', 'Call list 2')->>'segmentID' AS g2 \gset
SELECT (participants.list_segments(:'s')->'segments'->0->>'segmentID') AS g \gset
SELECT serr(format('SELECT participants.create_segment(%L, %L)', :'s', 'CALL LIST')) AS duplicate_name_any_case;
SELECT participants.create_segment(:'o', 'Call list')->>'segmentName' AS same_name_other_project;
SELECT serr(format('SELECT participants.create_segment(%L, %L)', :'s', '   ')) AS blank_name;
SELECT serr(format('SELECT participants.create_segment(%L, %L)', :'s', E'a\tb')) AS control_in_name;
SELECT serr(format('SELECT participants.create_segment(%L, %L)', :'s', repeat('x', 201))) AS long_name;
SELECT serr(format('SELECT participants.create_segment(%L, NULL)', :'s')) AS null_name;
SELECT serr('SELECT participants.create_segment(''00000000-0000-0000-0000-000000000000'', ''x'')') AS unknown_project;

SELECT participants.add_segment_members(:'s', :'g', '["S01", "S02", "S02"]') AS add_with_duplicate;
SELECT participants.add_segment_members(:'s', :'g', '["S02", "S03"]') AS add_again;
SELECT participants.add_segment_members(:'s', :'g', '[]') AS add_nothing;
SELECT serr(format('SELECT participants.add_segment_members(%L, %L, %L)', :'s', :'g', '["S04", "NOPE"]')) AS unknown_participant;
SELECT serr(format('SELECT participants.add_segment_members(%L, %L, %L)', :'s', :'g', '["X01"]')) AS other_projects_participant;
SELECT members(:'s', :'g') AS nothing_added_by_failed_calls;
SELECT serr(format('SELECT participants.add_segment_members(%L, %L, %L)', :'s', :'g', '{"S04": 1}')) AS not_an_array;
SELECT serr(format('SELECT participants.add_segment_members(%L, %L, %L)', :'s', :'g', '["S04", 5]')) AS not_a_string;
SELECT serr(format('SELECT participants.add_segment_members(%L, %L, %L, true)', :'s', :'g', '["not-a-uuid"]')) AS bad_id;
SELECT serr(format('SELECT participants.add_segment_members(%L, %L, NULL)', :'s', :'g')) AS null_list;
SELECT serr(format('SELECT participants.add_segment_members(%L, %L, %L)', :'s', '00000000-0000-0000-0000-000000000000', '["S01"]')) AS unknown_segment;
SELECT serr(format('SELECT participants.add_segment_members(%L, %L, %L)', :'o', :'g', '["X01"]')) AS segment_of_other_project;
SELECT participants.add_segment_members(:'s', :'g', jsonb_build_array((SELECT id FROM participants.participant
	WHERE project_id = :'s' AND participant_identifier = 'S05')), true) AS add_by_id;
SELECT members(:'s', :'g') AS members_now;

SELECT participants.remove_segment_members(:'s', :'g', '["S02", "S04", "S02"]') AS remove_with_non_member;
SELECT participants.remove_segment_members(:'s', :'g', '["S02"]') AS remove_again;
SELECT serr(format('SELECT participants.remove_segment_members(%L, %L, %L)', :'s', :'g', '["S01", "NOPE"]')) AS remove_unknown;
SELECT participants.add_segment_members(:'s', :'g', '["S02"]') AS add_back;
SELECT members(:'s', :'g') AS members_after;
SELECT episodes(:'s', :'g') AS history;
SELECT episodes(:'s', :'g', 'S02') AS history_of_s02;
SELECT (h->0->>'addDate')::timestamptz <= (h->0->>'removeDate')::timestamptz AS episode_dates_ordered,
       h->1->'removeDate' = 'null' AS second_episode_current,
       (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(h->0) k) AS episode_keys
FROM (SELECT participants.segment_history(:'s', :'g', 'S02') AS h) x; -- (a sub-select beside a call in FROM fails on Citus 13: doc/scaling-out.md)
SELECT serr(format('SELECT participants.segment_history(%L, %L, %L)', :'s', :'g', 'NOPE')) AS history_unknown_participant;
SELECT serr(format('SELECT participants.segment_history(%L, %L)', :'s', '00000000-0000-0000-0000-000000000000')) AS history_unknown_segment;

SELECT jsonb_agg(e->>'segmentName' ORDER BY o) AS segments_of_s02,
       bool_and((e->>'addDate')::timestamptz IS NOT NULL) AS with_dates,
       (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(participants.participant_segments(:'s', 'S02')->0) k) AS keys
FROM jsonb_array_elements(participants.participant_segments(:'s', 'S02')) WITH ORDINALITY x(e, o);
SELECT participants.participant_segments(:'s', 'S04') AS segments_of_non_member;
SELECT serr(format('SELECT participants.participant_segments(%L, %L)', :'s', 'NOPE')) AS segments_unknown_participant;

SELECT seg(participants.get_segment(:'s', :'g')) AS got;
SELECT serr(format('SELECT participants.get_segment(%L, %L)', :'o', :'g')) AS get_from_other_project;
SELECT seg(participants.update_segment(:'s', :'g', name => 'Callers', description => 'Updated')) AS renamed;
SELECT seg(participants.update_segment(:'s', :'g', description => '')) AS description_cleared;
SELECT serr(format('SELECT participants.update_segment(%L, %L, name => %L)', :'s', :'g', 'call list 2')) AS rename_to_taken;
SELECT participants.update_segment(:'s', :'g', name => 'CALLERS')->>'segmentName' AS rename_own_case;
SELECT serr(format('SELECT participants.update_segment(%L, %L, filter => %L)', :'s', :'g', '{"enrolled": true}')) AS filter_on_static;
SELECT serr(format('SELECT participants.update_segment(%L, %L, name => %L)', :'s', '00000000-0000-0000-0000-000000000000', 'x')) AS update_unknown;

SELECT p->'pageNumber' AS page, p->'pageSize' AS size, p->'totalSegments' AS total,
       (SELECT jsonb_agg(e->>'segmentName') FROM jsonb_array_elements(p->'segments') e) AS names
FROM (SELECT participants.list_segments(:'s', 0, 1) AS p) x;
SELECT (SELECT jsonb_agg(e->>'segmentName') FROM jsonb_array_elements(p->'segments') e) AS page_1
FROM (SELECT participants.list_segments(:'s', 1, 1) AS p) x;
SELECT serr(format('SELECT participants.list_segments(%L, 0, 0)', :'s')) AS bad_page_size;
SELECT serr(format('SELECT participants.list_segments(%L, -1)', :'s')) AS bad_page_number;

-- dynamic segments: filters are checked
SELECT serr(format('SELECT participants.create_segment(%L, %L, NULL, %L)', :'s', 'bad', '{"city": "Austin"}')) AS unknown_filter_key;
SELECT serr(format('SELECT participants.create_segment(%L, %L, NULL, %L)', :'s', 'bad', '[1]')) AS filter_not_object;
SELECT serr(format('SELECT participants.create_segment(%L, %L, NULL, %L)', :'s', 'bad', '{"enrolled": "yes"}')) AS enrolled_not_boolean;
SELECT serr(format('SELECT participants.create_segment(%L, %L, NULL, %L)', :'s', 'bad', '{"invitation_status": "maybe"}')) AS bad_invitation_status;
SELECT serr(format('SELECT participants.create_segment(%L, %L, NULL, %L)', :'s', 'bad', '{"demographic_fields": {"Shoe": "9"}}')) AS bad_demographic;
SELECT serr(format('SELECT participants.create_segment(%L, %L, NULL, %L)', :'s', 'bad', '{"demographic_fields": {"DOB": "1990-02-30"}}')) AS bad_dob;
SELECT serr(format('SELECT participants.create_segment(%L, %L, NULL, %L)', :'s', 'bad', '{"custom_fields": {"Site": [1]}}')) AS custom_field_array;
SELECT serr(format('SELECT participants.create_segment(%L, %L, NULL, %L)', :'s', 'bad', '{"custom_fields": 3}')) AS custom_fields_not_object;
SELECT serr(format('SELECT participants.create_segment(%L, %L, NULL, %L)', :'s', 'bad', E'{"query": "a\\u0001"}')) AS control_in_query;
SELECT count(*) AS no_bad_segment_created FROM participants.segment WHERE name = 'bad';

-- a dynamic segment is built from the data at once
SELECT participants.create_segment(:'s', 'Austin smokers', NULL,
	'{"demographic_fields": {"City": "AUSTIN"}, "custom_fields": {"Smoker": "true"}}')->>'segmentID' AS d \gset
SELECT members(:'s', :'d') AS austin_smokers;
SELECT seg(participants.get_segment(:'s', :'d')) AS dynamic_object;
SELECT serr(format('SELECT participants.add_segment_members(%L, %L, %L)', :'s', :'d', '["S05"]')) AS manual_add_dynamic;
SELECT serr(format('SELECT participants.remove_segment_members(%L, %L, %L)', :'s', :'d', '["S03"]')) AS manual_remove_dynamic;

-- a participant followed through add -> update in -> update out -> withdraw
SELECT participants.create_segment(:'s', 'Active north', NULL,
	'{"custom_fields": {"Site": "North"}, "withdrawn": false}')->>'segmentID' AS n \gset
SELECT members(:'s', :'n') AS north_at_start;
SELECT participants.upsert_participant(:'s', '{"participantIdentifier": "S06", "demographics": {"email": "f@example.com"}, "customFields": {"Site": "North"}}')->>'actionTaken' AS add_s06;
SELECT members(:'s', :'n') AS after_add;
SELECT participants.upsert_participant(:'s', '{"participantIdentifier": "S06", "customFields": {"Site": "East"}}')->>'actionTaken' AS s06_moves_out;
SELECT participants.upsert_participant(:'s', '{"participantIdentifier": "S06", "customFields": {"Site": "North"}}')->>'actionTaken' AS s06_moves_in;
SELECT participants.upsert_participant(:'s', '{"participantIdentifier": "S06", "demographics": {"firstName": "Fay"}}')->>'actionTaken' AS s06_other_change;
SELECT episodes(:'s', :'n', 'S06') AS s06_episodes_before_withdraw;
SELECT participants.withdraw_participant(:'s', 'S06')->>'actionTaken' AS withdraw_s06;
SELECT members(:'s', :'n') AS after_withdraw;
SELECT episodes(:'s', :'n', 'S06') AS s06_episodes;
SELECT jsonb_agg(e->>'segmentName') AS s06_current_segments FROM jsonb_array_elements(participants.participant_segments(:'s', 'S06')) e;
-- bulk adds and updates take the same path
SELECT r->'totalAdded' AS added, r->'totalUpdated' AS updated FROM participants.upsert_participants(:'s', $$[
 {"participantIdentifier": "S07", "customFields": {"Site": "North"}, "demographics": {"email": "g@example.com"}},
 {"participantIdentifier": "S03", "customFields": {"Site": "South"}}
]$$) r;
SELECT members(:'s', :'n') AS after_bulk;

-- a raw UPDATE moves a participant in and out
UPDATE participants.participant SET custom_fields = custom_fields || '{"Site": "North"}'
WHERE project_id = :'s' AND participant_identifier = 'S05';
SELECT members(:'s', :'n') AS raw_update_in;
UPDATE participants.participant SET custom_fields = custom_fields - 'Site'
WHERE project_id = :'s' AND participant_identifier = 'S05';
SELECT members(:'s', :'n') AS raw_update_out;
SELECT episodes(:'s', :'n', 'S05') AS s05_episodes;

-- other filter keys
SELECT participants.create_segment(:'s', 'Approved', NULL, '{"invitation_status": "approved"}')->>'segmentID' AS a \gset
SELECT participants.create_segment(:'s', 'No invitation', NULL, '{"invitation_status": null}')->>'segmentID' AS ni \gset
SELECT participants.create_segment(:'s', 'Enrolled', NULL, '{"enrolled": true}')->>'segmentID' AS e \gset
SELECT participants.create_segment(:'s', 'Smiths', NULL, '{"query": "SMI"}')->>'segmentID' AS q \gset
SELECT members(:'s', :'a') AS approved, members(:'s', :'ni') AS no_invitation,
       members(:'s', :'e') AS enrolled, members(:'s', :'q') AS smiths;
SELECT participants.enroll_participant(:'s', 'S02')->>'actionTaken' AS enroll_s02;
SELECT participants.upsert_participant(:'s', '{"participantIdentifier": "S05", "invitationStatus": "approved"}')->>'actionTaken' AS approve_s05;
SELECT participants.upsert_participant(:'s', '{"participantIdentifier": "S04", "demographics": {"lastName": "Smithers"}}')->>'actionTaken' AS rename_s04;
SELECT members(:'s', :'a') AS approved, members(:'s', :'ni') AS no_invitation,
       members(:'s', :'e') AS enrolled, members(:'s', :'q') AS smiths;

-- a filter change rebuilds the membership; members that still match keep their episode
SELECT members(:'s', :'d') AS before_change, episodes(:'s', :'d') AS episodes_before;
SELECT seg(participants.update_segment(:'s', :'d', filter => '{"demographic_fields": {"City": "Austin"}}')) AS refiltered;
SELECT members(:'s', :'d') AS after_change, episodes(:'s', :'d') AS episodes_after;
-- a raw UPDATE of the filter rebuilds too
UPDATE participants.segment SET filter = '{"demographic_fields": {"City": "Boston"}}' WHERE project_id = :'s' AND id = :'d';
SELECT members(:'s', :'d') AS after_raw_change, episodes(:'s', :'d') AS episodes_after_raw;
-- and the triggers follow the new filter
SELECT participants.upsert_participant(:'s', '{"participantIdentifier": "S01", "demographics": {"city": "Boston"}}')->>'actionTaken' AS s01_to_boston;
SELECT members(:'s', :'d') AS boston_now;

-- raw writes to the segment table are held to the rules
SELECT serr(format('UPDATE participants.segment SET kind = %L WHERE id = %L', 'static', :'d')) AS raw_kind_change;
SELECT serr(format('UPDATE participants.segment SET filter = NULL WHERE id = %L', :'d')) AS raw_filter_removed;
SELECT serr(format('UPDATE participants.segment SET filter = %L WHERE id = %L', '{"bogus": 1}', :'d')) AS raw_bad_filter;
SELECT serr(format('UPDATE participants.segment SET project_id = %L WHERE id = %L', :'o', :'d')) AS raw_project_change;
SELECT serr(format('INSERT INTO participants.segment (project_id, id, name, kind, filter) VALUES (%L, gen_random_uuid(), %L, %L, %L)',
	:'s', 'raw', 'dynamic', '{"withdrawn": 1}')) AS raw_insert_bad_filter;

-- query_participants within a segment
CREATE OR REPLACE FUNCTION ids(r jsonb) RETURNS text LANGUAGE sql AS $$
	SELECT r->>'totalParticipants' || ': ' || coalesce(string_agg(e->>'participantIdentifier', ' ' ORDER BY o), '')
	FROM jsonb_array_elements(r->'participants') WITH ORDINALITY AS x(e, o)
$$;
SELECT members(:'s', :'g') AS group_members;
SELECT ids(participants.query_participants(:'s', segment_id => :'g')) AS in_group;
SELECT ids(participants.query_participants(:'s', segment_id => :'g', sort_by => 'ParticipantIdentifier', sort_ascending => false)) AS in_group_desc;
SELECT ids(participants.query_participants(:'s', segment_id => :'g', sort_by => 'CustomField.Site', page_size => 2)) AS by_site_page0,
       ids(participants.query_participants(:'s', segment_id => :'g', sort_by => 'CustomField.Site', page_size => 2, page_number => 1)) AS by_site_page1,
       ids(participants.query_participants(:'s', segment_id => :'g', sort_by => 'CustomField.Site', page_size => 2, page_number => 5)) AS past_end;
SELECT ids(participants.query_participants(:'s', segment_id => :'g', query => 'south')) AS query_matches_custom_field_in_segment;
SELECT ids(participants.query_participants(:'s', query => 'south')) AS not_without_segment;
SELECT ids(participants.query_participants(:'s', segment_id => :'g', query => 'smith', demographic_fields => '{"City": "boston"}')) AS combined;
SELECT ids(participants.query_participants(:'s', segment_id => :'g', custom_fields => '{"Site": "North"}')) AS with_custom_field;
SELECT bool_and((e->>'addedToSegmentDate')::timestamptz IS NOT NULL) AS all_have_added_date,
       bool_and(e ? 'addedToSegmentDate') AS key_present
FROM jsonb_array_elements(participants.query_participants(:'s', segment_id => :'g')->'participants') e;
SELECT count(*) FILTER (WHERE e ? 'addedToSegmentDate') AS added_date_without_segment
FROM jsonb_array_elements(participants.query_participants(:'s')->'participants') e;
SELECT (e->>'addedToSegmentDate')::timestamptz = (participants.segment_history(:'s', :'g', 'S02')->1->>'addDate')::timestamptz AS added_date_is_current_episode
FROM jsonb_array_elements(participants.query_participants(:'s', segment_id => :'g')->'participants') e
WHERE e->>'participantIdentifier' = 'S02';
SELECT serr(format('SELECT participants.query_participants(%L, segment_id => %L)', :'s', '00000000-0000-0000-0000-000000000000')) AS unknown_segment;
SELECT serr(format('SELECT participants.query_participants(%L, segment_id => %L)', :'o', :'g')) AS segment_of_other_project;

-- the psql views
SELECT project, name, kind, members, created IS NOT NULL AS has_created
FROM participants.segment_summary ORDER BY project, name;
SELECT participant_identifier, segment_count FROM participants.participant_directory
WHERE project = 'Segment study' ORDER BY 1;

-- deleting a participant removes its memberships and history
SELECT count(*) AS s02_episodes FROM participants.segment_membership m JOIN participants.participant p
	ON p.project_id = m.project_id AND p.id = m.participant_id WHERE p.participant_identifier = 'S02';
SELECT participants.get_participant(:'s', 'S02')->>'id' AS s02 \gset
SELECT participants.delete_participant(:'s', 'S02')->>'actionTaken' AS deleted;
SELECT count(*) AS s02_episodes_left FROM participants.segment_membership WHERE participant_id = :'s02';
SELECT members(:'s', :'g') AS group_after_delete;
-- a raw DELETE too
DELETE FROM participants.participant WHERE project_id = :'s' AND participant_identifier = 'S05';
SELECT count(*) AS s05_episodes_left FROM participants.segment_membership m
WHERE m.project_id = :'s' AND NOT EXISTS (SELECT 1 FROM participants.participant p WHERE p.project_id = m.project_id AND p.id = m.participant_id);

-- deleting a segment removes its memberships
SELECT count(*) > 0 AS has_episodes FROM participants.segment_membership WHERE segment_id = :'g';
SELECT seg(participants.delete_segment(:'s', :'g')) AS deleted_segment;
SELECT count(*) AS episodes_left FROM participants.segment_membership WHERE segment_id = :'g';
SELECT serr(format('SELECT participants.delete_segment(%L, %L)', :'s', :'g')) AS delete_again;
SELECT participants.delete_segment(:'s', :'n')->>'kind' AS deleted_dynamic;
SELECT participants.upsert_participant(:'s', '{"participantIdentifier": "S07", "customFields": {"Site": "North", "x": 1}}')->>'actionTaken' AS write_after_dynamic_delete;

-- the trigger's evaluation (C) agrees with the rebuild's (SQL): segments
-- created before the data are kept by the trigger alone; a copy created
-- after the data is built by SQL; both must hold the same members
SELECT participants.create_project('Agreement') AS ag \gset
SELECT participants.define_custom_field(:'ag', 'Age', 'integer') IS NOT NULL AS declared;
CREATE TEMP TABLE filters (n int, f jsonb);
INSERT INTO filters VALUES
 (1, '{"query": "ann"}'), (2, '{"query": "1990-0"}'), (3, '{"query": "+1555"}'),
 (4, '{"custom_fields": {"Age": 30}}'), (5, '{"custom_fields": {"Age": "30"}}'),
 (6, '{"custom_fields": {"Code": "1"}}'), (7, '{"custom_fields": {"Code": 1.0}}'),
 (8, '{"custom_fields": {"Flag": "true"}}'), (9, '{"custom_fields": {"Flag": null}}'),
 (10, '{"demographic_fields": {"LastName": "ÉLAN"}}'), (11, '{"demographic_fields": {"DOB": "1990-01-15"}}'),
 (12, '{"demographic_fields": {"MobilePhone": "+1 (555) 000-0001"}}'), (13, '{"demographic_fields": {"Gender": "f"}}'),
 (14, '{"demographic_fields": {"City": ""}}'), (15, '{"invitation_status": "pending"}'),
 (16, '{"invitation_status": null}'), (17, '{"enrolled": true, "withdrawn": false}'),
 (18, '{"withdrawn": true}'), (19, '{}'), (20, '{"query": "secondary-9"}'),
 (21, '{"query": "an", "custom_fields": {"Age": 30}, "demographic_fields": {"Gender": "F"}}'),
 (22, '{"query": "ann", "enrolled": false}');
CREATE TEMP TABLE early AS
SELECT n, (participants.create_segment(:'ag', 'early ' || n, NULL, f)->>'segmentID')::uuid AS id FROM filters;
SELECT count(*) AS early_members FROM participants.segment_membership WHERE project_id = :'ag';
SELECT (participants.upsert_participants(:'ag', jsonb_agg(jsonb_build_object(
	'participantIdentifier', 'A' || i,
	'secondaryIdentifier', 'secondary-' || i,
	'invitationStatus', (ARRAY['pending', 'approved', NULL])[1 + i % 3],
	'demographics', jsonb_strip_nulls(jsonb_build_object(
		'email', 'a' || i || '@example.com',
		'firstName', (ARRAY['Ann', 'Anna', 'Joann', 'Bob'])[1 + i % 4],
		'lastName', (ARRAY['Élan', 'élan', 'Elan', 'Smith'])[1 + i % 4],
		'dateOfBirth', (ARRAY['1990-01-15', '1990-02-01', NULL])[1 + i % 3],
		'mobilePhone', CASE WHEN i % 5 = 0 THEN '+1555000000' || (i / 5) END,
		'gender', (ARRAY['F', 'M', NULL])[1 + i % 3],
		'city', (ARRAY['Austin', NULL, ''])[1 + i % 3])),
	'customFields', jsonb_strip_nulls(jsonb_build_object(
		'Age', 25 + i % 10,
		'Code', (ARRAY['"1"', '1.0', '"01"', NULL])[1 + i % 4]::jsonb,
		'Flag', (ARRAY['true', '"true"', 'false', NULL])[1 + i % 4]::jsonb))))))->'totalAdded' AS added
FROM generate_series(1, 60) i;
-- changes by every path: enroll, withdraw, raw UPDATE, upsert
SELECT count(participants.enroll_participant(:'ag', 'A' || i)) AS enrolled FROM generate_series(1, 60, 4) i;
SELECT count(participants.withdraw_participant(:'ag', 'A' || i)) AS withdrawn FROM generate_series(1, 60, 6) i;
UPDATE participants.participant SET last_name = 'Ann-Marie', custom_fields = custom_fields || '{"Age": 30}'
WHERE project_id = :'ag' AND participant_identifier IN ('A7', 'A8', 'A9');
UPDATE participants.participant SET invitation_status = NULL WHERE project_id = :'ag' AND participant_identifier LIKE 'A1%';
SELECT count(participants.upsert_participant(:'ag', jsonb_build_object('participantIdentifier', 'A' || i,
	'customFields', jsonb_build_object('Flag', null, 'Code', 1)))) AS upserted FROM generate_series(2, 60, 7) i;
CREATE TEMP TABLE late AS
SELECT n, (participants.create_segment(:'ag', 'late ' || n, NULL, f)->>'segmentID')::uuid AS id FROM filters;
SELECT f.n, f.f, members(:'ag', e.id) = members(:'ag', l.id) AS agree,
       array_length(string_to_array(members(:'ag', e.id), ' '), 1) AS members
FROM filters f JOIN early e USING (n) JOIN late l USING (n) ORDER BY f.n;
-- and query_participants with the same filter (where it has one) finds the same
SELECT (participants.query_participants(:'ag', query => 'ann', page_size => 1000)->>'totalParticipants')::int
	= (SELECT count(*) FROM participants.segment_membership m JOIN early e ON e.id = m.segment_id WHERE e.n = 1 AND m.remove_date IS NULL) AS query_agrees;

-- the nil uuid is reserved (it marks a rebuild in participants.segment_recheck)
SELECT serr(format($$INSERT INTO participants.participant (project_id, id, participant_identifier) VALUES (%L, '00000000-0000-0000-0000-000000000000', 'NIL')$$, :'s'));
