-- test/http/roles.sql: PostgREST's roles for the participants extension
-- (doc/http.md). Run as a superuser in the database that
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

-- participants_web and participants_admin: every API function a confined role
-- may call (participants.grant_access reads them from the catalog, so running
-- this file again after ALTER EXTENSION ... UPDATE grants what a new version adds)
SELECT participants.grant_access('participants_web', 'app') IS NOT NULL AS web_granted;
SELECT participants.grant_access('participants_admin', 'app') IS NOT NULL AS admin_granted;
GRANT EXECUTE ON FUNCTION participants.create_project TO participants_admin;
-- participants_web_reader: the reading (STABLE) API functions only (those of a
-- project, and list_projects); no table (grant_access's 'reader' adds SELECT
-- on the tables, for psql)
GRANT USAGE ON SCHEMA participants TO participants_web_reader;
DO $$
DECLARE
	f regprocedure;
BEGIN
	FOR f IN SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
			 WHERE p.pronamespace = 'participants'::regnamespace AND p.provolatile = 's'
			   AND (p.proargnames[1] = 'project_id' OR p.proname = 'list_projects') LOOP
		EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO participants_web_reader', f);
	END LOOP;
END $$;
