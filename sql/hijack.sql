-- hijack: a user who puts functions and operators named like the built-in
-- ones in a schema first on their own search_path cannot make the
-- extension's functions call them: not the API functions (which pin
-- search_path and then run as the tables' owner), not the triggers that the
-- user's raw writes fire (which pin it too). Every trap raises, so a call
-- from the extension would show here as an error.
SELECT count(*) AS security_definer_functions FROM pg_proc
WHERE pronamespace = 'participants'::regnamespace AND prosecdef;

-- the test's own reads of results (#>> with search_path pinned), safe from the traps below
CREATE FUNCTION k(j jsonb, VARIADIC path text[]) RETURNS text LANGUAGE sql
	SET search_path = pg_catalog AS $$ SELECT j #>> path $$;

SELECT participants.create_project('Hijack', '{"participantIdentifierPrefix": "H-"}') AS hp \gset
SELECT participants.define_custom_field(:'hp', 'Smoker', 'integer') IS NOT NULL AS defined;
SELECT participants.upsert_participants(:'hp', '[
  {"participantIdentifier": "H-1", "demographics": {"email": "h1@example.com", "lastName": "One"}, "customFields": {"Smoker": 1}},
  {"participantIdentifier": "H-3", "demographics": {"email": "h3@example.com", "lastName": "Three"}, "customFields": {"Smoker": 0}}
]') IS NOT NULL AS loaded;
SELECT k(participants.create_segment(:'hp', 'Static'), 'segmentID') AS hs \gset
SELECT k(participants.create_segment(:'hp', 'Smokers', filter => '{"custom_fields": {"Smoker": 1}, "query": "h"}'), 'segmentID') AS hd \gset
SELECT k(participants.create_segment(:'hp', 'Completed'), 'segmentID') AS hc \gset

CREATE ROLE regress_evil LOGIN;
CREATE SCHEMA evil AUTHORIZATION regress_evil;
GRANT USAGE ON SCHEMA participants TO regress_evil;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA participants TO regress_evil;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA participants TO regress_evil;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA participants TO regress_evil;
INSERT INTO participants.project_access (project_id, role_name) VALUES (:'hp', 'regress_evil');

