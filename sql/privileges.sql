-- privileges: nothing for PUBLIC; the documented roles (doc/access.md) can do what it says.
-- API functions need only EXECUTE: they check the caller's project, then work
-- as the extension's owner. Raw SQL needs table privileges and is held to the
-- same rules by triggers and row-level security.
SELECT p.oid::regprocedure AS func FROM pg_proc p
WHERE p.pronamespace = 'participants'::regnamespace AND has_function_privilege('public', p.oid, 'EXECUTE')
ORDER BY 1;
SELECT c.oid::regclass AS rel FROM pg_class c
WHERE c.relnamespace = 'participants'::regnamespace AND c.relkind IN ('r', 'v', 'S')
  AND (c.relacl IS NULL OR EXISTS (SELECT 1 FROM aclexplode(c.relacl) a WHERE a.grantee = 0))
  AND has_table_privilege('public', c.oid, 'SELECT')
ORDER BY 1;
-- every API function pins search_path; every table has row-level security
SELECT count(*) AS api_functions,
       count(*) FILTER (WHERE proconfig = '{"search_path=pg_catalog, pg_temp"}') AS pinned
FROM pg_proc WHERE pronamespace = 'participants'::regnamespace AND prorettype <> 'trigger'::regtype
  AND proname NOT IN ('participant_search_text', 'custom_field_sort_number', 'custom_field_sort_date',
                      'default_status_transitions');
SELECT c.relname, c.relrowsecurity, (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies
FROM pg_class c WHERE c.relnamespace = 'participants'::regnamespace AND c.relkind = 'r' ORDER BY 1;
SELECT c.relname, c.reloptions FROM pg_class c
WHERE c.relnamespace = 'participants'::regnamespace AND c.relkind = 'v' ORDER BY 1;

CREATE ROLE regress_nobody LOGIN;
SET ROLE regress_nobody;
SELECT err($$SELECT participants.get_participant(pid('main'), 'MDH-0001')$$) AS nobody_get;
SELECT err($$SELECT count(*) FROM participants.participant$$) AS nobody_table;
RESET ROLE;

-- the application role of doc/access.md: every API function, confined to the
-- projects granted in participants.project_access; no table privileges
CREATE ROLE regress_app LOGIN;
GRANT USAGE ON SCHEMA participants TO regress_app;
GRANT EXECUTE ON FUNCTION participants.create_project, participants.upsert_participant,
      participants.upsert_participants, participants.get_participant, participants.enroll_participant,
      participants.withdraw_participant, participants.delete_participant, participants.set_opted_out,
      participants.define_custom_field, participants.custom_fields, participants.drop_custom_field,
      participants.query_participants, participants.create_segment, participants.update_segment,
      participants.delete_segment, participants.get_segment, participants.list_segments,
      participants.add_segment_members, participants.remove_segment_members,
      participants.segment_history, participants.participant_segments, participants.create_study,
      participants.update_study, participants.get_study, participants.add_study_participants,
      participants.set_participant_status, participants.study_participants,
      participants.status_history, participants.eligible_participants, participants.events_since
      TO regress_app;
GRANT SELECT ON t TO regress_app;
INSERT INTO participants.project_access (project_id, role_name) VALUES (pid('main'), 'regress_app');
SET ROLE regress_app;
SELECT r->>'actionTaken' AS action FROM participants.upsert_participant(pid('main'), '{"demographics": {"email": "app@example.com"}}') AS r;
SELECT participants.enroll_participant(pid('main'), 'MDH-0003')->>'actionTaken' AS app_enroll;
SELECT participants.get_participant(pid('main'), 'MDH-0003')->>'enrolled' AS app_get;
-- the functions work without table privileges; the tables stay closed
SELECT err($$SELECT count(*) FROM participants.participant$$) AS app_table;
SELECT serr($$SELECT participants.get_participant(pid('other'), 'x')$$) AS app_other_project;
SELECT err($$SELECT participants.create_project('App project')$$) AS app_create_project;
RESET ROLE;

-- with table privileges (doc/access.md: raw SQL), the rules hold for raw writes too
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA participants TO regress_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA participants TO regress_app;
GRANT EXECUTE ON FUNCTION participants.allowed_projects, participants.participant_search_text,
      participants.custom_field_sort_number, participants.custom_field_sort_date TO regress_app;
SET ROLE regress_app;
SELECT err($$UPDATE participants.participant SET email = 'x@example.com' WHERE participant_identifier = 'MDH-0003'$$) AS app_raw_locked;
SELECT err($$UPDATE participants.participant SET first_name = 'Max' WHERE participant_identifier = 'MDH-0003'$$) AS app_raw_other;
SELECT count(DISTINCT project_id) AS app_sees_projects FROM participants.participant;
RESET ROLE;

-- the read-only role of doc/access.md: the reading functions, never a write
CREATE ROLE regress_reader LOGIN;
GRANT USAGE ON SCHEMA participants TO regress_reader;
GRANT EXECUTE ON FUNCTION participants.get_participant, participants.custom_fields,
      participants.query_participants, participants.get_segment, participants.list_segments,
      participants.segment_history, participants.participant_segments, participants.get_study,
      participants.study_participants, participants.status_history,
      participants.eligible_participants, participants.events_since,
      participants.allowed_projects TO regress_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA participants TO regress_reader;
GRANT SELECT ON t TO regress_reader;
INSERT INTO participants.project_access (project_id, role_name) VALUES (pid('main'), 'regress_reader');
SET ROLE regress_reader;
SELECT participants.get_participant(pid('main'), 'MDH-0001')->>'participantIdentifier' AS reader_get;
SELECT (participants.query_participants(pid('main'), page_size => 1)->>'totalParticipants')::int > 0 AS reader_query;
SELECT err($$SELECT participants.upsert_participant(pid('main'), '{"participantIdentifier": "R1"}')$$) AS reader_upsert;
SELECT err($$DELETE FROM participants.participant$$) AS reader_delete;
SELECT count(*) > 0 AS reader_directory, count(DISTINCT project) AS reader_projects FROM participants.participant_directory;
RESET ROLE;

-- an unconfined role (BYPASSRLS) may create projects and use every project
CREATE ROLE regress_admin LOGIN BYPASSRLS;
GRANT regress_app TO regress_admin;
SET ROLE regress_admin;
SELECT participants.create_project('Admin project') IS NOT NULL AS admin_create_project;
SELECT err($$SELECT participants.get_participant(pid('other'), 'x')$$) AS admin_other_project;
RESET ROLE;
SELECT err($$SELECT participants.get_participant(pid('other'), 'x')$$) AS superuser_other_project;

DELETE FROM participants.project_access WHERE role_name IN ('regress_app', 'regress_reader');
DELETE FROM participants.project WHERE name = 'Admin project';
DROP OWNED BY regress_nobody, regress_app, regress_reader, regress_admin;
DROP ROLE regress_nobody, regress_app, regress_reader, regress_admin;
