/* sql/participants--0.2.0--0.3.0.sql: upgrade from 0.2.0 to 0.3.0 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION participants UPDATE TO '0.3.0'" to load this file. \quit

-- 0.3.0: per-project counters instead of the shared sequences (generated
-- participantIdentifiers, event ids and membership episode ids count only
-- their own project), a
-- random NOTIFY channel per project instead of participants_events, rows
-- loaded as restored only during a real restore, raw INSERTs into event
-- refused, sortable fields changed only by unconfined roles, grant_access(),
-- segment_recheck (rebuilds of dynamic segments that writers do not wait for),
-- a statement trigger that removes the first event of a study participant
-- that INSERT ... ON CONFLICT skipped.
-- Numbering goes on after the last numbers the shared sequences gave.

CREATE TABLE participants.project_counter (
	project_id		uuid PRIMARY KEY REFERENCES participants.project (id) ON DELETE CASCADE,
	last_participant_number bigint NOT NULL DEFAULT 0,
	last_event_id	bigint NOT NULL DEFAULT 0,
	last_membership_id bigint NOT NULL DEFAULT 0,
	-- the project's NOTIFY channel: random, readable only by roles that may use the project
	event_channel	text NOT NULL DEFAULT ('participants_events_' || pg_catalog.replace(pg_catalog.gen_random_uuid()::text, '-', ''))
);

COMMENT ON TABLE participants.project_counter IS
'Per-project counters: the last number of a generated participantIdentifier, the last event id and the last id of a segment membership episode, drawn by the database (never updated by a statement), and the channel on which the project''s events are announced.';

CREATE TABLE participants.segment_recheck (
	project_id		uuid NOT NULL,
	participant_id	uuid NOT NULL,
	segment_id		uuid NOT NULL,
	PRIMARY KEY (project_id, participant_id, segment_id)
);

COMMENT ON TABLE participants.segment_recheck IS
'Internal: participants written while a dynamic segment of their project was rebuilt, evaluated again by the rebuild before it ends. Empty between rebuilds, but for what a failed rebuild left (removed by the segment''s next rebuild or its deletion).';

INSERT INTO participants.project_counter (project_id, last_participant_number, last_event_id, last_membership_id)
SELECT p.id,
	(SELECT CASE WHEN s.is_called THEN s.last_value ELSE 0 END FROM participants.participant_identifier_seq s),
	(SELECT CASE WHEN s.is_called THEN s.last_value ELSE 0 END FROM participants.event_id_seq s),
	(SELECT CASE WHEN s.is_called THEN s.last_value ELSE 0 END FROM participants.segment_membership_id_seq s)
FROM participants.project p;

SELECT pg_catalog.pg_extension_config_dump('participants.project_counter', '');

ALTER TABLE participants.event ALTER COLUMN id DROP DEFAULT;
-- leaving the extension first also takes them off pg_dump's list
ALTER TABLE participants.segment_membership ALTER COLUMN id DROP DEFAULT;
ALTER EXTENSION participants DROP SEQUENCE participants.event_id_seq;
ALTER EXTENSION participants DROP SEQUENCE participants.participant_identifier_seq;
ALTER EXTENSION participants DROP SEQUENCE participants.segment_membership_id_seq;
DROP SEQUENCE participants.event_id_seq;
DROP SEQUENCE participants.participant_identifier_seq;
DROP SEQUENCE participants.segment_membership_id_seq;

COMMENT ON TABLE participants.event IS
'Events: a status change (participant.status_changed) or an opt-out or opt-in (person.opted_out), numbered per project and announced with a NOTIFY on the project''s channel (participants.event_channel()) when its transaction commits. Written only by the database (or a restore); never updated; deleting a participant deletes its events.';

COMMENT ON FUNCTION participants.custom_field_indexes() IS
'Row trigger: a field declared with options.sortable has two partial indexes on participant (its sort key in each direction, for its project); they go when it stops being sortable or is dropped. Only roles not confined to projects may add or drop them (42501), and a project has at most participants.max_sortable_fields sortable fields (PT409).';

CREATE FUNCTION participants.project_counter_create() RETURNS trigger
	LANGUAGE c AS 'MODULE_PATHNAME', 'participants_project_counter_create';

COMMENT ON FUNCTION participants.project_counter_create() IS
'Row trigger: a new project gets its counters and notification channel (a restore brings them with the dump).';

CREATE TRIGGER project_counter_create
	AFTER INSERT ON participants.project
	FOR EACH ROW EXECUTE FUNCTION participants.project_counter_create();

CREATE FUNCTION participants.project_counter_guard() RETURNS trigger
	LANGUAGE c AS 'MODULE_PATHNAME', 'participants_project_counter_guard';

COMMENT ON FUNCTION participants.project_counter_guard() IS
'Row trigger: counters are drawn by the database, never updated by a statement.';

CREATE TRIGGER project_counter_guard
	BEFORE UPDATE ON participants.project_counter
	FOR EACH ROW EXECUTE FUNCTION participants.project_counter_guard();

CREATE FUNCTION participants.segment_membership_number() RETURNS trigger
	LANGUAGE c AS 'MODULE_PATHNAME', 'participants_segment_membership_number';

COMMENT ON FUNCTION participants.segment_membership_number() IS
'Row trigger: a new membership episode gets its id from its project''s counter (a restore keeps the id it loads).';

CREATE TRIGGER segment_membership_number
	BEFORE INSERT ON participants.segment_membership
	FOR EACH ROW EXECUTE FUNCTION participants.segment_membership_number();

COMMENT ON FUNCTION participants.study_participant_guard() IS
'Row trigger: a study participant''s status is one of the 22 and moves only along the project''s status_transition graph; every change writes an event (announced on the project''s channel at commit). A new study participant starts at NOT_STARTED, without last_event_id or completion_code, and not while the participant is withdrawn or opted out; only a restore loads rows as they were.';

COMMENT ON FUNCTION participants.study_participant_created() IS
'Row trigger: a new study participant keeps the first event (priorStatus null) that study_participant_guard wrote for it. Statement trigger: the first events of rows the statement did not insert after all (INSERT ... ON CONFLICT skipped them) are deleted. A row loaded by a restore gets none.';

CREATE TRIGGER study_participant_created_statement
	AFTER INSERT ON participants.study_participant
	FOR EACH STATEMENT EXECUTE FUNCTION participants.study_participant_created();

COMMENT ON FUNCTION participants.event_guard() IS
'Row trigger: events are written by the database (or loaded by a restore) and never changed; they may be deleted.';

DROP TRIGGER event_guard ON participants.event;

CREATE TRIGGER event_guard
	BEFORE INSERT OR UPDATE ON participants.event
	FOR EACH ROW EXECUTE FUNCTION participants.event_guard();

COMMENT ON FUNCTION participants.define_custom_field(uuid, text, text, jsonb) IS
'Declare a typed custom field, or update its options
Declares a custom field of type text, number, integer, boolean, date or timestamp; values are then typed and validated on every write. Values participants already hold are converted to the type, or the call fails. Defining an existing field again with the same type updates its options.
Arguments: project_id (uuid) the project; name (text) the field''s name (a letter, then letters, digits or _; at most 63 characters); type (text) text, number, integer, boolean, date or timestamp; options (jsonb, default {}) {"description": text, "sortable": boolean}; sortable keeps indexes that sort the project''s participants by the field: only roles not confined to projects may turn it on or off, at most participants.max_sortable_fields per project.
Returns: {"name", "type", "options", "createdDate"}.
Errors: 22023 (400) bad name, type or option, an existing value that does not convert, or a null argument; PT404 (404) project not found; PT409 (409) a different type than defined, or too many sortable fields; 42501 (403) the caller may not use this project, or is confined and changes sortable.';

COMMENT ON FUNCTION participants.drop_custom_field(uuid, text) IS
'Drop a custom field definition
Drops the definition and returns it. Values participants hold stay, as undeclared values.
Arguments: project_id (uuid) the project; name (text) the field''s name.
Returns: the dropped definition {"name", "type", "options", "createdDate"}.
Errors: 22023 (400) a null argument; PT404 (404) project or field not found; 42501 (403) the caller may not use this project, or is confined and the field is sortable.';

COMMENT ON FUNCTION participants.events_since(uuid, bigint, integer) IS
'Read a project''s events after a given event id, oldest first
Returns the project''s events after event after_id, oldest first, at most max_events, up to the first one whose transaction is still in progress: no event can later commit below an id it returned, so a consumer that resumes from the last eventID it saw misses none and sees none twice. It never waits for a writer and never makes one wait, on a hot standby as on the primary. Event ids count the project''s own events.
Arguments: project_id (uuid) the project; after_id (bigint, default 0) the last event id already seen (0 for all events); max_events (integer, default 100) the most events to return, 1..1000.
Returns: [{"eventID", "payload", "createdDate"}, ...].
Errors: 22023 (400) negative after_id or max_events outside 1..1000; PT404 (404) project not found; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.event_channel(project_id uuid)
	RETURNS text
	LANGUAGE c STABLE PARALLEL RESTRICTED
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_event_channel';

COMMENT ON FUNCTION participants.event_channel(uuid) IS
'The channel to LISTEN on for a project''s events
Every transaction that writes events of the project sends one notification, with an empty payload, on this channel when it commits. The name is random per project and only roles that may use the project can read it, so a listener learns nothing about other projects. A notification is a wake-up call: read the events, and keep the cursor, with events_since.
Arguments: project_id (uuid) the project.
Returns: the channel name (text), e.g. participants_events_3f2c...; LISTEN takes it as it is.
Errors: 22023 (400) a null project_id; PT404 (404) project not found; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.grant_access(role regrole, access text)
	RETURNS jsonb
	LANGUAGE c VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_grant_access';

COMMENT ON FUNCTION participants.grant_access(regrole, text) IS
'Grant a role what an application, a read-only role or a DBA''s raw SQL tools need
app: USAGE on the schema and EXECUTE on every API function a confined role may call; reader: the reading (STABLE) functions, allowed_projects() and SELECT on every table and view; raw: SELECT, INSERT, UPDATE and DELETE on every table (project_counter: SELECT only), SELECT on the views, the sequences, and the functions the tables'' policies and indexes call. Read from the catalog: run it again after ALTER EXTENSION participants UPDATE to grant what the new version adds. Which projects the role may use is granted separately, in participants.project_access.
Arguments: role (regrole) the role; access (text) app, reader or raw.
Returns: {"role", "access", "schema", "functions": [...], "tables": {"name": "privileges", ...}, "sequences": [...]}.
Errors: 22023 (400) another access, or a null argument; 42501 (403) the caller is confined to projects (only unconfined roles may grant).';

ALTER TABLE participants.project_counter ENABLE ROW LEVEL SECURITY;
CREATE POLICY project_confinement ON participants.project_counter
	USING (project_id = ANY ((SELECT participants.allowed_projects())::uuid[]));

-- internal: no policy, so no role but the owner sees a row
ALTER TABLE participants.segment_recheck ENABLE ROW LEVEL SECURITY;

REVOKE ALL ON participants.project_counter FROM PUBLIC;
REVOKE ALL ON participants.segment_recheck FROM PUBLIC;
REVOKE ALL ON FUNCTION participants.project_counter_create() FROM PUBLIC;
REVOKE ALL ON FUNCTION participants.project_counter_guard() FROM PUBLIC;
REVOKE ALL ON FUNCTION participants.segment_membership_number() FROM PUBLIC;
REVOKE ALL ON FUNCTION participants.event_channel(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION participants.grant_access(regrole, text) FROM PUBLIC;

CREATE FUNCTION participants.forwarded_call(project_id uuid, fn regprocedure, caller name, args text[], settings text[])
	RETURNS text
	LANGUAGE c VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_forwarded_call';
COMMENT ON FUNCTION participants.forwarded_call(uuid, regprocedure, name, text[], text[]) IS
'Internal, on a Citus cluster: runs an API function call that the coordinator checked and forwarded to the node that holds the project, in the name of the role that made it, with the coordinator''s values of the extension''s settings; the result as text. Only the owner of the extension may call it.';
REVOKE ALL ON FUNCTION participants.forwarded_call(uuid, regprocedure, name, text[], text[]) FROM PUBLIC;

CREATE FUNCTION participants.distribute()
	RETURNS jsonb
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $distribute$
DECLARE
	-- tables without project_id, and the grants every node reads whole
	reference text[] := ARRAY['project', 'project_access'];
	t record;
	f record;
	progress boolean;
	rs text;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
		RAISE EXCEPTION USING ERRCODE = '0A000',
			MESSAGE = 'participants.distribute() needs the Citus extension',
			DETAIL = 'Extension "citus" is not installed in database ' || quote_ident(current_database()) || '.',
			HINT = 'Install Citus 13 from Citus''s own packages on every node, add citus to shared_preload_libraries, CREATE EXTENSION citus, add the workers with citus_add_node(), then call participants.distribute() again.';
	END IF;
	-- for this transaction only: the extension's triggers fire on shards
	-- (each touches only its own shard group), foreign keys to reference
	-- tables stay between distributed tables, DDL runs one shard at a time
	PERFORM set_config('citus.enable_unsafe_triggers', 'on', true);
	PERFORM set_config('citus.enable_local_reference_table_foreign_keys', 'off', true);
	PERFORM set_config('citus.multi_shard_modify_mode', 'sequential', true);
	-- rows already in the tables (a dump restored before this call) go into
	-- the shards as restored rows: the extension's triggers, which fire on
	-- the workers, see a restore (row_security off, which Citus passes on to
	-- them as a SET LOCAL) and load the rows as they are, with no new events,
	-- numbers or checks. (Citus passes on a SET LOCAL only in a transaction
	-- block or a DO block, hence the DO.)
	rs := current_setting('row_security');
	SET LOCAL citus.propagate_set_commands = 'local';
	DO $set$ BEGIN SET LOCAL row_security = off; END $set$;

	-- the row-level security policies without a subquery, which Citus
	-- does not take in a policy of a distributed table
	FOR t IN
		SELECT p.tablename, p.qual FROM pg_policies p
		WHERE p.schemaname = 'participants' AND p.policyname = 'project_confinement'
		  AND p.qual LIKE '%SELECT participants.allowed_projects()%'
	LOOP
		EXECUTE format('ALTER POLICY project_confinement ON participants.%I USING (%I = ANY (participants.allowed_projects()))',
					   t.tablename, CASE t.tablename WHEN 'project' THEN 'id' ELSE 'project_id' END);
	END LOOP;

	FOR t IN SELECT unnest(reference) AS name LOOP
		IF NOT EXISTS (SELECT 1 FROM pg_dist_partition
					   WHERE logicalrelid = ('participants.' || t.name)::regclass) THEN
			PERFORM create_reference_table(('participants.' || t.name)::regclass);
		END IF;
	END LOOP;

	-- participant first, then every other table once the tables its foreign
	-- keys reference are distributed: all colocated, by project_id
	IF NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = 'participants.participant'::regclass) THEN
		PERFORM create_distributed_table('participants.participant', 'project_id');
	END IF;
	LOOP
		progress := false;
		FOR t IN
			SELECT c.oid::regclass AS rel FROM pg_class c
			WHERE c.relnamespace = 'participants'::regnamespace AND c.relkind = 'r'
			  AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'project_id' AND NOT a.attisdropped)
			  AND NOT EXISTS (SELECT 1 FROM pg_dist_partition d WHERE d.logicalrelid = c.oid)
			  AND NOT EXISTS (SELECT 1 FROM pg_constraint k
							  WHERE k.conrelid = c.oid AND k.contype = 'f' AND k.confrelid <> c.oid
								AND NOT EXISTS (SELECT 1 FROM pg_dist_partition d WHERE d.logicalrelid = k.confrelid))
			ORDER BY c.relname
		LOOP
			PERFORM create_distributed_table(t.rel, 'project_id', colocate_with => 'participants.participant');
			progress := true;
		END LOOP;
		EXIT WHEN NOT progress;
	END LOOP;
	IF EXISTS (SELECT 1 FROM pg_class c
			   WHERE c.relnamespace = 'participants'::regnamespace AND c.relkind = 'r'
				 AND NOT EXISTS (SELECT 1 FROM pg_dist_partition d WHERE d.logicalrelid = c.oid)) THEN
		RAISE EXCEPTION 'participants.distribute(): tables left undistributed: %',
			(SELECT string_agg(c.relname, ', ') FROM pg_class c
			 WHERE c.relnamespace = 'participants'::regnamespace AND c.relkind = 'r'
			   AND NOT EXISTS (SELECT 1 FROM pg_dist_partition d WHERE d.logicalrelid = c.oid));
	END IF;

	-- every API function whose first argument is project_id runs on the node
	-- that holds the project, even inside a transaction block
	FOR f IN
		SELECT p.oid::regprocedure AS fn FROM pg_proc p
		WHERE p.pronamespace = 'participants'::regnamespace AND p.prokind = 'f'
		  AND p.proargnames[1] = 'project_id' AND p.proargtypes[0] = 'uuid'::regtype
		  AND NOT EXISTS (SELECT 1 FROM pg_dist_object o
						  WHERE o.classid = 'pg_proc'::regclass AND o.objid = p.oid
							AND o.distribution_argument_index = 0)
	LOOP
		PERFORM create_distributed_function(f.fn, '$1', colocate_with => 'participants.participant',
											force_delegation => true);
	END LOOP;
	EXECUTE format('DO $set$ BEGIN SET LOCAL row_security = %s; END $set$', rs);

	-- the row-level security policies call allowed_projects(), and the
	-- indexes participant_search_text() and the custom-field sort keys, in the
	-- name of whoever reads or writes a table, and on a cluster they do so on
	-- the workers too; Citus passes on no GRANT on an extension's function
	-- that is not distributed, so on the workers every role may call them
	-- (each computes from its arguments, or answers for the caller only; the
	-- workers admit connections from the coordinator only). The coordinator,
	-- where clients connect, keeps its grants as on one node. After
	-- citus_add_node, calling distribute() again grants them on the new node.
	IF EXISTS (SELECT 1 FROM run_command_on_workers(
				   'GRANT EXECUTE ON FUNCTION participants.allowed_projects(), participants.participant_search_text(date, text[]), '
				   'participants.custom_field_sort_number(jsonb), participants.custom_field_sort_date(jsonb) TO PUBLIC') w
			   WHERE NOT w.success) THEN
		RAISE EXCEPTION 'participants.distribute(): could not grant the helpers on every worker';
	END IF;

	-- rows copied into the shards leave no copy of anyone's data in the
	-- coordinator's own tables (Citus keeps them on disk otherwise)
	FOR t IN
		SELECT d.logicalrelid AS rel FROM pg_dist_partition d JOIN pg_class c ON c.oid = d.logicalrelid
		WHERE c.relnamespace = 'participants'::regnamespace AND pg_relation_size(d.logicalrelid) > 0
		ORDER BY d.partmethod, c.relname
	LOOP
		PERFORM truncate_local_data_after_distributing_table(t.rel);
	END LOOP;

	RETURN jsonb_build_object(
		'referenceTables', (SELECT jsonb_agg(d.logicalrelid::text ORDER BY d.logicalrelid::text)
							FROM pg_dist_partition d JOIN pg_class c ON c.oid = d.logicalrelid
							WHERE c.relnamespace = 'participants'::regnamespace AND d.partmethod = 'n'),
		'distributedTables', (SELECT jsonb_agg(d.logicalrelid::text ORDER BY d.logicalrelid::text)
							  FROM pg_dist_partition d JOIN pg_class c ON c.oid = d.logicalrelid
							  WHERE c.relnamespace = 'participants'::regnamespace AND d.partmethod = 'h'),
		'distributedFunctions', (SELECT jsonb_agg(o.objid::regprocedure::text ORDER BY o.objid::regprocedure::text)
								 FROM pg_dist_object o JOIN pg_proc p ON p.oid = o.objid
								 WHERE o.classid = 'pg_proc'::regclass
								   AND p.pronamespace = 'participants'::regnamespace
								   AND o.distribution_argument_index = 0));
END
$distribute$;
COMMENT ON FUNCTION participants.distribute() IS
'Distribute the extension on a Citus cluster (run on the coordinator, as a superuser)
project and project_access become reference tables; every other table is distributed by project_id, colocated with participant; every API function whose first argument is project_id becomes a distributed function on it, so that a call runs on the node that holds the project; on the workers, the helpers the policies and indexes call are granted to every role. Calling it again is safe: it distributes only what is not distributed yet and grants the helpers again (after citus_add_node).
Returns: {"referenceTables": [...], "distributedTables": [...], "distributedFunctions": [...]}, what is distributed now.
Errors: 0A000 the Citus extension is not installed.';
REVOKE ALL ON FUNCTION participants.distribute() FROM PUBLIC;
