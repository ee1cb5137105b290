/* sql/participants--0.5.0--0.6.0.sql: upgrade from 0.5.0 to 0.6.0 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION participants UPDATE TO '0.6.0'" to load this file. \quit

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
