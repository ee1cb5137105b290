/* sql/participants--0.6.0.sql: the participants extension, sixth release (the data lifecycle: imports with row reports, erasure with tombstones, retention, an audit log) */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION participants" to load this file. \quit

COMMENT ON SCHEMA participants IS
'Registry of research participants, as an API of SQL functions
Projects (tenants), participant records with demographics and custom fields, enrollment and withdrawal, opt-out, segments, studies with each participant''s status and its events, and webhooks that deliver the events.
The API is the functions of this schema. Over HTTP (PostgREST) each function is POST /rpc/<name> with a JSON object body whose keys are the function''s argument names; the reading (STABLE) functions also answer GET /rpc/<name> with the arguments as query parameters.
Authentication: a JWT carries the role to run as and the projects the caller may use (a claim such as project_ids, named by the setting participants.jwt_project_claim).
Errors map to HTTP statuses: 22023, 22007, 22008 -> 400 (invalid input); 42501 -> 403 (project not allowed); PT404 -> 404 (not found); 23505, PT409 -> 409 (duplicate, or a rule forbids it).';

REVOKE ALL ON SCHEMA participants FROM PUBLIC;

------------------------------------------------------------------------------
-- Tables. Every key includes project_id (doc/scaling-out.md), so every table but
-- project can be distributed by project_id.
------------------------------------------------------------------------------

