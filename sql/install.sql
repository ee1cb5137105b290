-- install: the extension's surface, and helpers the later tests use
SELECT extname, extversion FROM pg_extension WHERE extname = 'participants';

SELECT p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid) AS args,
       p.provolatile AS vol, p.proparallel AS par
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'participants' ORDER BY 1, 2;

SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'participants' AND c.relkind IN ('r', 'v', 'S') ORDER BY 1;

-- every table but project has project_id first in its primary key
SELECT conrelid::regclass AS tbl, pg_get_constraintdef(k.oid) AS def
FROM pg_constraint k JOIN pg_class r ON r.oid = conrelid -- (a cluster's pg_class hides shards)
WHERE connamespace = 'participants'::regnamespace AND contype IN ('p', 'u', 'f')
ORDER BY 1, 2;

-- every primary key and unique index has project_id first (doc/scaling-out.md)
SELECT indexrelid::regclass AS idx, indisunique AS is_unique, pg_get_indexdef(indexrelid) LIKE '%(project_id,%' AS has_project_id
FROM pg_index WHERE indrelid = 'participants.participant'::regclass ORDER BY 1;
SELECT count(*) AS unique_without_project_id FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
WHERE c.relnamespace = 'participants'::regnamespace AND c.relname <> 'project' AND i.indisunique
  AND pg_get_indexdef(i.indexrelid) NOT LIKE '%(project_id,%';

-- user-data tables registered for pg_dump
SELECT unnest(extconfig)::regclass AS config FROM pg_extension WHERE extname = 'participants' ORDER BY 1;

-- helpers for the tests: run SQL and show SQLSTATE and message, or 'ok'
CREATE FUNCTION err(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE sql;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
-- the same with generated ids masked (messages that name a project, a
-- segment or a study), for the later test files
CREATE FUNCTION serr(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE sql;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<uuid>', 'g');
END $$;

-- a participant object without the generated values (id, dates, link identifier)
CREATE FUNCTION strip(j jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
	SELECT j - 'id' - 'insertedDate' - 'enrollmentDate' - 'withdrawDate' - 'linkIdentifier'
$$;

-- shape of the generated values: which are set, and that they look right
CREATE FUNCTION shape(j jsonb) RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT concat_ws(' ',
		'id:' || (j->>'id' ~ '^[0-9a-f-]{36}$'),
		'inserted:' || (j->>'insertedDate' ~ '^\d{4}-\d\d-\d\dT'),
		'enrolled:' || (j->>'enrolled'),
		'enrollmentDate:' || (j->>'enrollmentDate' IS NOT NULL),
		'withdrawDate:' || (j->>'withdrawDate' IS NOT NULL),
		'link:' || (j->>'linkIdentifier' ~ '^[0-9a-f-]{36}$'))
$$;

CREATE TABLE t (name text PRIMARY KEY, id uuid);
CREATE FUNCTION pid(n text) RETURNS uuid LANGUAGE sql STABLE AS $$ SELECT id FROM t WHERE name = n $$;
-- on a Citus cluster (test/citus.sh), every node reads t: a reference table;
-- and pid() may run inside a shard's query on a worker, where reading t is a
-- nested distributed query that Citus allows only when told to
DO $$ BEGIN
	IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
		PERFORM create_reference_table('t');
		ALTER FUNCTION pid(text) SET citus.allow_nested_distributed_execution = on;
	END IF;
END $$;
INSERT INTO t SELECT 'main', participants.create_project('Main study', '{"participantIdentifierPrefix": "MS-"}');
INSERT INTO t SELECT 'other', participants.create_project('Other study', '{"linkIdentifiers": false}');
INSERT INTO t SELECT 'strict', participants.create_project('Strict study', '{"strictCustomFields": true}');

SELECT t.name, p.name AS project, p.settings FROM t JOIN participants.project p USING (id) ORDER BY 1;

-- create_project errors
SELECT err($$SELECT participants.create_project('', '{}')$$);
SELECT err($$SELECT participants.create_project(NULL)$$);
SELECT err($$SELECT participants.create_project('x', '{"prefix": "A"}')$$);
SELECT err($$SELECT participants.create_project('x', '{"linkIdentifiers": "yes"}')$$);
SELECT err($$SELECT participants.create_project('x', '[]')$$);
SELECT count(*) AS projects FROM participants.project;
