/* sql/participants--0.3.0--0.4.0.sql: upgrade from 0.3.0 to 0.4.0 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION participants UPDATE TO '0.4.0'" to load this file. \quit

-- 0.4.0: webhooks (tables webhook, webhook_secret, webhook_delivery, their
-- trigger, and the functions create_webhook ... replay_webhook); get_project,
-- update_project, list_projects, list_studies, and project settings checked
-- for raw writes too (project_settings_guard; rows already stored are not
-- checked). Run grant_access again to grant the new functions.

COMMENT ON SCHEMA participants IS
'Registry of research participants, as an API of SQL functions
Projects (tenants), participant records with demographics and custom fields, enrollment and withdrawal, opt-out, segments, studies with each participant''s status and its events, and webhooks that deliver the events.
The API is the functions of this schema. Over HTTP (PostgREST) each function is POST /rpc/<name> with a JSON object body whose keys are the function''s argument names; the reading (STABLE) functions also answer GET /rpc/<name> with the arguments as query parameters.
Authentication: a JWT carries the role to run as and the projects the caller may use (a claim such as project_ids, named by the setting participants.jwt_project_claim).
Errors map to HTTP statuses: 22023, 22007, 22008 -> 400 (invalid input); 42501 -> 403 (project not allowed); PT404 -> 404 (not found); 23505, PT409 -> 409 (duplicate, or a rule forbids it).';

------------------------------------------------------------------------------
-- Webhooks (0.4.0): each event pushed to the project's subscribers over HTTP,
-- signed, in order, retried, by the extension's background worker
-- (doc/webhooks.md). The secrets are in a table no role but the owner reads.
------------------------------------------------------------------------------

CREATE TABLE participants.webhook (
	project_id		uuid NOT NULL REFERENCES participants.project (id) ON DELETE CASCADE,
	id				uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid(),
	url				text NOT NULL,
	event_types		text[],			-- null: every event type
	description		text,
	active			boolean NOT NULL DEFAULT true,
	failing			boolean NOT NULL DEFAULT false,
	-- delivery: every event up to this id is delivered (or not of its types)
	last_delivered_event_id bigint,	-- null on INSERT: the project's last event id
	attempts		integer NOT NULL DEFAULT 0,	-- failed attempts at the next event
	next_attempt_date timestamptz NOT NULL DEFAULT pg_catalog.now(),
	last_delivery_number bigint NOT NULL DEFAULT 0,	-- attempts recorded in webhook_delivery
	created_date	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (project_id, id)
);
COMMENT ON TABLE participants.webhook IS
'Webhooks: where a project''s events are POSTed (url), which types (event_types, null for all), and how far delivery got: every event up to last_delivered_event_id is done; attempts failed attempts at the next one, retried from next_attempt_date; failing after participants.webhook_max_attempts of them (delivery pauses until active is set to true again or replay_webhook). The webhook_guard trigger checks url and event_types on every write. Its secret is in webhook_secret.';

CREATE TABLE participants.webhook_secret (
	project_id		uuid NOT NULL,
	webhook_id		uuid NOT NULL,
	secret			text NOT NULL,	-- whsec_ + base64 of 24 random bytes
	PRIMARY KEY (project_id, webhook_id),
	FOREIGN KEY (project_id, webhook_id) REFERENCES participants.webhook (project_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE participants.webhook_secret IS
'The signing secret of each webhook, made by the database when the webhook is created and replaced by rotate_webhook_secret. No role but the owner of the extension''s tables may read it (grant_access grants nothing on it); create_webhook and rotate_webhook_secret show it once.';

CREATE TABLE participants.webhook_delivery (
	project_id		uuid NOT NULL,
	webhook_id		uuid NOT NULL,
	number			bigint NOT NULL,	-- the webhook's attempts, counted from 1
	event_id		bigint NOT NULL,
	event_type		text NOT NULL,
	attempt			integer NOT NULL,	-- 1 for the first attempt at this event
	attempted_date	timestamptz NOT NULL,
	http_status		integer,			-- null: no answer
	error			text,				-- null: delivered (2xx)
	duration_ms		integer NOT NULL,
	PRIMARY KEY (project_id, webhook_id, number),
	FOREIGN KEY (project_id, webhook_id) REFERENCES participants.webhook (project_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE participants.webhook_delivery IS
'Every delivery attempt of a webhook: the event, its attempt number, when, the HTTP status (null when none came), the error (null when delivered) and how long it took. Written by the delivery worker.';

SELECT pg_catalog.pg_extension_config_dump('participants.webhook', '');
SELECT pg_catalog.pg_extension_config_dump('participants.webhook_secret', '');
SELECT pg_catalog.pg_extension_config_dump('participants.webhook_delivery', '');

CREATE FUNCTION participants.webhook_guard() RETURNS trigger
	LANGUAGE c AS 'MODULE_PATHNAME', 'participants_webhook_guard';
COMMENT ON FUNCTION participants.webhook_guard() IS
'Row trigger: a webhook''s url is an absolute http or https URL and its event_types are known types (null for all); a new webhook starts after the project''s last event and gets a secret; a committed change wakes the delivery worker. A restore loads rows as they were.';
CREATE TRIGGER webhook_guard
	BEFORE INSERT OR UPDATE ON participants.webhook
	FOR EACH ROW EXECUTE FUNCTION participants.webhook_guard();
CREATE TRIGGER webhook_secret_made
	AFTER INSERT ON participants.webhook
	FOR EACH ROW EXECUTE FUNCTION participants.webhook_guard();

CREATE FUNCTION participants.create_webhook(project_id uuid, url text, event_types text[] DEFAULT NULL, description text DEFAULT NULL)
	RETURNS jsonb
	LANGUAGE c VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_create_webhook';
COMMENT ON FUNCTION participants.create_webhook(uuid, text, text[], text) IS
'Subscribe a URL to a project''s events
Every event of the project committed after this call, of the given types, is POSTed to url by the delivery worker, signed with the webhook''s secret (Standard Webhooks headers webhook-id, webhook-timestamp, webhook-signature), in event-id order, retried with backoff. Needs shared_preload_libraries = ''participants''; without it the webhook is made and a WARNING says nothing is delivered.
Arguments: project_id (uuid); url (text) an absolute http or https URL; event_types (text[], default null: every type) among participant.status_changed, person.opted_out, consent.changed, person_import.api.finished, person.erased; description (text, optional).
Returns: the webhook object {"webhookID", "url", "eventTypes", "description", "active", "failing", "lastDeliveredEventID", "createdDate", "secret"}; the secret (whsec_...) is shown only here and by rotate_webhook_secret.
Errors: 22023 (400) bad url or unknown event type; PT404 (404) project not found; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.update_webhook(project_id uuid, webhook_id uuid, url text DEFAULT NULL, event_types text[] DEFAULT NULL, active boolean DEFAULT NULL, description text DEFAULT NULL)
	RETURNS jsonb
	LANGUAGE c VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_update_webhook';
COMMENT ON FUNCTION participants.update_webhook(uuid, uuid, text, text[], boolean, text) IS
'Change a webhook
Changes what is given (null keeps a value). active => false pauses delivery; active => true resumes it, also for a failing webhook (its failed attempts are forgotten and the next event is tried at once).
Arguments: project_id (uuid); webhook_id (uuid); url (text); event_types (text[]); active (boolean); description (text).
Returns: the webhook object (without the secret).
Errors: 22023 (400) bad url or unknown event type; PT404 (404) project or webhook not found; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.delete_webhook(project_id uuid, webhook_id uuid)
	RETURNS jsonb
	LANGUAGE c VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_delete_webhook';
COMMENT ON FUNCTION participants.delete_webhook(uuid, uuid) IS
'Delete a webhook with its secret and its delivery records
Arguments: project_id (uuid); webhook_id (uuid).
Returns: the webhook object as it was.
Errors: PT404 (404) project or webhook not found; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.list_webhooks(project_id uuid)
	RETURNS jsonb
	LANGUAGE c STABLE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_list_webhooks';
COMMENT ON FUNCTION participants.list_webhooks(uuid) IS
'A project''s webhooks, oldest first
Arguments: project_id (uuid).
Returns: [webhook object, ...] (never a secret).
Errors: PT404 (404) project not found; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.rotate_webhook_secret(project_id uuid, webhook_id uuid)
	RETURNS jsonb
	LANGUAGE c VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_rotate_webhook_secret';
COMMENT ON FUNCTION participants.rotate_webhook_secret(uuid, uuid) IS
'Replace a webhook''s signing secret
Deliveries attempted after the commit are signed with the new secret.
Arguments: project_id (uuid); webhook_id (uuid).
Returns: the webhook object with the new "secret" (shown only here).
Errors: PT404 (404) project or webhook not found; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.webhook_deliveries(project_id uuid, webhook_id uuid, failed_only boolean DEFAULT false, page_number integer DEFAULT 0, page_size integer DEFAULT 20)
	RETURNS jsonb
	LANGUAGE c STABLE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_webhook_deliveries';
COMMENT ON FUNCTION participants.webhook_deliveries(uuid, uuid, boolean, integer, integer) IS
'A webhook''s delivery attempts, newest first
Arguments: project_id (uuid); webhook_id (uuid); failed_only (boolean, default false) only attempts that failed; page_number (integer, default 0); page_size (integer, default 20, 1..1000).
Returns: {"pageNumber", "pageSize", "totalDeliveries", "deliveries": [{"eventID", "eventType", "attempt", "attemptedDate", "httpStatus", "error", "durationMs"}, ...]}.
Errors: 22023 (400) page out of range; PT404 (404) project or webhook not found; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.replay_webhook(project_id uuid, webhook_id uuid, after_event_id bigint)
	RETURNS jsonb
	LANGUAGE c VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_replay_webhook';
COMMENT ON FUNCTION participants.replay_webhook(uuid, uuid, bigint) IS
'Deliver a webhook''s events again, from after an event id
Delivery restarts with the first event after after_event_id (0: every event still kept) and a failing webhook resumes. Events delivered again carry the same webhook-id as before.
Arguments: project_id (uuid); webhook_id (uuid); after_event_id (bigint) 0 or more.
Returns: the webhook object.
Errors: 22023 (400) negative after_event_id; PT404 (404) project or webhook not found; 42501 (403) the caller may not use this project.';

ALTER TABLE participants.webhook ENABLE ROW LEVEL SECURITY;
CREATE POLICY project_confinement ON participants.webhook
	USING (project_id = ANY ((SELECT participants.allowed_projects())::uuid[]));
ALTER TABLE participants.webhook_delivery ENABLE ROW LEVEL SECURITY;
CREATE POLICY project_confinement ON participants.webhook_delivery
	USING (project_id = ANY ((SELECT participants.allowed_projects())::uuid[]));
-- secrets: no policy, so no role but the owner sees a row
ALTER TABLE participants.webhook_secret ENABLE ROW LEVEL SECURITY;

------------------------------------------------------------------------------
-- Projects, completed (0.4.0): get_project, update_project, list_projects,
-- list_studies; the settings a closed set for raw SQL too.
------------------------------------------------------------------------------

CREATE FUNCTION participants.project_settings_guard() RETURNS trigger
	LANGUAGE c AS 'MODULE_PATHNAME', 'participants_project_settings_guard';
COMMENT ON FUNCTION participants.project_settings_guard() IS
'Row trigger: a project''s settings hold only participantIdentifierPrefix, linkIdentifiers, strictCustomFields, incentiveYearlyLimit, retention and allowReaddAfterErasure, each of its shape (22023 otherwise). A restore loads rows as they were.';
CREATE TRIGGER project_settings_guard
	BEFORE INSERT OR UPDATE OF settings ON participants.project
	FOR EACH ROW EXECUTE FUNCTION participants.project_settings_guard();

CREATE FUNCTION participants.get_project(project_id uuid)
	RETURNS jsonb
	LANGUAGE c STABLE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_get_project';
COMMENT ON FUNCTION participants.get_project(uuid) IS
'Get a project
Arguments: project_id (uuid).
Returns: the project object {"projectID", "name", "settings", "createdDate"}.
Errors: PT404 (404) project not found; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.update_project(project_id uuid, name text DEFAULT NULL, settings jsonb DEFAULT NULL)
	RETURNS jsonb
	LANGUAGE c VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_update_project';
COMMENT ON FUNCTION participants.update_project(uuid, text, jsonb) IS
'Rename a project or change its settings
The given settings keys are merged into the project''s; a key set to JSON null is removed. Settings are a closed set: participantIdentifierPrefix (text, at most 32 characters), linkIdentifiers, strictCustomFields and allowReaddAfterErasure (booleans), incentiveYearlyLimit ({"amount": number > 0, "currency": "USD"}) and retention ({"withdrawnDays", "eventDays", "deliveryDays", "auditDays"}, whole days, each optional).
Arguments: project_id (uuid); name (text, optional) the new name; settings (jsonb object, optional) the keys to change.
Returns: the project object {"projectID", "name", "settings", "createdDate"}.
Errors: 22023 (400) an unknown setting, a value of the wrong shape, an empty name; PT404 (404) project not found; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.list_projects()
	RETURNS jsonb
	LANGUAGE c STABLE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_list_projects';
COMMENT ON FUNCTION participants.list_projects() IS
'The projects the caller may use, by name
A confined caller gets the projects granted to it (participants.project_access, or its token''s claim); a role that is not confined gets every project.
Arguments: none.
Returns: [project object {"projectID", "name", "settings", "createdDate"}, ...].
Errors: none.';

CREATE FUNCTION participants.list_studies(project_id uuid, page_number integer DEFAULT 0, page_size integer DEFAULT 20)
	RETURNS jsonb
	LANGUAGE c STABLE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_list_studies';
COMMENT ON FUNCTION participants.list_studies(uuid, integer, integer) IS
'A project''s studies, by name
Arguments: project_id (uuid); page_number (integer, default 0); page_size (integer, default 20, 1..1000).
Returns: {"pageNumber", "pageSize", "totalStudies", "studies": [study object, ...]}.
Errors: 22023 (400) page out of range; PT404 (404) project not found; 42501 (403) the caller may not use this project.';

COMMENT ON TABLE participants.project IS
'Tenants. settings may hold participantIdentifierPrefix, linkIdentifiers, strictCustomFields, incentiveYearlyLimit, retention and allowReaddAfterErasure (project_settings_guard checks them).';

-- distribute(): update_project stays on the coordinator
CREATE OR REPLACE FUNCTION participants.distribute()
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
		  -- update_project writes the reference table project: it runs on the coordinator
		  AND p.proname <> 'update_project'
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
project and project_access become reference tables; every other table is distributed by project_id, colocated with participant; every API function whose first argument is project_id (but update_project, which writes the reference table project) becomes a distributed function on it, so that a call runs on the node that holds the project; on the workers, the helpers the policies and indexes call are granted to every role. Calling it again is safe: it distributes only what is not distributed yet and grants the helpers again (after citus_add_node).
Returns: {"referenceTables": [...], "distributedTables": [...], "distributedFunctions": [...]}, what is distributed now.
Errors: 0A000 the Citus extension is not installed.';

REVOKE ALL ON participants.webhook, participants.webhook_secret, participants.webhook_delivery FROM PUBLIC;
REVOKE ALL ON FUNCTION participants.webhook_guard(), participants.create_webhook(uuid, text, text[], text),
	participants.update_webhook(uuid, uuid, text, text[], boolean, text), participants.delete_webhook(uuid, uuid),
	participants.list_webhooks(uuid), participants.rotate_webhook_secret(uuid, uuid),
	participants.webhook_deliveries(uuid, uuid, boolean, integer, integer),
	participants.replay_webhook(uuid, uuid, bigint), participants.project_settings_guard(),
	participants.get_project(uuid), participants.update_project(uuid, text, jsonb),
	participants.list_projects(), participants.list_studies(uuid, integer, integer) FROM PUBLIC;