SET ROLE regress_evil;
CREATE FUNCTION evil.trap(what text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'hijacked: %', what;
END $$;
-- operators on the types the extension compares, and functions it could call
DO $$
DECLARE
	t text;
	op text;
BEGIN
	FOREACH t IN ARRAY ARRAY['uuid', 'text', 'jsonb', 'bigint', 'integer', 'timestamptz', 'boolean', 'numeric', 'date'] LOOP
		FOREACH op IN ARRAY ARRAY['=', '<>', '<', '>', '<=', '>='] LOOP
			EXECUTE format('CREATE FUNCTION evil.%s(%s, %s) RETURNS boolean LANGUAGE sql AS $f$ SELECT evil.trap(%L) $f$',
				'op_' || md5(t || op), t, t, t || ' ' || op);
			EXECUTE format('CREATE OPERATOR evil.%s (LEFTARG = %s, RIGHTARG = %s, FUNCTION = evil.%s)',
				op, t, t, 'op_' || md5(t || op));
		END LOOP;
	END LOOP;
END $$;
CREATE FUNCTION evil.like(text, text) RETURNS boolean LANGUAGE sql AS $$ SELECT evil.trap('~~') $$;
CREATE OPERATOR evil.~~ (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.like);
CREATE OPERATOR evil.~~* (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.like);
CREATE FUNCTION evil.contains(jsonb, jsonb) RETURNS boolean LANGUAGE sql AS $$ SELECT evil.trap('@>') $$;
CREATE OPERATOR evil.@> (LEFTARG = jsonb, RIGHTARG = jsonb, FUNCTION = evil.contains);
CREATE FUNCTION evil.field(jsonb, text) RETURNS text LANGUAGE sql AS $$ SELECT evil.trap('->>')::text $$;
CREATE OPERATOR evil.->> (LEFTARG = jsonb, RIGHTARG = text, FUNCTION = evil.field);
CREATE FUNCTION evil.obj(jsonb, text) RETURNS jsonb LANGUAGE sql AS $$ SELECT evil.trap('->')::text::jsonb $$;
CREATE OPERATOR evil.-> (LEFTARG = jsonb, RIGHTARG = text, FUNCTION = evil.obj);
CREATE FUNCTION evil.cat(text, text) RETURNS text LANGUAGE sql AS $$ SELECT evil.trap('||')::text $$;
CREATE OPERATOR evil.|| (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.cat);
CREATE FUNCTION evil.lower(text) RETURNS text LANGUAGE sql AS $$ SELECT evil.trap('lower')::text $$;
CREATE FUNCTION evil.upper(text) RETURNS text LANGUAGE sql AS $$ SELECT evil.trap('upper')::text $$;
CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE sql AS $$ SELECT evil.trap('now')::text::timestamptz $$;
CREATE FUNCTION evil.length(text) RETURNS integer LANGUAGE sql AS $$ SELECT evil.trap('length')::int $$;
CREATE FUNCTION evil.gen_random_uuid() RETURNS uuid LANGUAGE sql AS $$ SELECT evil.trap('gen_random_uuid')::text::uuid $$;
CREATE FUNCTION evil.jsonb_typeof(jsonb) RETURNS text LANGUAGE sql AS $$ SELECT evil.trap('jsonb_typeof')::text $$;
SET search_path = evil, pg_catalog, public;
-- the traps are live: plain SQL of this user calls them
-- error
SELECT 'a'::text = 'a'::text;

-- API functions
SELECT k(participants.upsert_participant(:'hp', '{"participantIdentifier": "H-2", "demographics": {"email": "H2@Example.com", "lastName": "Two", "mobilePhone": "+1 615 555 0100"}, "customFields": {"Smoker": 1}}'), 'actionTaken') AS upsert;
SELECT k(participants.upsert_participants(:'hp', '[{"participantIdentifier": "H-2", "demographics": {"city": "Nashville"}}, {"demographics": {"email": "h4@example.com"}}]'), 'totalAdded') AS bulk_added;
SELECT k(participants.get_participant(:'hp', 'H-2'), 'demographics', 'city') AS got;
SELECT k(participants.query_participants(:'hp', query => 'two', custom_fields => '{"Smoker": 1}',
       demographic_fields => '{"LastName": "two"}', sort_by => 'CustomField.Smoker'), 'totalParticipants') AS found;
SELECT k(participants.query_participants(:'hp', segment_id => :'hd', sort_by => 'DemographicField.LastName', sort_ascending => false), 'totalParticipants') AS in_dynamic;
SELECT participants.add_segment_members(:'hp', :'hs', '["H-1", "H-2"]') IS NOT NULL AS added;
SELECT participants.remove_segment_members(:'hp', :'hs', '["H-1"]') IS NOT NULL AS removed;
SELECT k(participants.update_segment(:'hp', :'hd', filter => '{"custom_fields": {"Smoker": 1}, "enrolled": false}'), 'participantCount') AS refiltered;
SELECT jsonb_array_length(participants.segment_history(:'hp', :'hs')) AS episodes;
SELECT jsonb_array_length(participants.participant_segments(:'hp', 'H-2')) AS memberships;
SELECT k(participants.list_segments(:'hp'), 'totalSegments') AS segments;
SELECT k(participants.create_study(:'hp', 'Trial', allowlist => ARRAY[:'hd']::uuid[], blocklist => ARRAY[:'hs']::uuid[],
       completion_codes => jsonb_build_array(jsonb_build_object('code', 'DONE', 'actions',
           jsonb_build_array(jsonb_build_object('action', 'ADD_TO_SEGMENT', 'segmentID', :'hc'))))), 'studyID') AS hstudy \gset
SELECT participants.add_study_participants(:'hp', :'hstudy', '["H-1", "H-2", "H-3"]') AS study_add;
SELECT k(participants.update_study(:'hp', :'hstudy', blocklist => '{}'::uuid[]), 'studyName') AS study;
SELECT k(participants.add_study_participants(:'hp', :'hstudy', '["H-2"]'), 'added') AS study_added;
SELECT k(participants.set_participant_status(:'hp', :'hstudy', 'H-2', 'INVITE_SENT'), 'status') AS status;
SELECT k(participants.set_participant_status(:'hp', :'hstudy', 'H-2', 'SURVEY_STARTED'), 'status') AS status;
SELECT k(participants.set_participant_status(:'hp', :'hstudy', 'H-2', 'SURVEY_COMPLETED'), 'status') AS status;
SELECT k(participants.set_participant_status(:'hp', :'hstudy', 'H-2', 'COMPLETED_STUDY', completion_code => 'DONE'), 'status') AS completed;
SELECT k(participants.get_segment(:'hp', :'hc'), 'participantCount') AS completed_members;
SELECT jsonb_array_length(participants.status_history(:'hp', :'hstudy', 'H-2')) AS history;
SELECT k(participants.study_participants(:'hp', :'hstudy'), 'totalParticipants') AS in_study;
SELECT k(participants.eligible_participants(:'hp', :'hstudy'), 'totalParticipants') AS eligible;
SELECT jsonb_array_length(participants.events_since(:'hp')) AS events;
SELECT k(participants.set_opted_out(:'hp', 'H-1', true), 'actionTaken') AS opted_out;
SELECT k(participants.enroll_participant(:'hp', 'H-3'), 'actionTaken') AS enrolled;
SELECT k(participants.withdraw_participant(:'hp', 'H-3'), 'actionTaken') AS withdrawn;
SELECT k(participants.define_custom_field(:'hp', 'Visit', 'date'), 'type') AS field;
SELECT jsonb_array_length(participants.custom_fields(:'hp')) AS fields;
SELECT k(participants.drop_custom_field(:'hp', 'Visit'), 'name') AS dropped;
SELECT k(participants.delete_participant(:'hp', 'H-3'), 'actionTaken') AS deleted;

-- raw writes: the triggers they fire (guards, segment and study sync, events)
INSERT INTO participants.participant (project_id, id, participant_identifier, email, custom_fields)
VALUES (:'hp', '8d3c8f0e-1b2a-4c5d-9e6f-7a8b9c0d1e2f', 'H-5', 'h5@example.com', '{"Smoker": 1}');
UPDATE participants.participant SET last_name = 'Five', custom_fields = '{"Smoker": 1, "Note": "x"}' WHERE participant_identifier ~ '^H-5$';
UPDATE participants.participant SET opted_out = true WHERE participant_identifier ~ '^H-2$';
SELECT k(participants.add_study_participants(:'hp', :'hstudy', '["H-5"]'), 'added') AS h5_added;
UPDATE participants.study_participant SET status = 'INVITE_SENT' WHERE status ~ '^NOT_STARTED$';
SELECT status FROM participants.study_participant WHERE status ~ 'INVITE';
-- error
UPDATE participants.study_participant SET status = 'NOT_STARTED' WHERE status ~ '^INVITE_SENT$';
DELETE FROM participants.participant WHERE participant_identifier ~ '^H-5$';
RESET search_path;
RESET ROLE;

SELECT status, count(*) FROM participants.study_participant WHERE project_id = :'hp' GROUP BY 1 ORDER BY 1;
SELECT count(*) AS events FROM participants.event WHERE project_id = :'hp';
SET client_min_messages = warning;
DROP SCHEMA evil CASCADE;
RESET client_min_messages;
DROP FUNCTION k(jsonb, text[]);
DELETE FROM participants.project_access WHERE role_name = 'regress_evil';
DROP OWNED BY regress_evil;
DROP ROLE regress_evil;
