/* sql/participants--0.4.0--0.5.0.sql: upgrade from 0.4.0 to 0.5.0 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION participants UPDATE TO '0.5.0'" to load this file. \quit

-- 0.5.0: the calls that address people by email (get_opted_out,
-- opt_out_people, delete_people, set_segment_members), and research
-- governance (doc/governance.md): consent (tables consent,
-- participant_consent, consent_history, study_consent), contact rules
-- (contact_rule, contact), incentives (incentive), their triggers and
-- functions; create_study, update_study, set_participant_status and
-- eligible_participants take a new last argument, so they are made anew:
-- run grant_access again (and participants.distribute() on a cluster) to
-- grant and distribute them.

DROP FUNCTION participants.create_study(uuid, text, uuid[], uuid[], jsonb);
DROP FUNCTION participants.update_study(uuid, uuid, text, uuid[], uuid[], jsonb);
DROP FUNCTION participants.set_participant_status(uuid, uuid, text, text, boolean, text);
DROP FUNCTION participants.eligible_participants(uuid, uuid, integer, integer);

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

COMMENT ON TABLE participants.event IS
'Events: a status change (participant.status_changed), an opt-out or opt-in (person.opted_out) or a consent change (consent.changed), numbered per project and announced with a NOTIFY on the project''s channel (participants.event_channel()) when its transaction commits. Written only by the database (or a restore); never updated; deleting a participant deletes its events.';

REVOKE ALL ON participants.consent, participants.participant_consent, participants.consent_history,
	participants.study_consent, participants.contact_rule, participants.contact, participants.incentive FROM PUBLIC;
REVOKE ALL ON FUNCTION participants.consent_guard(), participants.consent_history_guard(), participants.contact_guard(),
	participants.participant_consent_guard(), participants.study_consent_guard(), participants.incentive_guard(),
	participants.create_study(uuid, text, uuid[], uuid[], jsonb, jsonb),
	participants.update_study(uuid, uuid, text, uuid[], uuid[], jsonb, jsonb),
	participants.set_participant_status(uuid, uuid, text, text, boolean, text, text),
	participants.eligible_participants(uuid, uuid, integer, integer, boolean),
	participants.define_consent(uuid, text, text[], text, text),
	participants.record_consent(uuid, text, text, integer, text[], text, jsonb, text),
	participants.withdraw_consent(uuid, text, text, text[], text, text),
	participants.participant_consents(uuid, text, text),
	participants.set_contact_rules(uuid, jsonb), participants.contact_rules(uuid),
	participants.contact_history(uuid, text, text),
	participants.record_incentive(uuid, text, uuid, numeric, text, text, text, text, text, text),
	participants.update_incentive(uuid, uuid, text, text),
	participants.list_incentives(uuid, text, uuid, text, integer, integer, text),
	participants.incentive_totals(uuid, integer),
	participants.get_opted_out(uuid, text, text), participants.opt_out_people(uuid, jsonb, boolean, text),
	participants.delete_people(uuid, jsonb, text), participants.set_segment_members(uuid, uuid, jsonb, text) FROM PUBLIC;
