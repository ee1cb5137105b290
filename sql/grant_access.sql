-- grant_access: what each kind of role gets, read from the catalog
CREATE ROLE regress_ga_app LOGIN;
CREATE ROLE regress_ga_reader LOGIN;
CREATE ROLE regress_ga_raw LOGIN;
CREATE ROLE regress_ga_other LOGIN;

SELECT g ->> 'role' AS role, g ->> 'access' AS access, g ->> 'schema' AS schema,
       jsonb_array_length(g -> 'functions') AS functions,
       (SELECT string_agg(DISTINCT v, ' / ') FROM jsonb_each_text(g -> 'tables') x(k, v)) AS table_privileges,
       (SELECT count(*) FROM jsonb_object_keys(g -> 'tables')) AS tables, g -> 'sequences' AS sequences
FROM (VALUES ('regress_ga_app', 'app'), ('regress_ga_reader', 'reader'), ('regress_ga_raw', 'raw')) v(r, a),
     LATERAL participants.grant_access(v.r::regrole, v.a) g
ORDER BY 1;

-- exactly these privileges, nothing more
CREATE FUNCTION granted(r text) RETURNS TABLE (object text, privileges text) LANGUAGE sql AS $$
	SELECT 'function ' || p.oid::regprocedure::text, 'EXECUTE'
	FROM pg_proc p WHERE p.pronamespace = 'participants'::regnamespace
	  AND has_function_privilege(r, p.oid, 'EXECUTE')
	UNION ALL
	SELECT c.relkind::text || ' ' || c.relname,
	       concat_ws(',', CASE WHEN has_table_privilege(r, c.oid, 'SELECT') THEN 'SELECT' END,
	                      CASE WHEN has_table_privilege(r, c.oid, 'INSERT') THEN 'INSERT' END,
	                      CASE WHEN has_table_privilege(r, c.oid, 'UPDATE') THEN 'UPDATE' END,
	                      CASE WHEN has_table_privilege(r, c.oid, 'DELETE') THEN 'DELETE' END)
	FROM pg_class c WHERE c.relnamespace = 'participants'::regnamespace AND c.relkind IN ('r', 'v')
	  AND (has_table_privilege(r, c.oid, 'SELECT') OR has_table_privilege(r, c.oid, 'INSERT')
	       OR has_table_privilege(r, c.oid, 'UPDATE') OR has_table_privilege(r, c.oid, 'DELETE'))
	UNION ALL
	SELECT 'sequence ' || c.relname, 'USAGE' FROM pg_class c
	WHERE c.relnamespace = 'participants'::regnamespace AND c.relkind = 'S' AND has_sequence_privilege(r, c.oid, 'USAGE')
	UNION ALL
	SELECT 'schema participants', 'USAGE' WHERE has_schema_privilege(r, 'participants', 'USAGE')
$$;
SELECT 'app' AS access, * FROM granted('regress_ga_app') ORDER BY 2;
SELECT 'reader' AS access, * FROM granted('regress_ga_reader') ORDER BY 2;
SELECT 'raw' AS access, * FROM granted('regress_ga_raw') ORDER BY 2;
SELECT count(*) AS other_privileges FROM granted('regress_ga_other');

-- the application role works with what it got, in its project
INSERT INTO t SELECT 'ga', participants.create_project('Grant access');
INSERT INTO participants.project_access (project_id, role_name) VALUES (pid('ga'), 'regress_ga_app'), (pid('ga'), 'regress_ga_reader');
GRANT SELECT ON t TO regress_ga_app, regress_ga_reader;
SET ROLE regress_ga_app;
SELECT participants.upsert_participant(pid('ga'), '{"participantIdentifier": "G-1"}') ->> 'actionTaken' AS app_upsert;
SELECT serr($$SELECT count(*) FROM participants.participant$$) AS app_table;
SELECT serr($$SELECT participants.create_project('app project')$$) AS app_create_project;
SET ROLE regress_ga_reader;
SELECT participants.get_participant(pid('ga'), 'G-1') ->> 'participantIdentifier' AS reader_get;
SELECT count(*) AS reader_rows FROM participants.participant;
SELECT serr($$SELECT participants.upsert_participant(pid('ga'), '{"participantIdentifier": "G-2"}')$$) AS reader_upsert;
-- only an unconfined role may grant
SELECT serr($$SELECT participants.grant_access('regress_ga_reader', 'raw')$$) AS confined_grants;
RESET ROLE;
GRANT EXECUTE ON FUNCTION participants.grant_access(regrole, text) TO regress_ga_app;
SET ROLE regress_ga_app;
SELECT serr($$SELECT participants.grant_access('regress_ga_app', 'raw')$$) AS confined_grants_itself;
RESET ROLE;

-- other values are 22023
SELECT serr($$SELECT participants.grant_access('regress_ga_other', 'admin')$$) AS unknown_access;
SELECT serr($$SELECT participants.grant_access('regress_ga_other', NULL)$$) AS null_access;
SELECT serr($$SELECT participants.grant_access(NULL, 'app')$$) AS null_role;
SELECT serr($$SELECT participants.grant_access('regress_no_such_role', 'app')$$) AS no_such_role;
SELECT count(*) AS other_still_nothing FROM granted('regress_ga_other');

DELETE FROM participants.project_access WHERE role_name LIKE 'regress_ga_%';
DROP FUNCTION granted(text);
DROP OWNED BY regress_ga_app, regress_ga_reader, regress_ga_raw, regress_ga_other;
DROP ROLE regress_ga_app, regress_ga_reader, regress_ga_raw, regress_ga_other;
