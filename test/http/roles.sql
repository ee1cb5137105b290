-- test/http/roles.sql: PostgREST's roles for the participants extension
-- (README.md, "HTTP (PostgREST)"). Run as a superuser in the database that
-- has the extension; safe to run again.
--
--   participants_authenticator  PostgREST logs in as it; may become the roles below
--   participants_anon           requests without a token: no privilege at all (401)
--   participants_web            token role: every API function, confined to the
--                               projects of the token's project_ids claim
--   participants_web_reader     token role: the reading functions only, confined the same way
--   participants_admin          token role: every API function in every project
--                               (BYPASSRLS: not confined), e.g. to create projects
DO $$
DECLARE
	r text;
BEGIN
	FOREACH r IN ARRAY ARRAY['participants_authenticator', 'participants_anon', 'participants_web',
							 'participants_web_reader', 'participants_admin'] LOOP
		IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
			EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
		END IF;
	END LOOP;
END $$;
ALTER ROLE participants_authenticator LOGIN NOINHERIT;
ALTER ROLE participants_admin BYPASSRLS;
GRANT participants_anon, participants_web, participants_web_reader, participants_admin
	TO participants_authenticator;
-- PostgREST's sessions may take a caller's projects from this claim of its JWT
ALTER ROLE participants_authenticator SET participants.jwt_project_claim = 'project_ids';

GRANT USAGE ON SCHEMA participants TO participants_web, participants_web_reader, participants_admin;
-- the reading functions (STABLE: served for GET and POST)
GRANT EXECUTE ON FUNCTION
	participants.get_participant, participants.query_participants, participants.custom_fields,
	participants.get_segment, participants.list_segments, participants.segment_history,
	participants.participant_segments, participants.get_study, participants.study_participants,
	participants.status_history, participants.eligible_participants, participants.events_since
	TO participants_web, participants_web_reader, participants_admin;
-- the writing functions (VOLATILE: POST only)
GRANT EXECUTE ON FUNCTION
	participants.upsert_participant, participants.upsert_participants,
	participants.enroll_participant, participants.withdraw_participant,
	participants.delete_participant, participants.set_opted_out,
	participants.define_custom_field, participants.drop_custom_field,
	participants.create_segment, participants.update_segment, participants.delete_segment,
	participants.add_segment_members, participants.remove_segment_members,
	participants.create_study, participants.update_study, participants.add_study_participants,
	participants.set_participant_status
	TO participants_web, participants_admin;
GRANT EXECUTE ON FUNCTION participants.create_project TO participants_admin;
