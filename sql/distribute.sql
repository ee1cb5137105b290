-- distribute(): on one node without Citus it refuses with 0A000 naming
-- Citus, and changes nothing (the policies keep their subquery)
SELECT err('SELECT participants.distribute()') AS without_citus;
SELECT count(*) AS policies_with_subquery FROM pg_policies
 WHERE schemaname = 'participants' AND qual LIKE '%SELECT participants.allowed_projects()%';
-- nobody but the superuser may call it: not granted to PUBLIC, nor by grant_access
CREATE ROLE regress_distribute_app LOGIN;
SELECT participants.grant_access('regress_distribute_app', 'app') -> 'functions' ? 'participants.distribute()' AS granted_to_app;
SELECT has_function_privilege('regress_distribute_app', 'participants.distribute()', 'EXECUTE') AS app_may_call;
DROP OWNED BY regress_distribute_app;
DROP ROLE regress_distribute_app;
-- the extension's functions and tables know nothing of a cluster here
SELECT participants.create_project('Distribute test') IS NOT NULL AS one_node_works;
