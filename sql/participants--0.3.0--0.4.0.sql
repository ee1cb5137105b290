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

REVOKE ALL ON participants.webhook, participants.webhook_secret, participants.webhook_delivery FROM PUBLIC;
REVOKE ALL ON FUNCTION participants.webhook_guard(), participants.create_webhook(uuid, text, text[], text),
	participants.update_webhook(uuid, uuid, text, text[], boolean, text), participants.delete_webhook(uuid, uuid),
	participants.list_webhooks(uuid), participants.rotate_webhook_secret(uuid, uuid),
	participants.webhook_deliveries(uuid, uuid, boolean, integer, integer),
	participants.replay_webhook(uuid, uuid, bigint), participants.project_settings_guard(),
	participants.get_project(uuid), participants.update_project(uuid, text, jsonb),
	participants.list_projects(), participants.list_studies(uuid, integer, integer) FROM PUBLIC;