CREATE TABLE participants.project (
	id				uuid PRIMARY KEY,
	name			text NOT NULL CHECK (name <> ''),
	settings		jsonb NOT NULL DEFAULT '{}' CHECK (pg_catalog.jsonb_typeof(settings) = 'object'),
	created_date	timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE participants.project IS
'Tenants. settings may hold participantIdentifierPrefix, linkIdentifiers, strictCustomFields, incentiveYearlyLimit, retention and allowReaddAfterErasure (project_settings_guard checks them).';

-- Per-project counters (counter.c): drawn like a sequence, by overwriting the
-- row in place under a short per-project lock, so numbers count only their
-- own project's activity and no writer waits for another's transaction.
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

CREATE TABLE participants.participant (
	-- a project (no foreign key: participants.project_guard keeps this
	-- reference valid for the cost of a lock per call, not a query per row)
	project_id			uuid NOT NULL,
	id					uuid NOT NULL,
	participant_identifier text NOT NULL,
	link_identifier		text,
	invitation_status	text,	-- pending, declined, cancelled, approved, notInvited (participant_guard)
	email				text,
	first_name			text,
	middle_name			text,
	last_name			text,
	date_of_birth		date,
	preferred_language	text,
	gender				text,	-- M, F or O (participant_guard)
	street1				text,
	street2				text,
	city				text,
	state				text,
	postal_code			text,
	mobile_phone		text,
	utc_offset			text,
	custom_fields		jsonb NOT NULL DEFAULT '{}',
	exclude_from_export	boolean NOT NULL DEFAULT false,
	institution_code	text NOT NULL DEFAULT '',
	enrollment_date		timestamptz,
	withdraw_date		timestamptz,
	opted_out			boolean NOT NULL DEFAULT false,
	inserted_date		timestamptz NOT NULL DEFAULT pg_catalog.now(),
	updated_date		timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (project_id, id)
)
-- room on each page, so that updates that change no indexed column stay HOT
-- (no new index entries): participants are updated far more often than added
WITH (fillfactor = 85);
COMMENT ON TABLE participants.participant IS
'Participants. Write through participants.upsert_participant(s); the guard trigger holds the rules for raw writes too.';

CREATE UNIQUE INDEX participant_identifier_key
	ON participants.participant (project_id, participant_identifier);
CREATE UNIQUE INDEX participant_email_key
	ON participants.participant (project_id, pg_catalog.lower(email));
CREATE UNIQUE INDEX participant_mobile_phone_key
	ON participants.participant (project_id, mobile_phone);

CREATE TABLE participants.custom_field (
	project_id		uuid NOT NULL REFERENCES participants.project (id),
	name			text NOT NULL CHECK (name ~ '^[A-Za-z][A-Za-z0-9_]*$' AND pg_catalog.length(name) <= 63),
	type			text NOT NULL CHECK (type IN ('text', 'number', 'integer', 'boolean', 'date', 'timestamp')),
	options			jsonb NOT NULL DEFAULT '{}' CHECK (pg_catalog.jsonb_typeof(options) = 'object'),
	created_date	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (project_id, name)
);
COMMENT ON TABLE participants.custom_field IS
'Declared custom fields of a project: typed and validated on every write.';

-- Segments (doc/segments.md): a static segment (participant group) has members
-- added and removed by hand; a dynamic one has a filter, and its membership
-- is kept by the database (participant_segments_sync, segment_sync).
CREATE TABLE participants.segment (
	project_id		uuid NOT NULL REFERENCES participants.project (id),
	id				uuid NOT NULL,
	name			text NOT NULL CHECK (pg_catalog.btrim(name) <> '' AND pg_catalog.length(name) <= 200),
	description		text,
	kind			text NOT NULL CHECK (kind IN ('static', 'dynamic')),
	filter			jsonb CHECK (pg_catalog.jsonb_typeof(filter) = 'object'),
	created_date	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (project_id, id),
	CONSTRAINT segment_kind_filter CHECK ((kind = 'dynamic') = (filter IS NOT NULL))
);
COMMENT ON TABLE participants.segment IS
'Segments: static (members added and removed by hand) or dynamic (members are the participants its filter matches, kept by triggers).';
-- names are unique within a project, in any case
CREATE UNIQUE INDEX segment_name_key ON participants.segment (project_id, pg_catalog.lower(name));

-- One row per membership episode: current while remove_date is null, kept
-- with its remove_date when it ends (membership history).
CREATE TABLE participants.segment_membership (
	project_id		uuid NOT NULL,
	id				bigint NOT NULL,	-- from the project's counter (segment_membership_number)
	segment_id		uuid NOT NULL,
	participant_id	uuid NOT NULL,
	add_date		timestamptz NOT NULL DEFAULT pg_catalog.now(),
	remove_date		timestamptz CHECK (remove_date >= add_date),
	PRIMARY KEY (project_id, id),
	FOREIGN KEY (project_id, segment_id) REFERENCES participants.segment (project_id, id) ON DELETE CASCADE,
	FOREIGN KEY (project_id, participant_id) REFERENCES participants.participant (project_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE participants.segment_membership IS
'Membership episodes: current while remove_date is null. Deleting a segment or a participant deletes its episodes.';
-- at most one current episode per segment and participant; serves a
-- segment's members (query_participants with segment_id) and their count
CREATE UNIQUE INDEX segment_membership_current_key ON participants.segment_membership
	(project_id, segment_id, participant_id) WHERE remove_date IS NULL;
-- a segment's history in time order; deleting a segment
CREATE INDEX segment_membership_segment_idx ON participants.segment_membership
	(project_id, segment_id, add_date);
-- a participant's segments; deleting a participant
CREATE INDEX segment_membership_participant_idx ON participants.segment_membership
	(project_id, participant_id);

-- While a dynamic segment's membership is rebuilt (segment.c), participant
-- writes go on: the rebuild marks itself with the row of its segment whose
-- participant_id is the nil uuid (inserted and deleted by the rebuild's
-- transaction, so never seen committed), each write meanwhile adds its
-- participant for every segment being rebuilt, and each rebuild evaluates
-- its participants again before it ends. Empty between rebuilds (but for
-- the rows of a rebuild that failed, removed by the segment's next rebuild
-- or its deletion); not dumped; no role but the owner reads or writes it.
CREATE TABLE participants.segment_recheck (
	project_id		uuid NOT NULL,
	participant_id	uuid NOT NULL,
	segment_id		uuid NOT NULL,
	PRIMARY KEY (project_id, participant_id, segment_id)
);
COMMENT ON TABLE participants.segment_recheck IS
'Internal: participants written while a dynamic segment of their project was rebuilt, evaluated again by the rebuild before it ends. Empty between rebuilds, but for what a failed rebuild left (removed by the segment''s next rebuild or its deletion).';

-- Studies (doc/studies.md). A study names allowlist and blocklist segments
-- (study_segment) and completion codes with their actions; its participants
-- (study_participant) each have a status that moves along the project's
-- transition graph (status_transition), with an event for every move.
CREATE TABLE participants.study (
	project_id		uuid NOT NULL REFERENCES participants.project (id),
	id				uuid NOT NULL,
	name			text NOT NULL CHECK (pg_catalog.btrim(name) <> '' AND pg_catalog.length(name) <= 200),
	created_date	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (project_id, id)
);
COMMENT ON TABLE participants.study IS
'Studies. Write through create_study and update_study.';

CREATE TABLE participants.study_segment (
	project_id		uuid NOT NULL,
	study_id		uuid NOT NULL,
	segment_id		uuid NOT NULL,
	list			text NOT NULL CHECK (list IN ('allowlist', 'blocklist')),
	position		integer NOT NULL,
	PRIMARY KEY (project_id, study_id, segment_id),
	FOREIGN KEY (project_id, study_id) REFERENCES participants.study (project_id, id) ON DELETE CASCADE,
	FOREIGN KEY (project_id, segment_id) REFERENCES participants.segment (project_id, id)
);
COMMENT ON TABLE participants.study_segment IS
'A study''s allowlist and blocklist segments. A segment a study names cannot be deleted.';
CREATE INDEX study_segment_segment_idx ON participants.study_segment (project_id, segment_id);

CREATE TABLE participants.completion_code (
	project_id		uuid NOT NULL,
	study_id		uuid NOT NULL,
	code			text NOT NULL CHECK (code <> '' AND pg_catalog.length(code) <= 100),
	position		integer NOT NULL,
	PRIMARY KEY (project_id, study_id, code),
	FOREIGN KEY (project_id, study_id) REFERENCES participants.study (project_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE participants.completion_code IS
'A study''s completion codes; set_participant_status with a code runs its actions.';

CREATE TABLE participants.completion_action (
	project_id		uuid NOT NULL,
	study_id		uuid NOT NULL,
	code			text NOT NULL,
	position		integer NOT NULL,
	action			text NOT NULL CHECK (action IN ('ADD_TO_SEGMENT', 'REMOVE_FROM_SEGMENT')),
	segment_id		uuid NOT NULL,
	PRIMARY KEY (project_id, study_id, code, position),
	FOREIGN KEY (project_id, study_id, code) REFERENCES participants.completion_code (project_id, study_id, code) ON DELETE CASCADE
	-- No foreign key to segment: pg_dump loads the extension's tables in
	-- foreign-key order, ties by name, and one from here would load the
	-- segments before the participants; the participants' insert trigger
	-- would then fill the restored dynamic segments anew before their real
	-- memberships arrive (test/dump.sh). create_study/update_study check the
	-- segments and hold them FOR KEY SHARE; segment_guard refuses to delete a
	-- segment a code names.
);
COMMENT ON TABLE participants.completion_action IS
'What a completion code does, in order: add the participant to, or remove it from, a static segment.';
CREATE INDEX completion_action_segment_idx ON participants.completion_action (project_id, segment_id);

-- The transition graph, per project: create_project copies the default graph
-- (participants.default_status_transitions()); a DBA may add and remove rows,
-- which every backend sees from its next transaction.
CREATE TABLE participants.status_transition (
	project_id		uuid NOT NULL REFERENCES participants.project (id) ON DELETE CASCADE,
	from_status		text NOT NULL,
	to_status		text NOT NULL,
	PRIMARY KEY (project_id, from_status, to_status)
);
COMMENT ON TABLE participants.status_transition IS
'Allowed status transitions of study participants, per project. A status change not listed here is refused (PT409). COMPLETED_STUDY, CANCELLED and OPTED_OUT are final: no transition leaves them.';

CREATE TABLE participants.study_participant (
	project_id		uuid NOT NULL,
	id				uuid NOT NULL,
	study_id		uuid NOT NULL,
	participant_id	uuid NOT NULL,
	status			text NOT NULL,
	completion_code	text,		-- recorded with the current status (set_participant_status)
	last_event_id	bigint,		-- the event of the current status; set by the database
	created_date	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	updated_date	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (project_id, id),
	FOREIGN KEY (project_id, study_id) REFERENCES participants.study (project_id, id) ON DELETE CASCADE,
	FOREIGN KEY (project_id, participant_id) REFERENCES participants.participant (project_id, id) ON DELETE CASCADE
)
-- status changes rewrite no indexed column: room for HOT updates
WITH (fillfactor = 80);
COMMENT ON TABLE participants.study_participant IS
'A participant in a study, with its status. The study_participant_guard trigger enforces the transition graph and writes an event for every status change.';
CREATE UNIQUE INDEX study_participant_key ON participants.study_participant (project_id, study_id, participant_id);
CREATE INDEX study_participant_participant_idx ON participants.study_participant (project_id, participant_id);

CREATE TABLE participants.event (
	project_id		uuid NOT NULL,
	id				bigint NOT NULL,	-- from the project's counter (project_counter.last_event_id)
	event_type		text NOT NULL,	-- participant.status_changed, person.opted_out, consent.changed
	person_id		uuid NOT NULL,
	study_id		uuid,
	study_participant_id uuid,
	completion_code	text,
	payload			jsonb NOT NULL,
	created_date	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (project_id, id)
);
COMMENT ON TABLE participants.event IS
'Events: a status change (participant.status_changed), an opt-out or opt-in (person.opted_out) or a consent change (consent.changed), numbered per project and announced with a NOTIFY on the project''s channel (participants.event_channel()) when its transaction commits. Written only by the database (or a restore); never updated; deleting a participant deletes its events.';
-- a participant's events (status_history; deleting a participant)
CREATE INDEX event_person_idx ON participants.event (project_id, person_id, id);

CREATE TABLE participants.project_access (
	project_id		uuid NOT NULL REFERENCES participants.project (id) ON DELETE CASCADE,
	role_name		name NOT NULL,
	granted_date	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (project_id, role_name)
);
COMMENT ON TABLE participants.project_access IS
'Which projects a confined role may use: a role (and every role that is a member of it) may use the projects listed for it here. Superusers, roles with BYPASSRLS and the owner of these tables are not confined. PostgREST callers may also use the projects their JWT lists (setting participants.jwt_project_claim). A role that does not exist grants nothing.';

-- user data survives pg_dump / pg_restore
SELECT pg_catalog.pg_extension_config_dump('participants.project', '');
SELECT pg_catalog.pg_extension_config_dump('participants.participant', '');
SELECT pg_catalog.pg_extension_config_dump('participants.custom_field', '');
SELECT pg_catalog.pg_extension_config_dump('participants.project_counter', '');
SELECT pg_catalog.pg_extension_config_dump('participants.segment', '');
SELECT pg_catalog.pg_extension_config_dump('participants.segment_membership', '');
SELECT pg_catalog.pg_extension_config_dump('participants.study', '');
SELECT pg_catalog.pg_extension_config_dump('participants.study_segment', '');
SELECT pg_catalog.pg_extension_config_dump('participants.completion_code', '');
SELECT pg_catalog.pg_extension_config_dump('participants.completion_action', '');
SELECT pg_catalog.pg_extension_config_dump('participants.status_transition', '');
SELECT pg_catalog.pg_extension_config_dump('participants.study_participant', '');
SELECT pg_catalog.pg_extension_config_dump('participants.event', '');
SELECT pg_catalog.pg_extension_config_dump('participants.project_access', '');

------------------------------------------------------------------------------
-- Triggers (C)
------------------------------------------------------------------------------

CREATE FUNCTION participants.participant_guard() RETURNS trigger
	LANGUAGE c AS 'MODULE_PATHNAME', 'participants_participant_guard';
COMMENT ON FUNCTION participants.participant_guard() IS
'Row trigger: enrollment lock on email and phone, final withdrawal, immutable keys, value formats and custom field types.';

CREATE TRIGGER participant_guard
	BEFORE INSERT OR UPDATE ON participants.participant
	FOR EACH ROW EXECUTE FUNCTION participants.participant_guard();

CREATE FUNCTION participants.custom_field_guard() RETURNS trigger
	LANGUAGE c AS 'MODULE_PATHNAME', 'participants_custom_field_guard';
COMMENT ON FUNCTION participants.custom_field_guard() IS
'Row trigger: a custom field''s options are well formed, and it keeps its project, name and type.';

CREATE TRIGGER custom_field_guard
	BEFORE INSERT OR UPDATE ON participants.custom_field
	FOR EACH ROW EXECUTE FUNCTION participants.custom_field_guard();

CREATE FUNCTION participants.custom_field_indexes() RETURNS trigger
	LANGUAGE c AS 'MODULE_PATHNAME', 'participants_custom_field_indexes';
COMMENT ON FUNCTION participants.custom_field_indexes() IS
'Row trigger: a field declared with options.sortable has two partial indexes on participant (its sort key in each direction, for its project); they go when it stops being sortable or is dropped. Only roles not confined to projects may add or drop them (42501), and a project has at most participants.max_sortable_fields sortable fields (PT409).';

CREATE TRIGGER custom_field_indexes
	AFTER INSERT OR UPDATE OR DELETE ON participants.custom_field
	FOR EACH ROW EXECUTE FUNCTION participants.custom_field_indexes();

CREATE FUNCTION participants.project_guard() RETURNS trigger
	LANGUAGE c AS 'MODULE_PATHNAME', 'participants_project_guard';
COMMENT ON FUNCTION participants.project_guard() IS
'Row and truncate trigger: a project keeps its id, and is deleted only when it has no participants.';

CREATE TRIGGER project_guard
	BEFORE UPDATE OR DELETE ON participants.project
	FOR EACH ROW EXECUTE FUNCTION participants.project_guard();
CREATE TRIGGER project_guard_truncate
	BEFORE TRUNCATE ON participants.project
	FOR EACH STATEMENT EXECUTE FUNCTION participants.project_guard();

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

CREATE FUNCTION participants.participant_segments_sync() RETURNS trigger
	LANGUAGE c AS 'MODULE_PATHNAME', 'participants_participant_segments_sync';
COMMENT ON FUNCTION participants.participant_segments_sync() IS
'Row trigger: re-evaluates the project''s dynamic segment filters for an added or changed participant, and begins or ends its membership episodes.';

CREATE TRIGGER participant_segments_sync
	AFTER INSERT OR UPDATE ON participants.participant
	FOR EACH ROW EXECUTE FUNCTION participants.participant_segments_sync();

CREATE FUNCTION participants.segment_guard() RETURNS trigger
	LANGUAGE c AS 'MODULE_PATHNAME', 'participants_segment_guard';
COMMENT ON FUNCTION participants.segment_guard() IS
'Row trigger: a segment''s filter is valid, and it keeps its project, id and kind; a dynamic segment is created, refiltered and deleted under a project lock that participant writes wait for.';

CREATE TRIGGER segment_guard
	BEFORE INSERT OR UPDATE OR DELETE ON participants.segment
	FOR EACH ROW EXECUTE FUNCTION participants.segment_guard();

CREATE FUNCTION participants.segment_membership_number() RETURNS trigger
	LANGUAGE c AS 'MODULE_PATHNAME', 'participants_segment_membership_number';
COMMENT ON FUNCTION participants.segment_membership_number() IS
'Row trigger: a new membership episode gets its id from its project''s counter (a restore keeps the id it loads).';

CREATE TRIGGER segment_membership_number
	BEFORE INSERT ON participants.segment_membership
	FOR EACH ROW EXECUTE FUNCTION participants.segment_membership_number();

CREATE FUNCTION participants.segment_sync() RETURNS trigger
	LANGUAGE c AS 'MODULE_PATHNAME', 'participants_segment_sync';
COMMENT ON FUNCTION participants.segment_sync() IS
'Row and truncate trigger: when a dynamic segment''s filter changes, its membership is rebuilt (episodes end for participants it no longer matches and begin for new matches); every backend reloads the project''s dynamic segments.';

CREATE TRIGGER segment_sync
	AFTER INSERT OR UPDATE OR DELETE ON participants.segment
	FOR EACH ROW EXECUTE FUNCTION participants.segment_sync();
CREATE TRIGGER segment_sync_truncate
	AFTER TRUNCATE ON participants.segment
	FOR EACH STATEMENT EXECUTE FUNCTION participants.segment_sync();

CREATE FUNCTION participants.study_participant_guard() RETURNS trigger
	LANGUAGE c AS 'MODULE_PATHNAME', 'participants_study_participant_guard';
COMMENT ON FUNCTION participants.study_participant_guard() IS
'Row trigger: a study participant''s status is one of the 22 and moves only along the project''s status_transition graph; every change writes an event (announced on the project''s channel at commit). A new study participant starts at NOT_STARTED, without last_event_id or completion_code, and not while the participant is withdrawn or opted out; only a restore loads rows as they were.';

CREATE TRIGGER study_participant_guard
	BEFORE INSERT OR UPDATE ON participants.study_participant
	FOR EACH ROW EXECUTE FUNCTION participants.study_participant_guard();

CREATE FUNCTION participants.study_participant_created() RETURNS trigger
	LANGUAGE c AS 'MODULE_PATHNAME', 'participants_study_participant_created';
COMMENT ON FUNCTION participants.study_participant_created() IS
'Row trigger: a new study participant keeps the first event (priorStatus null) that study_participant_guard wrote for it. Statement trigger: the first events of rows the statement did not insert after all (INSERT ... ON CONFLICT skipped them) are deleted. A row loaded by a restore gets none.';

CREATE TRIGGER study_participant_created
	AFTER INSERT ON participants.study_participant
	FOR EACH ROW EXECUTE FUNCTION participants.study_participant_created();
CREATE TRIGGER study_participant_created_statement
	AFTER INSERT ON participants.study_participant
	FOR EACH STATEMENT EXECUTE FUNCTION participants.study_participant_created();

CREATE FUNCTION participants.participant_studies_sync() RETURNS trigger
	LANGUAGE c AS 'MODULE_PATHNAME', 'participants_participant_studies_sync';
COMMENT ON FUNCTION participants.participant_studies_sync() IS
'Row trigger: an opt-out moves the participant''s non-final study statuses to OPTED_OUT, a withdrawal to CANCELLED (with their events); an opt-out or opt-in writes a person.opted_out event; deleting a participant deletes its events.';

CREATE TRIGGER participant_studies_sync
	AFTER UPDATE ON participants.participant
	FOR EACH ROW
	WHEN (OLD.opted_out IS DISTINCT FROM NEW.opted_out
		  OR (OLD.withdraw_date IS NULL AND NEW.withdraw_date IS NOT NULL))
	EXECUTE FUNCTION participants.participant_studies_sync();
CREATE TRIGGER participant_events_delete
	AFTER DELETE ON participants.participant
	FOR EACH ROW EXECUTE FUNCTION participants.participant_studies_sync();

CREATE FUNCTION participants.status_transition_guard() RETURNS trigger
	LANGUAGE c AS 'MODULE_PATHNAME', 'participants_status_transition_guard';
COMMENT ON FUNCTION participants.status_transition_guard() IS
'Row trigger: a transition joins two of the 22 statuses and leaves no final status. Statement trigger: every backend reloads the graph (from its next transaction).';

CREATE TRIGGER status_transition_guard
	BEFORE INSERT OR UPDATE ON participants.status_transition
	FOR EACH ROW EXECUTE FUNCTION participants.status_transition_guard();
CREATE TRIGGER status_transition_cache_invalidate
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON participants.status_transition
	FOR EACH STATEMENT EXECUTE FUNCTION participants.status_transition_guard();

CREATE FUNCTION participants.event_guard() RETURNS trigger
	LANGUAGE c AS 'MODULE_PATHNAME', 'participants_event_guard';
COMMENT ON FUNCTION participants.event_guard() IS
'Row trigger: events are written by the database (or loaded by a restore) and never changed; they may be deleted.';

CREATE TRIGGER event_guard
	BEFORE INSERT OR UPDATE ON participants.event
	FOR EACH ROW EXECUTE FUNCTION participants.event_guard();

CREATE FUNCTION participants.cache_invalidate() RETURNS trigger
	LANGUAGE c AS 'MODULE_PATHNAME', 'participants_cache_invalidate';
COMMENT ON FUNCTION participants.cache_invalidate() IS
'Statement trigger: every backend reloads its cached project settings, custom field definitions and project access grants.';

CREATE TRIGGER project_cache_invalidate
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON participants.project
	FOR EACH STATEMENT EXECUTE FUNCTION participants.cache_invalidate();
CREATE TRIGGER custom_field_cache_invalidate
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON participants.custom_field
	FOR EACH STATEMENT EXECUTE FUNCTION participants.cache_invalidate();
CREATE TRIGGER project_access_cache_invalidate
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON participants.project_access
	FOR EACH STATEMENT EXECUTE FUNCTION participants.cache_invalidate();

------------------------------------------------------------------------------
-- Functions. Not STRICT: a null argument gets a 22023 error naming it.
------------------------------------------------------------------------------

CREATE FUNCTION participants.create_project(name text, settings jsonb DEFAULT '{}')
	RETURNS uuid
	LANGUAGE c VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_create_project';
COMMENT ON FUNCTION participants.create_project(text, jsonb) IS
'Create a project (tenant) and return its id
Creates a project with its settings and copies the default status transition graph (participants.default_status_transitions()) into it. Only unconfined roles (superusers, roles with BYPASSRLS, the owner of the extension''s tables) may create projects; confined roles are then granted projects in participants.project_access.
Arguments: name (text) the project''s name; settings (jsonb, default {}) optional settings: participantIdentifierPrefix (text, default "") the prefix of generated participantIdentifiers, linkIdentifiers (boolean, default true) generate a linkIdentifier for each new participant, strictCustomFields (boolean, default false) refuse undeclared custom fields.
Returns: the new project''s id (uuid).
Errors: 22023 (400) an unknown setting, a wrong type or a null name; 42501 (403) the caller is confined to projects (only unconfined roles may create projects).';

CREATE FUNCTION participants.upsert_participant(project_id uuid, participant jsonb)
	RETURNS jsonb
	LANGUAGE c VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_upsert_participant';
COMMENT ON FUNCTION participants.upsert_participant(uuid, jsonb) IS
'Add or update one participant
The body selects a participant by id (must exist) or participantIdentifier (exists: update, else add); with neither, demographics.email is required and the call adds.
Updates are partial: absent keys keep their values, demographics and customFields merge key by key, JSON null clears. A call that changes nothing answers "none".
Arguments: project_id (uuid) the project; participant (jsonb) the participant body: id or participantIdentifier to select, and the keys to set (demographics, customFields, invitationStatus, ...).
Returns: {"actionTaken": "add" | "update" | "none", "result": participant}.
Errors: 22023/22007/22008 (400) invalid body or a null argument; 23505 (409) duplicate participantIdentifier, email or phone in the project; PT404 (404) project or id not found; PT409 (409) changing the email or phone of an enrolled participant; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.upsert_participants(project_id uuid, participants jsonb, allow_update boolean DEFAULT true)
	RETURNS jsonb
	LANGUAGE c VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_upsert_participants';
COMMENT ON FUNCTION participants.upsert_participants(uuid, jsonb, boolean) IS
'Add or update many participants, all or nothing, in order
Each body is applied as by upsert_participant, in order; when one fails, nothing is written. With allow_update false, a body that matches an existing participant is an error (PT409).
Arguments: project_id (uuid) the project; participants (jsonb) a JSON array of participant bodies, or {"participants": [...]}; allow_update (boolean, default true) false to refuse bodies that match an existing participant (add only).
Returns: {"totalAdded": n, "totalUpdated": n, "results": [{"actionTaken", "result"}, ...]}.
Errors: SQLSTATEs as for upsert_participant: 22023/22007/22008 (400) invalid body; 23505 (409) duplicate participantIdentifier, email or phone; PT404 (404) project or id not found; PT409 (409) email or phone of an enrolled participant, or a match with allow_update false; 42501 (403) the caller may not use this project. Messages name the element, e.g. participants[3].demographics.email.';

CREATE FUNCTION participants.get_participant(project_id uuid, participant text, query_by_id boolean DEFAULT false)
	RETURNS jsonb
	LANGUAGE c STABLE PARALLEL RESTRICTED
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_get_participant';
COMMENT ON FUNCTION participants.get_participant(uuid, text, boolean) IS
'Get one participant by participantIdentifier or id
Reads one participant of the project, by participantIdentifier (or by id with query_by_id).
Arguments: project_id (uuid) the project; participant (text) the participant''s participantIdentifier, or its id with query_by_id; query_by_id (boolean, default false) true to select the participant by id.
Returns: the participant object.
Errors: 22023 (400) malformed id or a null argument; PT404 (404) project or participant not found; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.enroll_participant(project_id uuid, participant text, query_by_id boolean DEFAULT false)
	RETURNS jsonb
	LANGUAGE c VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_enroll_participant';
COMMENT ON FUNCTION participants.enroll_participant(uuid, text, boolean) IS
'Enroll a participant
Sets enrollmentDate, which locks email and mobile phone. Enrolling an enrolled participant changes nothing.
Arguments: project_id (uuid) the project; participant (text) the participant''s participantIdentifier, or its id with query_by_id; query_by_id (boolean, default false) true to select the participant by id.
Returns: {"actionTaken": "update", "result": participant}, or "none" when already enrolled.
Errors: 22023 (400) malformed id or a null argument; PT404 (404) project or participant not found; PT409 (409) the participant is withdrawn; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.withdraw_participant(project_id uuid, participant text, query_by_id boolean DEFAULT false)
	RETURNS jsonb
	LANGUAGE c VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_withdraw_participant';
COMMENT ON FUNCTION participants.withdraw_participant(uuid, text, boolean) IS
'Withdraw a participant (final)
Sets withdrawDate, which is final. The record and its history are kept; the participant''s non-final study statuses move to CANCELLED, each with its event.
Arguments: project_id (uuid) the project; participant (text) the participant''s participantIdentifier, or its id with query_by_id; query_by_id (boolean, default false) true to select the participant by id.
Returns: {"actionTaken": "update", "result": participant}.
Errors: 22023 (400) malformed id or a null argument; PT404 (404) project or participant not found; PT409 (409) already withdrawn; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.delete_participant(project_id uuid, participant text, query_by_id boolean DEFAULT false)
	RETURNS jsonb
	LANGUAGE c VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_delete_participant';
COMMENT ON FUNCTION participants.delete_participant(uuid, text, boolean) IS
'Delete a participant and everything that refers to it
Deletes the participant with its segment memberships, study participations and events, in one transaction.
Arguments: project_id (uuid) the project; participant (text) the participant''s participantIdentifier, or its id with query_by_id; query_by_id (boolean, default false) true to select the participant by id.
Returns: {"actionTaken": "delete", "result": participant as it was}.
Errors: 22023 (400) malformed id or a null argument; PT404 (404) project or participant not found; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.define_custom_field(project_id uuid, name text, type text, options jsonb DEFAULT '{}')
	RETURNS jsonb
	LANGUAGE c VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_define_custom_field';
COMMENT ON FUNCTION participants.define_custom_field(uuid, text, text, jsonb) IS
'Declare a typed custom field, or update its options
Declares a custom field of type text, number, integer, boolean, date or timestamp; values are then typed and validated on every write. Values participants already hold are converted to the type, or the call fails. Defining an existing field again with the same type updates its options.
Arguments: project_id (uuid) the project; name (text) the field''s name (a letter, then letters, digits or _; at most 63 characters); type (text) text, number, integer, boolean, date or timestamp; options (jsonb, default {}) {"description": text, "sortable": boolean}; sortable keeps indexes that sort the project''s participants by the field: only roles not confined to projects may turn it on or off, at most participants.max_sortable_fields per project.
Returns: {"name", "type", "options", "createdDate"}.
Errors: 22023 (400) bad name, type or option, an existing value that does not convert, or a null argument; PT404 (404) project not found; PT409 (409) a different type than defined, or too many sortable fields; 42501 (403) the caller may not use this project, or is confined and changes sortable.';

CREATE FUNCTION participants.custom_fields(project_id uuid)
	RETURNS jsonb
	LANGUAGE c STABLE PARALLEL RESTRICTED
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_custom_fields';
COMMENT ON FUNCTION participants.custom_fields(uuid) IS
'List a project''s declared custom fields
The declared custom fields of a project, by name.
Arguments: project_id (uuid) the project.
Returns: [{"name", "type", "options", "createdDate"}, ...].
Errors: 22023 (400) a null project_id; PT404 (404) project not found; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.drop_custom_field(project_id uuid, name text)
	RETURNS jsonb
	LANGUAGE c VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_drop_custom_field';
COMMENT ON FUNCTION participants.drop_custom_field(uuid, text) IS
'Drop a custom field definition
Drops the definition and returns it. Values participants hold stay, as undeclared values.
Arguments: project_id (uuid) the project; name (text) the field''s name.
Returns: the dropped definition {"name", "type", "options", "createdDate"}.
Errors: 22023 (400) a null argument; PT404 (404) project or field not found; 42501 (403) the caller may not use this project, or is confined and the field is sortable.';

CREATE FUNCTION participants.query_participants(project_id uuid, query text DEFAULT NULL,
		segment_id uuid DEFAULT NULL, custom_fields jsonb DEFAULT NULL,
		demographic_fields jsonb DEFAULT NULL, sort_by text DEFAULT 'InsertedDate',
		sort_ascending boolean DEFAULT true, page_number integer DEFAULT 0,
		page_size integer DEFAULT 20)
	RETURNS jsonb
	LANGUAGE c STABLE PARALLEL RESTRICTED
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_query_participants';
COMMENT ON FUNCTION participants.query_participants(uuid, text, uuid, jsonb, jsonb, text, boolean, integer, integer) IS
'Search a project''s participants, a page at a time
Filters combine with AND. With segment_id only the segment''s current members are searched, each result with addedToSegmentDate, and query then also matches custom field values. Numbers sort as numbers, ISO dates as dates; rows without the sort key come last; ties by id.
Arguments: project_id (uuid) the project; query (text, default null) case-insensitive substring of any demographic or identifier (% and _ match literally); segment_id (uuid, default null) only this segment''s current members; custom_fields (jsonb, default null) {"Name": value} equalities on the value''s text form; demographic_fields (jsonb, default null) {"LastName": "Smith"} case-insensitive equalities; sort_by (text, default InsertedDate) InsertedDate, EnrollmentDate, ParticipantIdentifier, SecondaryIdentifier, InvitationStatus, CustomField.NAME or DemographicField.NAME (case-insensitive); sort_ascending (boolean, default true) false for descending order; page_number (integer, default 0) the page, from 0; page_size (integer, default 20) rows per page, 1..1000.
Returns: {"pageNumber", "pageSize", "totalParticipants", "participants": [participant, ...]}.
Errors: 22023 (400) bad argument (page_size outside 1..1000, negative page, unknown sort key or field); PT404 (404) project or segment not found; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.create_segment(project_id uuid, name text, description text DEFAULT NULL, filter jsonb DEFAULT NULL)
	RETURNS jsonb
	LANGUAGE c VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_create_segment';
COMMENT ON FUNCTION participants.create_segment(uuid, text, text, jsonb) IS
'Create a static or dynamic segment
With filter null the segment is static (a participant group: members added and removed by hand); with a filter it is dynamic: its members are the participants the filter matches, kept current by the database.
Arguments: project_id (uuid) the project; name (text) the segment''s name, unique in the project in any case, 1..200 characters; description (text, default null) free text; filter (jsonb, default null) null for a static segment, or an object with keys query, custom_fields, demographic_fields (as in query_participants), invitation_status (a status, or null for none), enrolled, withdrawn (booleans), all combined with AND.
Returns: the segment object {"segmentID", "segmentName", "description", "kind", "filter", "createdDate", "participantCount"}.
Errors: 22023 (400) bad name or filter; 23505 (409) name taken in the project; PT404 (404) project not found; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.update_segment(project_id uuid, segment_id uuid, name text DEFAULT NULL, description text DEFAULT NULL, filter jsonb DEFAULT NULL)
	RETURNS jsonb
	LANGUAGE c VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_update_segment';
COMMENT ON FUNCTION participants.update_segment(uuid, uuid, text, text, jsonb) IS
'Rename a segment, change its description or its filter
Changes a segment''s name, its description (an empty string clears it) or, for a dynamic segment, its filter, which rebuilds its membership. A null argument keeps the value.
Arguments: project_id (uuid) the project; segment_id (uuid) the segment; name (text, default null) the new name; description (text, default null) the new description, '''' to clear it; filter (jsonb, default null) the new filter of a dynamic segment, keys as in create_segment.
Returns: the segment object.
Errors: 22023 (400) bad name or filter; 23505 (409) name taken; PT404 (404) project or segment not found; PT409 (409) a filter for a static segment; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.delete_segment(project_id uuid, segment_id uuid)
	RETURNS jsonb
	LANGUAGE c VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_delete_segment';
COMMENT ON FUNCTION participants.delete_segment(uuid, uuid) IS
'Delete a segment with its memberships and their history
Deletes the segment, its memberships and their history. A segment a study names cannot be deleted.
Arguments: project_id (uuid) the project; segment_id (uuid) the segment.
Returns: the segment object as it was.
Errors: PT404 (404) project or segment not found; PT409 (409) a study names the segment; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.get_segment(project_id uuid, segment_id uuid)
	RETURNS jsonb
	LANGUAGE c STABLE PARALLEL RESTRICTED
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_get_segment';
COMMENT ON FUNCTION participants.get_segment(uuid, uuid) IS
'Get one segment
Reads one segment of the project, with its current member count.
Arguments: project_id (uuid) the project; segment_id (uuid) the segment.
Returns: {"segmentID", "segmentName", "description", "kind", "filter", "createdDate", "participantCount"}.
Errors: PT404 (404) project or segment not found; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.list_segments(project_id uuid, page_number integer DEFAULT 0, page_size integer DEFAULT 20)
	RETURNS jsonb
	LANGUAGE c STABLE PARALLEL RESTRICTED
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_list_segments';
COMMENT ON FUNCTION participants.list_segments(uuid, integer, integer) IS
'List a project''s segments by name, a page at a time
Lists the project''s segments, ordered by name.
Arguments: project_id (uuid) the project; page_number (integer, default 0) the page, from 0; page_size (integer, default 20) rows per page, 1..1000.
Returns: {"pageNumber", "pageSize", "totalSegments", "segments": [segment, ...]}.
Errors: 22023 (400) page_size outside 1..1000 or negative page_number; PT404 (404) project not found; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.add_segment_members(project_id uuid, segment_id uuid, participants jsonb, query_by_id boolean DEFAULT false)
	RETURNS jsonb
	LANGUAGE c VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_add_segment_members';
COMMENT ON FUNCTION participants.add_segment_members(uuid, uuid, jsonb, boolean) IS
'Add participants to a static segment
Starts a membership for each participant named. Current members are counted, not added again.
Arguments: project_id (uuid) the project; segment_id (uuid) the static segment; participants (jsonb) a JSON array of participantIdentifiers (of ids with query_by_id); query_by_id (boolean, default false) true when participants lists ids.
Returns: {"added": n, "alreadyMembers": n}.
Errors: 22023 (400) not an array of strings; PT404 (404) project, segment or a participant not found (nothing is added); PT409 (409) a dynamic segment; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.remove_segment_members(project_id uuid, segment_id uuid, participants jsonb, query_by_id boolean DEFAULT false)
	RETURNS jsonb
	LANGUAGE c VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_remove_segment_members';
COMMENT ON FUNCTION participants.remove_segment_members(uuid, uuid, jsonb, boolean) IS
'Remove participants from a static segment
Each current membership ends and stays in the history. Non-members are counted, not an error.
Arguments: project_id (uuid) the project; segment_id (uuid) the static segment; participants (jsonb) a JSON array of participantIdentifiers (of ids with query_by_id); query_by_id (boolean, default false) true when participants lists ids.
Returns: {"removed": n, "notMembers": n}.
Errors: 22023 (400) not an array of strings; PT404 (404) project, segment or a participant not found (nothing is removed); PT409 (409) a dynamic segment; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.segment_history(project_id uuid, segment_id uuid, participant text DEFAULT NULL, query_by_id boolean DEFAULT false)
	RETURNS jsonb
	LANGUAGE c STABLE PARALLEL RESTRICTED
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_segment_history';
COMMENT ON FUNCTION participants.segment_history(uuid, uuid, text, boolean) IS
'List a segment''s membership episodes, in the order they began
Membership episodes of a segment (of one participant when given), in the order they began; removeDate is null while the membership is current.
Arguments: project_id (uuid) the project; segment_id (uuid) the segment; participant (text, default null) only this participant''s episodes: its participantIdentifier, or its id with query_by_id; query_by_id (boolean, default false) true when participant is an id.
Returns: [{"participantID", "addDate", "removeDate"}, ...]; participantID is the participant''s id.
Errors: PT404 (404) project, segment or participant not found; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.participant_segments(project_id uuid, participant text, query_by_id boolean DEFAULT false)
	RETURNS jsonb
	LANGUAGE c STABLE PARALLEL RESTRICTED
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_participant_segments';
COMMENT ON FUNCTION participants.participant_segments(uuid, text, boolean) IS
'List the segments a participant is a member of now
The participant''s current segment memberships, in the order it joined them.
Arguments: project_id (uuid) the project; participant (text) the participant''s participantIdentifier, or its id with query_by_id; query_by_id (boolean, default false) true to select the participant by id.
Returns: [{"segmentID", "segmentName", "addDate"}, ...].
Errors: PT404 (404) project or participant not found; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.get_study(project_id uuid, study_id uuid)
	RETURNS jsonb
	LANGUAGE c STABLE PARALLEL RESTRICTED
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_get_study';
COMMENT ON FUNCTION participants.get_study(uuid, uuid) IS
'Get one study
Reads one study of the project, with its participant count.
Arguments: project_id (uuid) the project; study_id (uuid) the study.
Returns: {"studyID", "studyName", "allowlist", "blocklist", "completionCodes", "createdDate", "participantCount"}.
Errors: PT404 (404) project or study not found; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.add_study_participants(project_id uuid, study_id uuid, participants jsonb, query_by_id boolean DEFAULT false)
	RETURNS jsonb
	LANGUAGE c VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_add_study_participants';
COMMENT ON FUNCTION participants.add_study_participants(uuid, uuid, jsonb, boolean) IS
'Add participants to a study, at status NOT_STARTED
Each participant added starts at NOT_STARTED, with its first event. Participants who cannot join are skipped with a reason: withdrawn, opted_out, already_in_study, not_eligible.
Arguments: project_id (uuid) the project; study_id (uuid) the study; participants (jsonb) a JSON array of participantIdentifiers (of ids with query_by_id); query_by_id (boolean, default false) true when participants lists ids.
Returns: {"added": n, "skipped": [{"participant", "reason"}, ...]}.
Errors: 22023 (400) not an array of strings; PT404 (404) project, study or a participant not found (nothing is added); 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.study_participants(project_id uuid, study_id uuid, status text DEFAULT NULL,
		page_number integer DEFAULT 0, page_size integer DEFAULT 20)
	RETURNS jsonb
	LANGUAGE c STABLE PARALLEL RESTRICTED
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_study_participants';
COMMENT ON FUNCTION participants.study_participants(uuid, uuid, text, integer, integer) IS
'List a study''s participants, a page at a time
A study''s participants (only those at status, when given), in the order they were added.
Arguments: project_id (uuid) the project; study_id (uuid) the study; status (text, default null) only participants at this status; page_number (integer, default 0) the page, from 0; page_size (integer, default 20) rows per page, 1..1000.
Returns: {"pageNumber", "pageSize", "totalParticipants", "participants": [{"participantId", "personId", "participantIdentifier", "status", "completionCode", "addedDate", "updatedAt"}, ...]}.
Errors: 22023 (400) unknown status or bad paging; PT404 (404) project or study not found; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.status_history(project_id uuid, study_id uuid, participant text, query_by_id boolean DEFAULT false)
	RETURNS jsonb
	LANGUAGE c STABLE PARALLEL RESTRICTED
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_status_history';
COMMENT ON FUNCTION participants.status_history(uuid, uuid, text, boolean) IS
'List a participant''s statuses in a study, oldest first
Every status the participant has had in the study, oldest first; the first has priorStatus null.
Arguments: project_id (uuid) the project; study_id (uuid) the study; participant (text) the participant''s participantIdentifier, or its id with query_by_id; query_by_id (boolean, default false) true to select the participant by id.
Returns: [{"status", "priorStatus", "updatedAt"}, ...].
Errors: PT404 (404) project, study or participant not found, or the participant is not in the study; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.set_opted_out(project_id uuid, participant text, opted_out boolean, query_by_id boolean DEFAULT false)
	RETURNS jsonb
	LANGUAGE c VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_set_opted_out';
COMMENT ON FUNCTION participants.set_opted_out(uuid, text, boolean, boolean) IS
'Opt a participant out of all research, or back in
Opting out moves every non-final study status to OPTED_OUT (each with its event) and keeps the participant out of new studies; opting back in allows new studies and revives no status. Each change writes a person.opted_out event {"eventType", "personId", "optedOut", "updatedAt"}.
Arguments: project_id (uuid) the project; participant (text) the participant''s participantIdentifier, or its id with query_by_id; opted_out (boolean) true to opt out, false to opt back in; query_by_id (boolean, default false) true to select the participant by id.
Returns: {"actionTaken": "update" | "none", "result": participant}.
Errors: 22023 (400) null argument or malformed id; PT404 (404) project or participant not found; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.events_since(project_id uuid, after_id bigint DEFAULT 0, max_events integer DEFAULT 100)
	RETURNS jsonb
	LANGUAGE c STABLE PARALLEL RESTRICTED
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_events_since';
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

CREATE FUNCTION participants.default_status_transitions()
	RETURNS TABLE (from_status text, to_status text)
	LANGUAGE c IMMUTABLE PARALLEL SAFE
	AS 'MODULE_PATHNAME', 'participants_default_status_transitions';
COMMENT ON FUNCTION participants.default_status_transitions() IS
'The default transition graph that create_project copies into participants.status_transition.';

CREATE FUNCTION participants.participant_search_text(date_of_birth date, VARIADIC fields text[])
	RETURNS text
	LANGUAGE c IMMUTABLE PARALLEL SAFE	-- not STRICT: null fields are skipped
	AS 'MODULE_PATHNAME', 'participants_participant_search_text';
COMMENT ON FUNCTION participants.participant_search_text(date, text[]) IS
'The lowercased text query_participants searches: date of birth, demographics and identifiers, one control character between fields. Takes columns, not the row, so an index on it leaves other updates HOT.';

CREATE FUNCTION participants.custom_field_sort_number(jsonb)
	RETURNS numeric
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
	AS 'MODULE_PATHNAME', 'participants_custom_field_sort_number';
COMMENT ON FUNCTION participants.custom_field_sort_number(jsonb) IS
'Sort key of a custom field value: a number, or a string holding one; otherwise null.';

CREATE FUNCTION participants.custom_field_sort_date(jsonb)
	RETURNS text
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
	AS 'MODULE_PATHNAME', 'participants_custom_field_sort_date';
COMMENT ON FUNCTION participants.custom_field_sort_date(jsonb) IS
'Sort key of a custom field value: a string starting with an ISO date (YYYY-MM-DD); otherwise null.';

-- Search indexes. query_participants writes its filters in these indexes' terms:
-- "query" as a LIKE on the search text (trigram GIN), "custom_fields" as
-- containments (GIN jsonb_path_ops). project_id leads both (btree_gin), so a
-- search reads its own project's entries only, not every project's matches.
-- gin_trgm_ops comes from pg_trgm, the uuid GIN operator class from btree_gin.
CREATE INDEX participant_search_idx ON participants.participant
	USING gin (project_id, participants.participant_search_text(date_of_birth, VARIADIC ARRAY[
		participant_identifier, link_identifier, custom_fields ->> 'SecondaryIdentifier',
		email, first_name, middle_name, last_name, preferred_language, gender,
		street1, street2, city, state, postal_code, mobile_phone, utc_offset]) gin_trgm_ops);
CREATE INDEX participant_custom_fields_idx ON participants.participant
	USING gin (project_id, custom_fields jsonb_path_ops);
-- the default order (InsertedDate), either direction, without a sort
CREATE INDEX participant_inserted_idx ON participants.participant (project_id, inserted_date, id);

------------------------------------------------------------------------------
-- Views for people in psql
------------------------------------------------------------------------------

CREATE VIEW participants.participant_directory WITH (security_invoker = true) AS
SELECT
	pr.name AS project,
	p.participant_identifier,
	p.custom_fields ->> 'SecondaryIdentifier' AS secondary_identifier,
	p.link_identifier,
	p.first_name,
	p.middle_name,
	p.last_name,
	p.email,
	p.mobile_phone,
	p.date_of_birth,
	p.enrollment_date IS NOT NULL AS enrolled,
	p.withdraw_date IS NOT NULL AS withdrawn,
	p.opted_out,
	p.invitation_status,
	(SELECT pg_catalog.count(*) FROM participants.segment_membership m
	  WHERE m.project_id = p.project_id AND m.participant_id = p.id
	    AND m.remove_date IS NULL) AS segment_count,
	p.custom_fields,
	p.inserted_date,
	p.project_id,
	p.id
FROM participants.participant p
JOIN participants.project pr ON pr.id = p.project_id;
COMMENT ON VIEW participants.participant_directory IS
'One readable row per participant: project name, identifiers, names, contact, enrollment, withdrawal, opt-out, invitation status, segment count and custom fields.';

CREATE VIEW participants.segment_summary WITH (security_invoker = true) AS
SELECT
	pr.name AS project,
	s.name,
	s.kind,
	(SELECT pg_catalog.count(*) FROM participants.segment_membership m
	  WHERE m.project_id = s.project_id AND m.segment_id = s.id
	    AND m.remove_date IS NULL) AS members,
	s.created_date AS created,
	s.description,
	s.filter,
	s.project_id,
	s.id
FROM participants.segment s
JOIN participants.project pr ON pr.id = s.project_id;
COMMENT ON VIEW participants.segment_summary IS
'One row per segment: project name, segment name, kind (static or dynamic), current members, created date, description and filter.';

CREATE VIEW participants.study_funnel WITH (security_invoker = true) AS
SELECT
	pr.name AS project,
	st.name AS study,
	sp.status,
	pg_catalog.count(*) AS participants,
	st.project_id,
	st.id AS study_id
FROM participants.study_participant sp
JOIN participants.study st ON st.project_id = sp.project_id AND st.id = sp.study_id
JOIN participants.project pr ON pr.id = st.project_id
GROUP BY pr.name, st.project_id, st.id, st.name, sp.status;
COMMENT ON VIEW participants.study_funnel IS
'Participants per study and status (statuses nobody is at are left out).';

CREATE VIEW participants.study_summary WITH (security_invoker = true) AS
SELECT
	pr.name AS project,
	st.name AS study,
	(SELECT pg_catalog.count(*) FROM participants.study_participant sp
	  WHERE sp.project_id = st.project_id AND sp.study_id = st.id) AS participants,
	(SELECT pg_catalog.count(*) FROM participants.study_participant sp
	  WHERE sp.project_id = st.project_id AND sp.study_id = st.id
	    AND sp.status IN ('COMPLETED_STUDY', 'CANCELLED', 'OPTED_OUT')) AS finished,
	(SELECT pg_catalog.string_agg(s.name, ', ' ORDER BY ss.position) FROM participants.study_segment ss
	  JOIN participants.segment s ON s.project_id = ss.project_id AND s.id = ss.segment_id
	  WHERE ss.project_id = st.project_id AND ss.study_id = st.id AND ss.list = 'allowlist') AS allowlist,
	(SELECT pg_catalog.string_agg(s.name, ', ' ORDER BY ss.position) FROM participants.study_segment ss
	  JOIN participants.segment s ON s.project_id = ss.project_id AND s.id = ss.segment_id
	  WHERE ss.project_id = st.project_id AND ss.study_id = st.id AND ss.list = 'blocklist') AS blocklist,
	(SELECT pg_catalog.string_agg(c.code, ', ' ORDER BY c.position) FROM participants.completion_code c
	  WHERE c.project_id = st.project_id AND c.study_id = st.id) AS completion_codes,
	st.created_date AS created,
	st.project_id,
	st.id
FROM participants.study st
JOIN participants.project pr ON pr.id = st.project_id;
COMMENT ON VIEW participants.study_summary IS
'One row per study: project, name, participants, how many reached a final status, allowlist and blocklist segment names, completion codes, created date.';

------------------------------------------------------------------------------
-- Confinement: row-level security on every table. A role that row-level
-- security applies to (not a superuser, not BYPASSRLS, not the owner) sees
-- and writes only the rows of the projects it may use. The API functions
-- check the same rule themselves (confine.c) and then work as the owner.
------------------------------------------------------------------------------

CREATE FUNCTION participants.allowed_projects()
	RETURNS uuid[]
	LANGUAGE c STABLE PARALLEL RESTRICTED	-- no arguments; null: not confined
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_allowed_projects';
COMMENT ON FUNCTION participants.allowed_projects() IS
'The projects the current role may use: those participants.project_access grants to it or to a role it belongs to, and those its JWT claim lists (setting participants.jwt_project_claim). Null for a role that is not confined. The row-level security policies of the extension''s tables call it.';

ALTER TABLE participants.project ENABLE ROW LEVEL SECURITY;
CREATE POLICY project_confinement ON participants.project
	USING (id = ANY ((SELECT participants.allowed_projects())::uuid[]));
ALTER TABLE participants.participant ENABLE ROW LEVEL SECURITY;
CREATE POLICY project_confinement ON participants.participant
	USING (project_id = ANY ((SELECT participants.allowed_projects())::uuid[]));
ALTER TABLE participants.custom_field ENABLE ROW LEVEL SECURITY;
CREATE POLICY project_confinement ON participants.custom_field
	USING (project_id = ANY ((SELECT participants.allowed_projects())::uuid[]));
ALTER TABLE participants.segment ENABLE ROW LEVEL SECURITY;
CREATE POLICY project_confinement ON participants.segment
	USING (project_id = ANY ((SELECT participants.allowed_projects())::uuid[]));
ALTER TABLE participants.segment_membership ENABLE ROW LEVEL SECURITY;
CREATE POLICY project_confinement ON participants.segment_membership
	USING (project_id = ANY ((SELECT participants.allowed_projects())::uuid[]));
ALTER TABLE participants.study ENABLE ROW LEVEL SECURITY;
CREATE POLICY project_confinement ON participants.study
	USING (project_id = ANY ((SELECT participants.allowed_projects())::uuid[]));
ALTER TABLE participants.study_segment ENABLE ROW LEVEL SECURITY;
CREATE POLICY project_confinement ON participants.study_segment
	USING (project_id = ANY ((SELECT participants.allowed_projects())::uuid[]));
ALTER TABLE participants.completion_code ENABLE ROW LEVEL SECURITY;
CREATE POLICY project_confinement ON participants.completion_code
	USING (project_id = ANY ((SELECT participants.allowed_projects())::uuid[]));
ALTER TABLE participants.completion_action ENABLE ROW LEVEL SECURITY;
CREATE POLICY project_confinement ON participants.completion_action
	USING (project_id = ANY ((SELECT participants.allowed_projects())::uuid[]));
ALTER TABLE participants.status_transition ENABLE ROW LEVEL SECURITY;
CREATE POLICY project_confinement ON participants.status_transition
	USING (project_id = ANY ((SELECT participants.allowed_projects())::uuid[]));
ALTER TABLE participants.study_participant ENABLE ROW LEVEL SECURITY;
CREATE POLICY project_confinement ON participants.study_participant
	USING (project_id = ANY ((SELECT participants.allowed_projects())::uuid[]));
ALTER TABLE participants.event ENABLE ROW LEVEL SECURITY;
CREATE POLICY project_confinement ON participants.event
	USING (project_id = ANY ((SELECT participants.allowed_projects())::uuid[]));
ALTER TABLE participants.project_access ENABLE ROW LEVEL SECURITY;
CREATE POLICY project_confinement ON participants.project_access
	USING (project_id = ANY ((SELECT participants.allowed_projects())::uuid[]));
ALTER TABLE participants.project_counter ENABLE ROW LEVEL SECURITY;
CREATE POLICY project_confinement ON participants.project_counter
	USING (project_id = ANY ((SELECT participants.allowed_projects())::uuid[]));
-- internal: no policy, so no role but the owner sees a row
ALTER TABLE participants.segment_recheck ENABLE ROW LEVEL SECURITY;


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

------------------------------------------------------------------------------
-- Governance (0.5.0): versioned consent with per-scope grants and
-- withdrawals, studies that require consent, contact rules the status
-- trigger enforces, and an incentive ledger (doc/governance.md).
------------------------------------------------------------------------------

CREATE TABLE participants.consent (
	project_id		uuid NOT NULL REFERENCES participants.project (id) ON DELETE CASCADE,
	id				uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid(),
	name			text NOT NULL CHECK (pg_catalog.btrim(name) <> '' AND pg_catalog.length(name) <= 200),
	version			integer NOT NULL CHECK (version >= 1),
	scopes			text[] NOT NULL,
	text_sha256		text CHECK (text_sha256 ~ '^[0-9a-f]{64}$'),
	description		text CHECK (pg_catalog.length(description) <= 2000),
	created_date	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (project_id, id),
	UNIQUE (project_id, name, version)
);
COMMENT ON TABLE participants.consent IS
'Consent documents: each version of a named consent with the scopes it asks for (and the SHA-256 of its text). Versions are never changed: define_consent adds the next one. The consent_guard trigger checks the scopes.';

CREATE TABLE participants.participant_consent (
	project_id		uuid NOT NULL,
	participant_id	uuid NOT NULL,
	name			text NOT NULL,
	version			integer NOT NULL,
	scopes			text[] NOT NULL,	-- granted now; empty once all are withdrawn
	granted_date	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	updated_date	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (project_id, participant_id, name),
	FOREIGN KEY (project_id, participant_id) REFERENCES participants.participant (project_id, id) ON DELETE CASCADE,
	FOREIGN KEY (project_id, name, version) REFERENCES participants.consent (project_id, name, version)
);
COMMENT ON TABLE participants.participant_consent IS
'Each participant''s consent now, per consent name: the version granted and the scopes still granted. Write through record_consent and withdraw_consent; the participant_consent_guard trigger holds raw writes to the same rules (scopes of that version), records the history, writes the consent.changed event, and cancels statuses in studies that required what was withdrawn.';

CREATE TABLE participants.consent_history (
	project_id		uuid NOT NULL,
	participant_id	uuid NOT NULL,
	name			text NOT NULL,
	number			integer NOT NULL,	-- 1, 2, ... per participant and name
	action			text NOT NULL CHECK (action IN ('grant', 'withdraw')),
	version			integer NOT NULL,
	scopes			text[] NOT NULL,	-- granted or withdrawn by this action
	method			text,
	evidence		jsonb,
	reason			text,
	created_date	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (project_id, participant_id, name, number),
	FOREIGN KEY (project_id, participant_id) REFERENCES participants.participant (project_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE participants.consent_history IS
'Every grant and withdrawal of consent, in order. Written only by the database (or a restore); never changed.';

CREATE TABLE participants.study_consent (
	project_id		uuid NOT NULL,
	study_id		uuid NOT NULL,
	name			text NOT NULL,
	min_version		integer NOT NULL CHECK (min_version >= 1),
	scopes			text[] NOT NULL DEFAULT '{}',
	position		integer NOT NULL DEFAULT 0,
	PRIMARY KEY (project_id, study_id, name),
	FOREIGN KEY (project_id, study_id) REFERENCES participants.study (project_id, id) ON DELETE CASCADE,
	FOREIGN KEY (project_id, name, min_version) REFERENCES participants.consent (project_id, name, version)
);
COMMENT ON TABLE participants.study_consent IS
'Consents a study requires (requiredConsents): a current grant of the name at version min_version or later that covers the scopes. A participant without it is not eligible, is skipped by add_study_participants (no_consent) and cannot be moved into a contact status of the study.';
CREATE INDEX study_consent_name_idx ON participants.study_consent (project_id, name);

CREATE TABLE participants.contact_rule (
	project_id		uuid NOT NULL REFERENCES participants.project (id) ON DELETE CASCADE,
	position		integer NOT NULL,
	max_contacts	integer CHECK (max_contacts >= 1),
	window_days		integer CHECK (window_days BETWEEN 1 AND 36500),
	cooldown_days	integer CHECK (cooldown_days BETWEEN 1 AND 36500),
	max_active_studies integer CHECK (max_active_studies >= 1),
	PRIMARY KEY (project_id, position),
	CHECK ((max_contacts IS NOT NULL AND window_days IS NOT NULL AND cooldown_days IS NULL AND max_active_studies IS NULL)
		OR (max_contacts IS NULL AND window_days IS NULL AND cooldown_days IS NOT NULL AND max_active_studies IS NULL)
		OR (max_contacts IS NULL AND window_days IS NULL AND cooldown_days IS NULL AND max_active_studies IS NOT NULL))
);
COMMENT ON TABLE participants.contact_rule IS
'A project''s contact rules, one per row: at most max_contacts contacts in any window_days; no contact within cooldown_days after reaching COMPLETED_STUDY; at most max_active_studies studies in progress. The study_participant_guard trigger refuses a contact that breaks one (PT409). Write through set_contact_rules.';

CREATE TABLE participants.contact (
	project_id		uuid NOT NULL,
	participant_id	uuid NOT NULL,
	contact_date	timestamptz NOT NULL,
	study_id		uuid NOT NULL,
	status			text NOT NULL,
	event_id		bigint NOT NULL,
	override		jsonb,			-- {"rule", "reason"} when a rule was overridden
	PRIMARY KEY (project_id, participant_id, contact_date, study_id),
	FOREIGN KEY (project_id, participant_id) REFERENCES participants.participant (project_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE participants.contact IS
'Every contact of a participant: a move into INVITE_SENT, INTERVIEW_INVITE_SENT or UNMODERATED_TEST_INVITE_SENT in any study, with its event and any rule overridden. Written only by the database (or a restore); what the contact rules count.';

CREATE TABLE participants.incentive (
	project_id		uuid NOT NULL,
	id				uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid(),
	participant_id	uuid NOT NULL,
	study_id		uuid NOT NULL,
	amount			numeric NOT NULL,
	currency		text NOT NULL,
	status			text NOT NULL DEFAULT 'sent',
	external_id		text,
	note			text,
	override_reason	text,			-- why the yearly limit was passed
	created_date	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	updated_date	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (project_id, id),
	FOREIGN KEY (project_id, study_id, participant_id)
		REFERENCES participants.study_participant (project_id, study_id, participant_id) ON DELETE CASCADE
);
COMMENT ON TABLE participants.incentive IS
'What each participant was paid, per study: amount > 0 in an ISO 4217 currency, status pending -> sent -> claimed (or cancelled from any but claimed). The incentive_guard trigger checks every write, holds the project''s incentiveYearlyLimit unless override_reason is given, and moves the study status to INCENTIVE_SENT or INCENTIVE_CLAIMED where the graph allows.';
CREATE UNIQUE INDEX incentive_external_key ON participants.incentive (project_id, external_id);
CREATE INDEX incentive_participant_idx ON participants.incentive (project_id, participant_id, created_date);

SELECT pg_catalog.pg_extension_config_dump('participants.consent', '');
SELECT pg_catalog.pg_extension_config_dump('participants.participant_consent', '');
SELECT pg_catalog.pg_extension_config_dump('participants.consent_history', '');
SELECT pg_catalog.pg_extension_config_dump('participants.study_consent', '');
SELECT pg_catalog.pg_extension_config_dump('participants.contact_rule', '');
SELECT pg_catalog.pg_extension_config_dump('participants.contact', '');
SELECT pg_catalog.pg_extension_config_dump('participants.incentive', '');

CREATE FUNCTION participants.consent_guard() RETURNS trigger
	LANGUAGE c AS 'MODULE_PATHNAME', 'participants_consent_guard';
COMMENT ON FUNCTION participants.consent_guard() IS
'Row trigger: a consent version has at least one scope, each a non-empty name of at most 100 characters without spaces, none twice; a version, once made, is never changed. A restore loads rows as they were.';
CREATE TRIGGER consent_guard
	BEFORE INSERT OR UPDATE ON participants.consent
	FOR EACH ROW EXECUTE FUNCTION participants.consent_guard();

CREATE FUNCTION participants.consent_history_guard() RETURNS trigger
	LANGUAGE c AS 'MODULE_PATHNAME', 'participants_consent_history_guard';
COMMENT ON FUNCTION participants.consent_history_guard() IS
'Row trigger: consent history is written by the database (a change of participant_consent) or loaded by a restore, and never changed.';
CREATE TRIGGER consent_history_guard
	BEFORE INSERT OR UPDATE ON participants.consent_history
	FOR EACH ROW EXECUTE FUNCTION participants.consent_history_guard();

CREATE FUNCTION participants.contact_guard() RETURNS trigger
	LANGUAGE c AS 'MODULE_PATHNAME', 'participants_contact_guard';
COMMENT ON FUNCTION participants.contact_guard() IS
'Row trigger: contacts are written by the database (a move into a contact status) or loaded by a restore, and never changed.';
CREATE TRIGGER contact_guard
	BEFORE INSERT OR UPDATE ON participants.contact
	FOR EACH ROW EXECUTE FUNCTION participants.contact_guard();

CREATE FUNCTION participants.participant_consent_guard() RETURNS trigger
	LANGUAGE c AS 'MODULE_PATHNAME', 'participants_participant_consent_guard';
COMMENT ON FUNCTION participants.participant_consent_guard() IS
'Row trigger: a participant''s consent grants only scopes of its version; every change is recorded in consent_history with a consent.changed event, and a change that leaves a study''s required consent unmet moves the participant''s non-final statuses in that study to CANCELLED. A restore loads rows as they were.';
CREATE TRIGGER participant_consent_guard
	BEFORE INSERT OR UPDATE ON participants.participant_consent
	FOR EACH ROW EXECUTE FUNCTION participants.participant_consent_guard();
CREATE TRIGGER participant_consent_changed
	AFTER INSERT OR UPDATE OR DELETE ON participants.participant_consent
	FOR EACH ROW EXECUTE FUNCTION participants.participant_consent_guard();

CREATE FUNCTION participants.study_consent_guard() RETURNS trigger
	LANGUAGE c AS 'MODULE_PATHNAME', 'participants_study_consent_guard';
COMMENT ON FUNCTION participants.study_consent_guard() IS
'Row trigger: a study''s required consent names scopes of its minimum version. A restore loads rows as they were.';
CREATE TRIGGER study_consent_guard
	BEFORE INSERT OR UPDATE ON participants.study_consent
	FOR EACH ROW EXECUTE FUNCTION participants.study_consent_guard();

CREATE FUNCTION participants.incentive_guard() RETURNS trigger
	LANGUAGE c AS 'MODULE_PATHNAME', 'participants_incentive_guard';
COMMENT ON FUNCTION participants.incentive_guard() IS
'Row trigger: an incentive''s amount is positive, its currency three capital letters, its status pending, sent, claimed or cancelled and moves only pending -> sent -> claimed or to cancelled (but from claimed); the project''s incentiveYearlyLimit holds unless override_reason is set; recording sent or claimed moves the study status to INCENTIVE_SENT or INCENTIVE_CLAIMED where the graph allows. A restore loads rows as they were.';
CREATE TRIGGER incentive_guard
	BEFORE INSERT OR UPDATE ON participants.incentive
	FOR EACH ROW EXECUTE FUNCTION participants.incentive_guard();
CREATE TRIGGER incentive_paid
	AFTER INSERT OR UPDATE ON participants.incentive
	FOR EACH ROW EXECUTE FUNCTION participants.incentive_guard();

-- Studies and statuses, with the arguments 0.5.0 added

CREATE FUNCTION participants.create_study(project_id uuid, name text, allowlist uuid[] DEFAULT '{}',
		blocklist uuid[] DEFAULT '{}', completion_codes jsonb DEFAULT '[]', required_consents jsonb DEFAULT NULL)
	RETURNS jsonb
	LANGUAGE c VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_create_study';
COMMENT ON FUNCTION participants.create_study(uuid, text, uuid[], uuid[], jsonb, jsonb) IS
'Create a study with eligibility segments, completion codes and required consents
A participant is eligible for the study when not withdrawn, not opted out, in at least one allowlist segment (when any is named), in no blocklist segment, and holding the consents it requires.
Arguments: project_id (uuid) the project; name (text) the study''s name; allowlist (uuid[], default {}) ids of segments an eligible participant must be in (one of them); blocklist (uuid[], default {}) ids of segments an eligible participant must not be in; completion_codes (jsonb, default []) [{"code": "X", "actions": [{"action": "ADD_TO_SEGMENT" | "REMOVE_FROM_SEGMENT", "segmentID": static segment id}]}]; required_consents (jsonb, default null: none) [{"name": "main", "minVersion": 2, "scopes": ["contact"]}, ...] (minVersion defaults to 1, scopes to none).
Returns: the study object {"studyID", "studyName", "allowlist", "blocklist", "completionCodes", "requiredConsents", "createdDate", "participantCount"}.
Errors: 22023 (400) bad name, list, code or required consent; PT404 (404) project, segment or consent (version) not found; PT409 (409) an action on a dynamic segment; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.update_study(project_id uuid, study_id uuid, name text DEFAULT NULL,
		allowlist uuid[] DEFAULT NULL, blocklist uuid[] DEFAULT NULL, completion_codes jsonb DEFAULT NULL,
		required_consents jsonb DEFAULT NULL)
	RETURNS jsonb
	LANGUAGE c VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_update_study';
COMMENT ON FUNCTION participants.update_study(uuid, uuid, text, uuid[], uuid[], jsonb, jsonb) IS
'Rename a study or replace its segment lists, completion codes or required consents
Replaces what it is given. A null argument keeps the value; ''{}'' or ''[]'' empties it. New required consents apply to later contacts and additions; they cancel no status.
Arguments: project_id (uuid) the project; study_id (uuid) the study; name (text, default null) the new name; allowlist (uuid[], default null) the new allowlist segment ids; blocklist (uuid[], default null) the new blocklist segment ids; completion_codes (jsonb, default null) the new completion codes, as in create_study; required_consents (jsonb, default null) the new required consents, as in create_study.
Returns: the study object.
Errors: as create_study: 22023 (400) bad name, list, code or required consent; PT404 (404) project, study, segment or consent not found; PT409 (409) an action on a dynamic segment; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.set_participant_status(project_id uuid, study_id uuid, participant text, status text,
		query_by_id boolean DEFAULT false, completion_code text DEFAULT NULL, override_reason text DEFAULT NULL)
	RETURNS jsonb
	LANGUAGE c VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_set_participant_status';
COMMENT ON FUNCTION participants.set_participant_status(uuid, uuid, text, text, boolean, text, text) IS
'Move a participant to a new status in a study
The move must follow the project''s transition graph (participants.status_transition). A contact (a move into INVITE_SENT, INTERVIEW_INVITE_SENT or UNMODERATED_TEST_INVITE_SENT) also needs the consents the study requires and must keep to the project''s contact rules; override_reason lets a contact through a contact rule and is recorded in the event. With completion_code, the code''s actions run in the same transaction.
Arguments: project_id (uuid) the project; study_id (uuid) the study; participant (text) the participant''s participantIdentifier, or its id with query_by_id; status (text) the new status (upper case, e.g. INVITE_SENT); query_by_id (boolean, default false) true to select the participant by id; completion_code (text, default null) one of the study''s completion codes, whose actions run; override_reason (text, default null) why a contact may break a contact rule.
Returns: the event {"eventType": "participant.status_changed", "participantId", "personId", "studyId", "status", "priorStatus", "updatedAt"} (with "override": {"rule", "reason"} when a rule was overridden); participantId is the study participant''s id, personId the participant''s.
Errors: 22023 (400) unknown status or completion code, empty override_reason; PT404 (404) project, study or participant not found, or the participant is not in the study; PT409 (409) a transition the graph does not allow (from a final status, or to the current one), a contact without the required consent, a contact a rule refuses (the DETAIL gives the date from which it is allowed); 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.eligible_participants(project_id uuid, study_id uuid, page_number integer DEFAULT 0,
		page_size integer DEFAULT 20, contactable_only boolean DEFAULT true)
	RETURNS jsonb
	LANGUAGE c STABLE PARALLEL RESTRICTED
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_eligible_participants';
COMMENT ON FUNCTION participants.eligible_participants(uuid, uuid, integer, integer, boolean) IS
'List the participants eligible for a study now
Eligible: not withdrawn, not opted out, in at least one allowlist segment (when any), in no blocklist segment, holding the consents the study requires; with contactable_only, also not refused by a contact rule now (for a contact in this study). In the order they were added to the registry.
Arguments: project_id (uuid) the project; study_id (uuid) the study; page_number (integer, default 0) the page, from 0; page_size (integer, default 20) 1 to 1000; contactable_only (boolean, default true) leave out participants a contact rule would refuse now.
Returns: {"pageNumber", "pageSize", "totalParticipants", "participants": [participant object, ...]}.
Errors: 22023 (400) page out of range; PT404 (404) project or study not found; 42501 (403) the caller may not use this project.';

-- Consent

CREATE FUNCTION participants.define_consent(project_id uuid, name text, scopes text[], text_sha256 text DEFAULT NULL, description text DEFAULT NULL)
	RETURNS jsonb
	LANGUAGE c VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_define_consent';
COMMENT ON FUNCTION participants.define_consent(uuid, text, text[], text, text) IS
'Define the next version of a consent
The first call for a name makes version 1; each later call makes the next version. Versions are never changed.
Arguments: project_id (uuid); name (text) the consent''s name; scopes (text[]) what it asks for, e.g. {contact,data_sharing}; text_sha256 (text, optional) the SHA-256 of the document''s text, 64 hex digits; description (text, optional).
Returns: {"consentID", "name", "version", "scopes", "textSha256", "description", "createdDate"}.
Errors: 22023 (400) empty name, no scopes, a bad scope or a bad text_sha256; PT404 (404) project not found; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.record_consent(project_id uuid, participant text, name text, version integer DEFAULT NULL,
		scopes text[] DEFAULT NULL, method text DEFAULT NULL, evidence jsonb DEFAULT NULL, by text DEFAULT 'identifier')
	RETURNS jsonb
	LANGUAGE c VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_record_consent';
COMMENT ON FUNCTION participants.record_consent(uuid, text, text, integer, text[], text, jsonb, text) IS
'Record a participant''s consent
Grants scopes of a version of the consent. Granting the version already held adds the scopes to those granted; granting another version replaces the grant. Writes a consent.changed event.
Arguments: project_id (uuid); participant (text) the participant, as by says; name (text) the consent; version (integer, default null: the latest); scopes (text[], default null: all of the version''s scopes); method (text, optional) how it was given, e.g. web_form; evidence (jsonb, optional) e.g. {"ip": "..."}; by (text, default identifier) identifier, id or email.
Returns: the consent state {"name", "version", "latestVersion", "scopes", "grantedDate", "history": [...]}.
Errors: 22023 (400) a scope not in the version, a bad by; PT404 (404) project, participant, consent or version not found; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.withdraw_consent(project_id uuid, participant text, name text, scopes text[] DEFAULT NULL,
		reason text DEFAULT NULL, by text DEFAULT 'identifier')
	RETURNS jsonb
	LANGUAGE c VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_withdraw_consent';
COMMENT ON FUNCTION participants.withdraw_consent(uuid, text, text, text[], text, text) IS
'Withdraw a participant''s consent, in whole or by scope
Writes a consent.changed event. Every non-final status of the participant in a study whose required consent is no longer met moves to CANCELLED, each with its event.
Arguments: project_id (uuid); participant (text) as by says; name (text) the consent; scopes (text[], default null: all); reason (text, optional); by (text, default identifier) identifier, id or email.
Returns: the consent state, as record_consent.
Errors: 22023 (400) a scope not in the version, a bad by; PT404 (404) project or participant not found, or the participant never consented to the name; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.participant_consents(project_id uuid, participant text, by text DEFAULT 'identifier')
	RETURNS jsonb
	LANGUAGE c STABLE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_participant_consents';
COMMENT ON FUNCTION participants.participant_consents(uuid, text, text) IS
'A participant''s consents, with their full history
Arguments: project_id (uuid); participant (text) as by says; by (text, default identifier) identifier, id or email.
Returns: [{"name", "version", "latestVersion", "scopes", "grantedDate", "history": [{"action": "grant" | "withdraw", "version", "scopes", "date", "method", "reason"}, ...]}, ...] by name; scopes are the scopes granted now.
Errors: 22023 (400) a bad by; PT404 (404) project or participant not found; 42501 (403) the caller may not use this project.';

-- Contact rules

CREATE FUNCTION participants.set_contact_rules(project_id uuid, rules jsonb)
	RETURNS jsonb
	LANGUAGE c VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_set_contact_rules';
COMMENT ON FUNCTION participants.set_contact_rules(uuid, jsonb) IS
'Replace a project''s contact rules
A contact is a move into INVITE_SENT, INTERVIEW_INVITE_SENT or UNMODERATED_TEST_INVITE_SENT in any study of the project; the database refuses one that breaks a rule (PT409), from every client.
Arguments: project_id (uuid); rules (jsonb) an array of {"maxContacts": n, "windowDays": d} (at most n contacts in any d days), {"cooldownDaysAfterCompletion": d} (none within d days after COMPLETED_STUDY in any study), {"maxActiveStudies": n} (at most n studies in progress: a status other than NOT_STARTED and the final ones); [] for none.
Returns: the rules, as stored.
Errors: 22023 (400) an unknown key, a missing or non-positive number; PT404 (404) project not found; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.contact_rules(project_id uuid)
	RETURNS jsonb
	LANGUAGE c STABLE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_contact_rules';
COMMENT ON FUNCTION participants.contact_rules(uuid) IS
'A project''s contact rules
Arguments: project_id (uuid).
Returns: the rules, as set_contact_rules takes them ([] for none).
Errors: PT404 (404) project not found; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.contact_history(project_id uuid, participant text, by text DEFAULT 'identifier')
	RETURNS jsonb
	LANGUAGE c STABLE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_contact_history';
COMMENT ON FUNCTION participants.contact_history(uuid, text, text) IS
'A participant''s contacts, and when the rules allow the next one
Arguments: project_id (uuid); participant (text) as by says; by (text, default identifier) identifier, id or email.
Returns: {"contacts": [{"studyID", "status", "date"}, ...] oldest first, "nextContactDate": when a contact in another study is allowed (null when it is allowed now, or when no date lifts the rule), "blockedBy": the rule that refuses a contact now, or null}.
Errors: 22023 (400) a bad by; PT404 (404) project or participant not found; 42501 (403) the caller may not use this project.';

-- Incentives

CREATE FUNCTION participants.record_incentive(project_id uuid, participant text, study_id uuid, amount numeric, currency text,
		status text DEFAULT 'sent', external_id text DEFAULT NULL, note text DEFAULT NULL,
		override_reason text DEFAULT NULL, by text DEFAULT 'identifier')
	RETURNS jsonb
	LANGUAGE c VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_record_incentive';
COMMENT ON FUNCTION participants.record_incentive(uuid, text, uuid, numeric, text, text, text, text, text, text) IS
'Record an incentive paid to a participant for a study
The same external_id again updates that incentive instead of adding one. Recording sent or claimed moves the study status to INCENTIVE_SENT or INCENTIVE_CLAIMED when the graph allows it from the current status. The project''s incentiveYearlyLimit refuses an incentive that would take the participant''s total for the year in that currency above it, unless override_reason is given.
Arguments: project_id (uuid); participant (text) as by says; study_id (uuid); amount (numeric) > 0; currency (text) ISO 4217, e.g. USD; status (text, default sent) pending, sent, claimed or cancelled; external_id (text, optional) your payment''s id; note (text, optional); override_reason (text, optional) why the yearly limit may be passed; by (text, default identifier) identifier, id or email.
Returns: {"incentiveID", "personId", "studyID", "amount", "currency", "status", "externalID", "note", "createdDate", "updatedDate"}.
Errors: 22023 (400) a bad amount, currency, status or by; PT404 (404) project, participant or study not found, or the participant is not in the study; PT409 (409) the yearly limit, a status move the ledger does not allow, an external_id of another participant or study; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.update_incentive(project_id uuid, incentive_id uuid, status text, override_reason text DEFAULT NULL)
	RETURNS jsonb
	LANGUAGE c VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_update_incentive';
COMMENT ON FUNCTION participants.update_incentive(uuid, uuid, text, text) IS
'Move an incentive to another status
pending -> sent -> claimed, and any but claimed -> cancelled. Moving to sent or claimed moves the study status as record_incentive does, and counts towards the yearly limit.
Arguments: project_id (uuid); incentive_id (uuid); status (text); override_reason (text, optional) why the yearly limit may be passed.
Returns: the incentive object.
Errors: 22023 (400) unknown status; PT404 (404) project or incentive not found; PT409 (409) a move the ledger does not allow, the yearly limit; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.list_incentives(project_id uuid, participant text DEFAULT NULL, study_id uuid DEFAULT NULL,
		status text DEFAULT NULL, page_number integer DEFAULT 0, page_size integer DEFAULT 20, by text DEFAULT 'identifier')
	RETURNS jsonb
	LANGUAGE c STABLE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_list_incentives';
COMMENT ON FUNCTION participants.list_incentives(uuid, text, uuid, text, integer, integer, text) IS
'A project''s incentives, oldest first, optionally of one participant, study or status
Arguments: project_id (uuid); participant (text, optional) as by says; study_id (uuid, optional); status (text, optional); page_number (integer, default 0); page_size (integer, default 20, 1..1000); by (text, default identifier) identifier, id or email.
Returns: {"pageNumber", "pageSize", "totalIncentives", "incentives": [incentive object, ...]}.
Errors: 22023 (400) page out of range, unknown status, a bad by; PT404 (404) project, participant or study not found; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.incentive_totals(project_id uuid, year integer)
	RETURNS jsonb
	LANGUAGE c STABLE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_incentive_totals';
COMMENT ON FUNCTION participants.incentive_totals(uuid, integer) IS
'What each participant was paid in a calendar year (UTC), per currency
Counts incentives sent or claimed, by the year they were created.
Arguments: project_id (uuid); year (integer).
Returns: [{"personId", "currency", "total"}, ...] by personId and currency.
Errors: 22023 (400) a year outside 1..9999; PT404 (404) project not found; 42501 (403) the caller may not use this project.';

ALTER TABLE participants.consent ENABLE ROW LEVEL SECURITY;
CREATE POLICY project_confinement ON participants.consent
	USING (project_id = ANY ((SELECT participants.allowed_projects())::uuid[]));
ALTER TABLE participants.participant_consent ENABLE ROW LEVEL SECURITY;
CREATE POLICY project_confinement ON participants.participant_consent
	USING (project_id = ANY ((SELECT participants.allowed_projects())::uuid[]));
ALTER TABLE participants.consent_history ENABLE ROW LEVEL SECURITY;
CREATE POLICY project_confinement ON participants.consent_history
	USING (project_id = ANY ((SELECT participants.allowed_projects())::uuid[]));
ALTER TABLE participants.study_consent ENABLE ROW LEVEL SECURITY;
CREATE POLICY project_confinement ON participants.study_consent
	USING (project_id = ANY ((SELECT participants.allowed_projects())::uuid[]));
ALTER TABLE participants.contact_rule ENABLE ROW LEVEL SECURITY;
CREATE POLICY project_confinement ON participants.contact_rule
	USING (project_id = ANY ((SELECT participants.allowed_projects())::uuid[]));
ALTER TABLE participants.contact ENABLE ROW LEVEL SECURITY;
CREATE POLICY project_confinement ON participants.contact
	USING (project_id = ANY ((SELECT participants.allowed_projects())::uuid[]));
ALTER TABLE participants.incentive ENABLE ROW LEVEL SECURITY;
CREATE POLICY project_confinement ON participants.incentive
	USING (project_id = ANY ((SELECT participants.allowed_projects())::uuid[]));

-- People by email (0.5.0): the calls that address people by email

CREATE FUNCTION participants.get_opted_out(project_id uuid, participant text, by text DEFAULT 'identifier')
	RETURNS jsonb
	LANGUAGE c STABLE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_get_opted_out';
COMMENT ON FUNCTION participants.get_opted_out(uuid, text, text) IS
'Whether a participant has opted out
Arguments: project_id (uuid); participant (text) as by says; by (text, default identifier) identifier, id or email.
Returns: {"personId", "optedOut", "updatedAt"}; updatedAt is the last opt-out or opt-in (when the participant was added if never).
Errors: 22023 (400) a bad by; PT404 (404) project or participant not found; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.opt_out_people(project_id uuid, people jsonb, opted_out boolean DEFAULT true, by text DEFAULT 'email')
	RETURNS jsonb
	LANGUAGE c VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_opt_out_people';
COMMENT ON FUNCTION participants.opt_out_people(uuid, jsonb, boolean, text) IS
'Opt many people out (or back in), named by email
Each change is as set_opted_out makes it: an opt-out moves the person''s open study statuses to OPTED_OUT, and each writes a person.opted_out event. All in one transaction.
Arguments: project_id (uuid); people (jsonb) an array of emails (any case; identifiers or ids with by); opted_out (boolean, default true); by (text, default email) email, identifier or id.
Returns: {"updated": n, "unchanged": n, "notFound": [the strings not found, in the order given]}.
Errors: 22023 (400) not an array of strings, a bad by; PT404 (404) project not found; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.delete_people(project_id uuid, people jsonb, by text DEFAULT 'email')
	RETURNS jsonb
	LANGUAGE c VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_delete_people';
COMMENT ON FUNCTION participants.delete_people(uuid, jsonb, text) IS
'Delete many people, named by email, in one transaction
Each is deleted as delete_participant deletes one (with its memberships, study statuses, events, consents, contacts and incentives).
Arguments: project_id (uuid); people (jsonb) an array of emails (identifiers or ids with by); by (text, default email) email, identifier or id.
Returns: {"deleted": n, "notFound": [the strings not found, in the order given]}.
Errors: 22023 (400) not an array of strings, a bad by; PT404 (404) project not found; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.set_segment_members(project_id uuid, segment_id uuid, participants jsonb, by text DEFAULT 'identifier')
	RETURNS jsonb
	LANGUAGE c VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_set_segment_members';
COMMENT ON FUNCTION participants.set_segment_members(uuid, uuid, jsonb, text) IS
'Make a static segment''s members exactly a list
Members not in the list are removed (their episode ends), people in the list who are not members are added (a new episode); history is kept. [] empties the segment.
Arguments: project_id (uuid); segment_id (uuid) a static segment; participants (jsonb) an array of participantIdentifiers (ids or emails with by); by (text, default identifier) identifier, id or email.
Returns: {"added": n, "removed": n, "unchanged": n}.
Errors: 22023 (400) not an array of strings, a bad by; PT404 (404) project, segment or a participant not found (naming its index; nothing changes); PT409 (409) a dynamic segment; 42501 (403) the caller may not use this project.';

------------------------------------------------------------------------------
-- Privileges: nothing for PUBLIC; doc/access.md shows the grants per role.
------------------------------------------------------------------------------

REVOKE ALL ON ALL TABLES IN SCHEMA participants FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA participants FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA participants FROM PUBLIC;

------------------------------------------------------------------------------
-- 0.6.0
------------------------------------------------------------------------------
-- 0.6.0: the data lifecycle (doc/lifecycle.md): file imports with a report
-- for every row (import, import_row), erasure with keyed-hash tombstones
-- (erasure, project_secret), retention (status_archive keeps the status
-- history of pruned events) and an append-only audit log (audit). Run
-- grant_access again (and participants.distribute() on a cluster) to grant
-- and distribute what this version adds.

------------------------------------------------------------------------------
-- Imports
------------------------------------------------------------------------------

CREATE TABLE participants.import (
	project_id		uuid NOT NULL REFERENCES participants.project (id) ON DELETE CASCADE,
	id				uuid NOT NULL,
	status			text NOT NULL CHECK (status IN ('completed', 'failed', 'dryRun')),
	format			text NOT NULL CHECK (format IN ('csv', 'json')),
	options			jsonb NOT NULL CHECK (pg_catalog.jsonb_typeof(options) = 'object'),
	idempotency_key	text CHECK (pg_catalog.length(idempotency_key) BETWEEN 1 AND 200),
	rows			integer NOT NULL DEFAULT 0,
	added			integer NOT NULL DEFAULT 0,
	updated			integer NOT NULL DEFAULT 0,
	unchanged		integer NOT NULL DEFAULT 0,
	failed			integer NOT NULL DEFAULT 0,
	errors			jsonb NOT NULL DEFAULT '[]' CHECK (pg_catalog.jsonb_typeof(errors) = 'array'),
	created_date	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	finished_date	timestamptz,
	PRIMARY KEY (project_id, id)
);
COMMENT ON TABLE participants.import IS
'Imports (import_participants): each file''s status, format, options, counts and first 100 errors. Kept for failed imports and dry runs too. An idempotency_key is used once per project. Written only by the database.';
CREATE UNIQUE INDEX import_idempotency_key ON participants.import (project_id, idempotency_key)
	WHERE idempotency_key IS NOT NULL;

CREATE TABLE participants.import_row (
	project_id		uuid NOT NULL,
	import_id		uuid NOT NULL,
	row_number		integer NOT NULL CHECK (row_number >= 1),	-- the data row's place in the file, header excluded
	action			text NOT NULL CHECK (action IN ('add', 'update', 'none', 'failed', 'rolledBack')),
	person_id		uuid,
	errors			jsonb CHECK (pg_catalog.jsonb_typeof(errors) = 'array'),
	PRIMARY KEY (project_id, import_id, row_number),
	FOREIGN KEY (project_id, import_id) REFERENCES participants.import (project_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE participants.import_row IS
'The report of every row of an import: what was done (add, update, none; failed; rolledBack for a good row of an import that failed as a whole), the participant, and the row''s errors [{"key", "code", "message"}]. Written only by the database; erasure removes the rows of the erased person.';
CREATE INDEX import_row_person_idx ON participants.import_row (project_id, person_id) WHERE person_id IS NOT NULL;

------------------------------------------------------------------------------
-- Erasure
------------------------------------------------------------------------------

CREATE TABLE participants.project_secret (
	project_id		uuid NOT NULL REFERENCES participants.project (id) ON DELETE CASCADE,
	erasure_key		bytea NOT NULL CHECK (pg_catalog.length(erasure_key) = 32),
	PRIMARY KEY (project_id)
);
COMMENT ON TABLE participants.project_secret IS
'Each project''s key for the erasure tombstones (HMAC-SHA256 of the normalized email and phone), made by the database at the project''s first erasure. No role but the owner of the extension''s tables may read it. It is dumped with the data: without it, restored tombstones would refuse nothing.';

CREATE TABLE participants.erasure (
	project_id		uuid NOT NULL REFERENCES participants.project (id) ON DELETE CASCADE,
	id				uuid NOT NULL,
	person_id		uuid NOT NULL,
	erased_date		timestamptz NOT NULL DEFAULT pg_catalog.now(),
	reason			text CHECK (pg_catalog.length(reason) <= 2000),
	removed			jsonb NOT NULL CHECK (pg_catalog.jsonb_typeof(removed) = 'object'),
	email_hmac		bytea CHECK (pg_catalog.length(email_hmac) = 32),	-- the tombstone; null once forgotten
	phone_hmac		bytea CHECK (pg_catalog.length(phone_hmac) = 32),
	PRIMARY KEY (project_id, id)
);
COMMENT ON TABLE participants.erasure IS
'Erasure receipts (erase_participant): who (the internal id only), when, why and how many rows were removed, and the tombstone: keyed hashes of the erased email and phone, which refuse adding them again (PT409) until forget_erasure clears them or the project setting allowReaddAfterErasure is true. Nothing readable about the person. Written only by the database.';
CREATE INDEX erasure_email_idx ON participants.erasure (project_id, email_hmac) WHERE email_hmac IS NOT NULL;
CREATE INDEX erasure_phone_idx ON participants.erasure (project_id, phone_hmac) WHERE phone_hmac IS NOT NULL;
CREATE INDEX erasure_date_idx ON participants.erasure (project_id, erased_date);

------------------------------------------------------------------------------
-- Retention
------------------------------------------------------------------------------

CREATE TABLE participants.status_archive (
	project_id		uuid NOT NULL,
	participant_id	uuid NOT NULL,
	study_id		uuid NOT NULL,
	event_id		bigint NOT NULL,	-- the pruned event's id: the history's order
	status			text NOT NULL,
	prior_status	text,
	updated_at		text NOT NULL,		-- the event's updatedAt, as it was
	PRIMARY KEY (project_id, participant_id, study_id, event_id),
	FOREIGN KEY (project_id, participant_id) REFERENCES participants.participant (project_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE participants.status_archive IS
'The status history of participant.status_changed events that apply_retention pruned, so that status_history stays complete. Written only by the database.';

------------------------------------------------------------------------------
-- Audit
------------------------------------------------------------------------------

CREATE TABLE participants.audit (
	project_id		uuid NOT NULL,
	id				uuid NOT NULL,	-- time-ordered: UUID version 7 from audit_date
	audit_date		timestamptz NOT NULL,
	action			text NOT NULL,
	person_id		uuid,
	changed_keys	text[],
	actor_role		text,
	jwt_sub			text,
	reason			text,
	PRIMARY KEY (project_id, id)
);
COMMENT ON TABLE participants.audit IS
'The audit log: one row for every change to a participant''s data (add, update with the keys that changed, enroll, withdraw, delete, optOut, optIn, erase, consentGrant, consentWithdraw, incentive, contactOverride, incentiveOverride, membershipAdd, membershipRemove), with the acting role and the JWT''s sub claim. Keys, never values. Append-only: the audit_guard trigger refuses INSERT from anything but the database, and UPDATE, DELETE and TRUNCATE for every role, except inside erase_participant and apply_retention. No foreign key: audit rows outlive what they describe.';
-- ids are time-ordered (the audit_date's microseconds, then random bits), so
-- the primary key serves newest-first and new rows go to its right edge
CREATE INDEX audit_person_idx ON participants.audit (project_id, person_id, id) WHERE person_id IS NOT NULL;

SELECT pg_catalog.pg_extension_config_dump('participants.import', '');
SELECT pg_catalog.pg_extension_config_dump('participants.import_row', '');
SELECT pg_catalog.pg_extension_config_dump('participants.project_secret', '');
SELECT pg_catalog.pg_extension_config_dump('participants.erasure', '');
SELECT pg_catalog.pg_extension_config_dump('participants.status_archive', '');
SELECT pg_catalog.pg_extension_config_dump('participants.audit', '');

-- person_import.api.finished is an event about no one person
ALTER TABLE participants.event ALTER COLUMN person_id DROP NOT NULL;
COMMENT ON TABLE participants.event IS
'Events: a status change (participant.status_changed), an opt-out or opt-in (person.opted_out), a consent change (consent.changed), an erasure (person.erased) or a finished import (person_import.api.finished, with no person), numbered per project and announced with a NOTIFY on the project''s channel (participants.event_channel()) when its transaction commits. Written only by the database (or a restore); never updated; deleting a participant deletes its events; apply_retention deletes old ones that no webhook still has to deliver.';

------------------------------------------------------------------------------
-- Triggers (C)
------------------------------------------------------------------------------

CREATE FUNCTION participants.lifecycle_guard() RETURNS trigger
	LANGUAGE c AS 'MODULE_PATHNAME', 'participants_lifecycle_guard';
COMMENT ON FUNCTION participants.lifecycle_guard() IS
'Row trigger of the tables only the database writes (import, import_row, erasure, project_secret, status_archive): refuses raw inserts and updates, and the deletion of an erasure receipt but with its project; a restore loads rows as they were.';
CREATE TRIGGER import_guard BEFORE INSERT OR UPDATE ON participants.import
	FOR EACH ROW EXECUTE FUNCTION participants.lifecycle_guard();
CREATE TRIGGER import_row_guard BEFORE INSERT OR UPDATE ON participants.import_row
	FOR EACH ROW EXECUTE FUNCTION participants.lifecycle_guard();
CREATE TRIGGER erasure_guard BEFORE INSERT OR UPDATE OR DELETE ON participants.erasure
	FOR EACH ROW EXECUTE FUNCTION participants.lifecycle_guard();
CREATE TRIGGER project_secret_guard BEFORE INSERT OR UPDATE ON participants.project_secret
	FOR EACH ROW EXECUTE FUNCTION participants.lifecycle_guard();
CREATE TRIGGER status_archive_guard BEFORE INSERT OR UPDATE ON participants.status_archive
	FOR EACH ROW EXECUTE FUNCTION participants.lifecycle_guard();
-- whether a project has tombstones is cached per backend (erasure.c)
CREATE TRIGGER erasure_cache_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON participants.erasure
	FOR EACH STATEMENT EXECUTE FUNCTION participants.cache_invalidate();

CREATE FUNCTION participants.audit_guard() RETURNS trigger
	LANGUAGE c AS 'MODULE_PATHNAME', 'participants_audit_guard';
COMMENT ON FUNCTION participants.audit_guard() IS
'Row and truncate trigger: the audit log is append-only. INSERT only by the database (or a restore); UPDATE, DELETE and TRUNCATE refused for every role, the owner included, except inside erase_participant (which strips what could identify the person) and apply_retention (which deletes rows older than retention.auditDays).';
CREATE TRIGGER audit_guard BEFORE INSERT ON participants.audit
	FOR EACH ROW EXECUTE FUNCTION participants.audit_guard();
CREATE TRIGGER audit_guard_change BEFORE UPDATE OR DELETE ON participants.audit
	FOR EACH ROW EXECUTE FUNCTION participants.audit_guard();
CREATE TRIGGER audit_guard_truncate BEFORE TRUNCATE ON participants.audit
	FOR EACH STATEMENT EXECUTE FUNCTION participants.audit_guard();
-- changes are refused in sessions with session_replication_role = replica too,
-- which skip ordinary triggers (inserts stay ordinary: a logical replica
-- receives the rows the database wrote)
ALTER TABLE participants.audit ENABLE ALWAYS TRIGGER audit_guard_change;
ALTER TABLE participants.audit ENABLE ALWAYS TRIGGER audit_guard_truncate;

CREATE FUNCTION participants.audit_participant() RETURNS trigger
	LANGUAGE c AS 'MODULE_PATHNAME', 'participants_audit_participant';
COMMENT ON FUNCTION participants.audit_participant() IS
'Row trigger: appends an audit row for every change to a participant (add, update with the keys that changed, enroll, withdraw, optOut, optIn, delete), to its consent (consentGrant, consentWithdraw), incentives (incentive, incentiveOverride) and static segment memberships (membershipAdd, membershipRemove), from the API and from raw SQL alike. A restore writes none.';
-- an add is audited once it is written (not an INSERT that ON CONFLICT
-- turned away); a change or a deletion before it is made (no after-trigger queue)
CREATE TRIGGER participant_audit AFTER INSERT ON participants.participant
	FOR EACH ROW EXECUTE FUNCTION participants.audit_participant();
CREATE TRIGGER participant_audit_change BEFORE UPDATE OR DELETE ON participants.participant
	FOR EACH ROW EXECUTE FUNCTION participants.audit_participant();
CREATE TRIGGER participant_consent_audit AFTER INSERT OR UPDATE OR DELETE ON participants.participant_consent
	FOR EACH ROW EXECUTE FUNCTION participants.audit_participant();
CREATE TRIGGER incentive_audit AFTER INSERT OR UPDATE ON participants.incentive
	FOR EACH ROW EXECUTE FUNCTION participants.audit_participant();
CREATE TRIGGER segment_membership_audit AFTER INSERT OR UPDATE ON participants.segment_membership
	FOR EACH ROW EXECUTE FUNCTION participants.audit_participant();

------------------------------------------------------------------------------
-- API functions
------------------------------------------------------------------------------

CREATE FUNCTION participants.import_participants(project_id uuid, data text, options jsonb DEFAULT '{}')
	RETURNS jsonb
	LANGUAGE c VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_import_participants';
COMMENT ON FUNCTION participants.import_participants(uuid, text, jsonb) IS
'Import participants from a CSV file or a JSON array, with a report for every row
CSV per RFC 4180 (a header row; quoted fields with commas, quotes and line breaks; UTF-8 with or without a BOM; CRLF or LF), columns id, participantIdentifier, secondaryIdentifier, invitationStatus, excludeFromExport, institutionCode, every demographic key and customFields.NAME (any case; an empty cell is absent), values typed by the custom field''s type; or a JSON array of participant bodies as for upsert_participants. Rows apply in file order through the same rules as upsert_participants. Options: format (csv or json), dryRun, allowUpdate (default true), onError (abort: nothing is written if a row fails; skip: good rows are written), emptyAsNull, idempotencyKey (the same key again returns the earlier import). Every import writes a person_import.api.finished event, and its record and row reports are kept.
Arguments: project_id (uuid); data (text) the file; options (jsonb, default {}).
Returns: {"importID", "status": "completed" | "failed" | "dryRun", "format", "options", "counts": {"rows", "added", "updated", "unchanged", "failed"}, "createdDate", "finishedDate", "errors": [{"row", "key", "code", "message"}, ...first 100]}.
Errors: 22023 (400) an unknown column or option, a malformed file; PT404 (404) project not found; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.import_participants(jsonb)
	RETURNS jsonb
	LANGUAGE c VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_import_csv_body';
COMMENT ON FUNCTION participants.import_participants(jsonb) IS
'Import a CSV file posted as the HTTP body
POST /rpc/import_participants with Content-Type: text/csv and Prefer: params=single-object; the project in the header X-Project-Id (or the only project of the token), options as JSON in the header X-Import-Options. PostgREST hands the rows over as objects of column names and cells; they are imported as import_participants imports a CSV file.
Arguments: the rows (jsonb), from PostgREST.
Returns: the import object.
Errors: as import_participants; 22023 (400) no X-Project-Id header.';

CREATE FUNCTION participants.get_import(project_id uuid, import_id uuid)
	RETURNS jsonb
	LANGUAGE c STABLE PARALLEL RESTRICTED
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_get_import';
COMMENT ON FUNCTION participants.get_import(uuid, uuid) IS
'Get an import''s record
Arguments: project_id (uuid); import_id (uuid).
Returns: the import object, as import_participants returned it.
Errors: PT404 (404) project or import not found; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.import_rows(project_id uuid, import_id uuid, failed_only boolean DEFAULT true,
										 page_number integer DEFAULT 0, page_size integer DEFAULT 20)
	RETURNS jsonb
	LANGUAGE c STABLE PARALLEL RESTRICTED
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_import_rows';
COMMENT ON FUNCTION participants.import_rows(uuid, uuid, boolean, integer, integer) IS
'List the row reports of an import, in file order
Arguments: project_id (uuid); import_id (uuid); failed_only (boolean, default true) only the rows that failed; page_number (integer, default 0); page_size (integer, 1..1000, default 20).
Returns: {"pageNumber", "pageSize", "totalRows", "rows": [{"row", "actionTaken", "personId", "errors": [{"key", "code", "message"}]}, ...]}.
Errors: 22023 (400) paging out of range; PT404 (404) project or import not found; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.erase_participant(project_id uuid, participant text, by text DEFAULT 'identifier', reason text DEFAULT NULL)
	RETURNS jsonb
	LANGUAGE c VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_erase_participant';
COMMENT ON FUNCTION participants.erase_participant(uuid, text, text, text) IS
'Erase a participant: the right to be forgotten
Removes the participant and every row that refers to it or carries its data (memberships and their history, study statuses and their archived history, contacts, events and their delivery records, consents and their history, incentives, import row reports), strips the audit rows about it down to action and date, leaves a tombstone (keyed hashes of its email and phone) that refuses adding them again, writes a receipt and a person.erased event.
Arguments: project_id (uuid); participant (text) its participantIdentifier (id or email with by); by (text, default identifier) identifier, id or email; reason (text, optional).
Returns: {"erasureID", "personId", "erasedDate", "reason", "removed": {"participant", "memberships", "studyStatuses", "events", "consents", "incentives", "deliveries", "auditValues"}}.
Errors: 22023 (400) a bad by; PT404 (404) project or participant not found; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.forget_erasure(project_id uuid, erasure_id uuid)
	RETURNS jsonb
	LANGUAGE c VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_forget_erasure';
COMMENT ON FUNCTION participants.forget_erasure(uuid, uuid) IS
'Remove an erasure''s tombstone, so that its email and phone may be added again
The receipt stays.
Arguments: project_id (uuid); erasure_id (uuid).
Returns: the receipt.
Errors: PT404 (404) project or erasure not found; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.erasures(project_id uuid, page_number integer DEFAULT 0, page_size integer DEFAULT 20)
	RETURNS jsonb
	LANGUAGE c STABLE PARALLEL RESTRICTED
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_erasures';
COMMENT ON FUNCTION participants.erasures(uuid, integer, integer) IS
'List erasure receipts, newest first
Arguments: project_id (uuid); page_number (integer, default 0); page_size (integer, 1..1000, default 20).
Returns: {"pageNumber", "pageSize", "totalErasures", "erasures": [receipt, ...]}.
Errors: 22023 (400) paging out of range; PT404 (404) project not found; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.apply_retention(project_id uuid DEFAULT NULL)
	RETURNS jsonb
	LANGUAGE c VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_apply_retention';
COMMENT ON FUNCTION participants.apply_retention(uuid) IS
'Apply the projects'' retention settings now (run it nightly, e.g. with pg_cron)
For the project (null: every project the caller may use) with the setting retention: erases participants withdrawn more than withdrawnDays ago (reason retention), deletes events older than eventDays that no webhook still has to deliver (their status history is kept), delivery records older than deliveryDays and audit rows older than auditDays.
Arguments: project_id (uuid, default null).
Returns: {"participantsErased", "eventsDeleted", "deliveriesDeleted", "auditDeleted"}.
Errors: PT404 (404) project not found; 42501 (403) the caller may not use this project.';

CREATE FUNCTION participants.audit_log(project_id uuid, participant text DEFAULT NULL, since timestamptz DEFAULT NULL,
									   page_number integer DEFAULT 0, page_size integer DEFAULT 20, by text DEFAULT 'identifier')
	RETURNS jsonb
	LANGUAGE c STABLE PARALLEL RESTRICTED
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'participants_audit_log';
COMMENT ON FUNCTION participants.audit_log(uuid, text, timestamptz, integer, integer, text) IS
'Read the audit log, newest first
Arguments: project_id (uuid); participant (text, optional) only this participant''s rows (its participantIdentifier, or id or email with by); since (timestamptz, optional) only rows from then on; page_number (integer, default 0); page_size (integer, 1..1000, default 20); by (text, default identifier) identifier, id or email.
Returns: {"pageNumber", "pageSize", "totalEntries", "entries": [{"auditID", "date", "action", "personId", "changedKeys", "actor": {"role", "jwtSub"}, "reason"}, ...]}.
Errors: 22023 (400) paging out of range, a bad by; PT404 (404) project or participant not found; 42501 (403) the caller may not use this project.';

------------------------------------------------------------------------------
-- Confinement and privileges
------------------------------------------------------------------------------

ALTER TABLE participants.import ENABLE ROW LEVEL SECURITY;
CREATE POLICY project_confinement ON participants.import
	USING (project_id = ANY ((SELECT participants.allowed_projects())::uuid[]));
ALTER TABLE participants.import_row ENABLE ROW LEVEL SECURITY;
CREATE POLICY project_confinement ON participants.import_row
	USING (project_id = ANY ((SELECT participants.allowed_projects())::uuid[]));
ALTER TABLE participants.erasure ENABLE ROW LEVEL SECURITY;
CREATE POLICY project_confinement ON participants.erasure
	USING (project_id = ANY ((SELECT participants.allowed_projects())::uuid[]));
ALTER TABLE participants.project_secret ENABLE ROW LEVEL SECURITY;
CREATE POLICY project_confinement ON participants.project_secret
	USING (project_id = ANY ((SELECT participants.allowed_projects())::uuid[]));
ALTER TABLE participants.status_archive ENABLE ROW LEVEL SECURITY;
CREATE POLICY project_confinement ON participants.status_archive
	USING (project_id = ANY ((SELECT participants.allowed_projects())::uuid[]));
ALTER TABLE participants.audit ENABLE ROW LEVEL SECURITY;
CREATE POLICY project_confinement ON participants.audit
	USING (project_id = ANY ((SELECT participants.allowed_projects())::uuid[]));

REVOKE ALL ON participants.import, participants.import_row, participants.project_secret,
	participants.erasure, participants.status_archive, participants.audit FROM PUBLIC;
REVOKE ALL ON FUNCTION participants.lifecycle_guard(), participants.audit_guard(), participants.audit_participant(),
	participants.import_participants(uuid, text, jsonb), participants.import_participants(jsonb),
	participants.get_import(uuid, uuid), participants.import_rows(uuid, uuid, boolean, integer, integer),
	participants.erase_participant(uuid, text, text, text), participants.forget_erasure(uuid, uuid),
	participants.erasures(uuid, integer, integer), participants.apply_retention(uuid),
	participants.audit_log(uuid, text, timestamptz, integer, integer, text) FROM PUBLIC;
