/* sql/participants--0.1.0--0.2.0.sql: upgrade from 0.1.0 to 0.2.0 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION participants UPDATE TO '0.2.0'" to load this file. \quit

-- 0.2.0: per-project confinement (participants.project_access, a JWT claim,
-- row-level security on every table, security_invoker views), API functions
-- that pin search_path and work as the tables' owner, and function comments
-- written for PostgREST's OpenAPI document. Data is untouched.
COMMENT ON SCHEMA participants IS
'Registry of research participants, as an API of SQL functions
Projects (tenants), participant records with demographics and custom fields, enrollment and withdrawal, opt-out, segments, and studies with each participant''s status and its events.
The API is the functions of this schema. Over HTTP (PostgREST) each function is POST /rpc/<name> with a JSON object body whose keys are the function''s argument names; the reading (STABLE) functions also answer GET /rpc/<name> with the arguments as query parameters.
Authentication: a JWT carries the role to run as and the projects the caller may use (a claim such as project_ids, named by the setting participants.jwt_project_claim).
Errors map to HTTP statuses: 22023, 22007, 22008 -> 400 (invalid input); 42501 -> 403 (project not allowed); PT404 -> 404 (not found); 23505, PT409 -> 409 (duplicate, or a rule forbids it).';

-- no foreign key from completion_action to segment, so that pg_dump restores
-- segments after participants (see the table in participants--0.2.0.sql)
ALTER TABLE participants.completion_action DROP CONSTRAINT completion_action_project_id_segment_id_fkey;

CREATE TABLE participants.project_access (
	project_id		uuid NOT NULL REFERENCES participants.project (id) ON DELETE CASCADE,
	role_name		name NOT NULL,
	granted_date	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (project_id, role_name)
);
COMMENT ON TABLE participants.project_access IS
'Which projects a confined role may use: a role (and every role that is a member of it) may use the projects listed for it here. Superusers, roles with BYPASSRLS and the owner of these tables are not confined. PostgREST callers may also use the projects their JWT lists (setting participants.jwt_project_claim). A role that does not exist grants nothing.';
SELECT pg_catalog.pg_extension_config_dump('participants.project_access', '');

COMMENT ON FUNCTION participants.cache_invalidate() IS
'Statement trigger: every backend reloads its cached project settings, custom field definitions and project access grants.';
CREATE TRIGGER project_access_cache_invalidate
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON participants.project_access
	FOR EACH STATEMENT EXECUTE FUNCTION participants.cache_invalidate();

-- the API functions pin search_path; the reading ones run in the leader only
ALTER FUNCTION participants.create_project(text, jsonb) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION participants.upsert_participant(uuid, jsonb) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION participants.upsert_participants(uuid, jsonb, boolean) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION participants.get_participant(uuid, text, boolean) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION participants.get_participant(uuid, text, boolean) PARALLEL RESTRICTED;
ALTER FUNCTION participants.enroll_participant(uuid, text, boolean) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION participants.withdraw_participant(uuid, text, boolean) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION participants.delete_participant(uuid, text, boolean) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION participants.define_custom_field(uuid, text, text, jsonb) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION participants.custom_fields(uuid) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION participants.custom_fields(uuid) PARALLEL RESTRICTED;
ALTER FUNCTION participants.drop_custom_field(uuid, text) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION participants.query_participants(uuid, text, uuid, jsonb, jsonb, text, boolean, integer, integer) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION participants.query_participants(uuid, text, uuid, jsonb, jsonb, text, boolean, integer, integer) PARALLEL RESTRICTED;
ALTER FUNCTION participants.create_segment(uuid, text, text, jsonb) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION participants.update_segment(uuid, uuid, text, text, jsonb) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION participants.delete_segment(uuid, uuid) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION participants.get_segment(uuid, uuid) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION participants.get_segment(uuid, uuid) PARALLEL RESTRICTED;
ALTER FUNCTION participants.list_segments(uuid, integer, integer) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION participants.list_segments(uuid, integer, integer) PARALLEL RESTRICTED;
ALTER FUNCTION participants.add_segment_members(uuid, uuid, jsonb, boolean) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION participants.remove_segment_members(uuid, uuid, jsonb, boolean) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION participants.segment_history(uuid, uuid, text, boolean) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION participants.segment_history(uuid, uuid, text, boolean) PARALLEL RESTRICTED;
ALTER FUNCTION participants.participant_segments(uuid, text, boolean) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION participants.participant_segments(uuid, text, boolean) PARALLEL RESTRICTED;
ALTER FUNCTION participants.create_study(uuid, text, uuid[], uuid[], jsonb) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION participants.update_study(uuid, uuid, text, uuid[], uuid[], jsonb) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION participants.get_study(uuid, uuid) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION participants.get_study(uuid, uuid) PARALLEL RESTRICTED;
ALTER FUNCTION participants.add_study_participants(uuid, uuid, jsonb, boolean) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION participants.set_participant_status(uuid, uuid, text, text, boolean, text) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION participants.study_participants(uuid, uuid, text, integer, integer) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION participants.study_participants(uuid, uuid, text, integer, integer) PARALLEL RESTRICTED;
ALTER FUNCTION participants.status_history(uuid, uuid, text, boolean) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION participants.status_history(uuid, uuid, text, boolean) PARALLEL RESTRICTED;
ALTER FUNCTION participants.eligible_participants(uuid, uuid, integer, integer) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION participants.eligible_participants(uuid, uuid, integer, integer) PARALLEL RESTRICTED;
ALTER FUNCTION participants.set_opted_out(uuid, text, boolean, boolean) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION participants.events_since(uuid, bigint, integer) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION participants.events_since(uuid, bigint, integer) PARALLEL RESTRICTED;

COMMENT ON FUNCTION participants.create_project(text, jsonb) IS
'Create a project (tenant) and return its id
Creates a project with its settings and copies the default status transition graph (participants.default_status_transitions()) into it. Only unconfined roles (superusers, roles with BYPASSRLS, the owner of the extension''s tables) may create projects; confined roles are then granted projects in participants.project_access.
Arguments: name (text) the project''s name; settings (jsonb, default {}) optional settings: participantIdentifierPrefix (text, default "") the prefix of generated participantIdentifiers, linkIdentifiers (boolean, default true) generate a linkIdentifier for each new participant, strictCustomFields (boolean, default false) refuse undeclared custom fields.
Returns: the new project''s id (uuid).
Errors: 22023 (400) an unknown setting, a wrong type or a null name; 42501 (403) the caller is confined to projects (only unconfined roles may create projects).';
COMMENT ON FUNCTION participants.upsert_participant(uuid, jsonb) IS
'Add or update one participant
The body selects a participant by id (must exist) or participantIdentifier (exists: update, else add); with neither, demographics.email is required and the call adds.
Updates are partial: absent keys keep their values, demographics and customFields merge key by key, JSON null clears. A call that changes nothing answers "none".
Arguments: project_id (uuid) the project; participant (jsonb) the participant body: id or participantIdentifier to select, and the keys to set (demographics, customFields, invitationStatus, ...).
Returns: {"actionTaken": "add" | "update" | "none", "result": participant}.
Errors: 22023/22007/22008 (400) invalid body or a null argument; 23505 (409) duplicate participantIdentifier, email or phone in the project; PT404 (404) project or id not found; PT409 (409) changing the email or phone of an enrolled participant; 42501 (403) the caller may not use this project.';
COMMENT ON FUNCTION participants.upsert_participants(uuid, jsonb, boolean) IS
'Add or update many participants, all or nothing, in order
Each body is applied as by upsert_participant, in order; when one fails, nothing is written. With allow_update false, a body that matches an existing participant is an error (PT409).
Arguments: project_id (uuid) the project; participants (jsonb) a JSON array of participant bodies, or {"participants": [...]}; allow_update (boolean, default true) false to refuse bodies that match an existing participant (add only).
Returns: {"totalAdded": n, "totalUpdated": n, "results": [{"actionTaken", "result"}, ...]}.
Errors: SQLSTATEs as for upsert_participant: 22023/22007/22008 (400) invalid body; 23505 (409) duplicate participantIdentifier, email or phone; PT404 (404) project or id not found; PT409 (409) email or phone of an enrolled participant, or a match with allow_update false; 42501 (403) the caller may not use this project. Messages name the element, e.g. participants[3].demographics.email.';
COMMENT ON FUNCTION participants.get_participant(uuid, text, boolean) IS
'Get one participant by participantIdentifier or id
Reads one participant of the project, by participantIdentifier (or by id with query_by_id).
Arguments: project_id (uuid) the project; participant (text) the participant''s participantIdentifier, or its id with query_by_id; query_by_id (boolean, default false) true to select the participant by id.
Returns: the participant object.
Errors: 22023 (400) malformed id or a null argument; PT404 (404) project or participant not found; 42501 (403) the caller may not use this project.';
COMMENT ON FUNCTION participants.enroll_participant(uuid, text, boolean) IS
'Enroll a participant
Sets enrollmentDate, which locks email and mobile phone. Enrolling an enrolled participant changes nothing.
Arguments: project_id (uuid) the project; participant (text) the participant''s participantIdentifier, or its id with query_by_id; query_by_id (boolean, default false) true to select the participant by id.
Returns: {"actionTaken": "update", "result": participant}, or "none" when already enrolled.
Errors: 22023 (400) malformed id or a null argument; PT404 (404) project or participant not found; PT409 (409) the participant is withdrawn; 42501 (403) the caller may not use this project.';
COMMENT ON FUNCTION participants.withdraw_participant(uuid, text, boolean) IS
'Withdraw a participant (final)
Sets withdrawDate, which is final. The record and its history are kept; the participant''s non-final study statuses move to CANCELLED, each with its event.
Arguments: project_id (uuid) the project; participant (text) the participant''s participantIdentifier, or its id with query_by_id; query_by_id (boolean, default false) true to select the participant by id.
Returns: {"actionTaken": "update", "result": participant}.
Errors: 22023 (400) malformed id or a null argument; PT404 (404) project or participant not found; PT409 (409) already withdrawn; 42501 (403) the caller may not use this project.';
COMMENT ON FUNCTION participants.delete_participant(uuid, text, boolean) IS
'Delete a participant and everything that refers to it
Deletes the participant with its segment memberships, study participations and events, in one transaction.
Arguments: project_id (uuid) the project; participant (text) the participant''s participantIdentifier, or its id with query_by_id; query_by_id (boolean, default false) true to select the participant by id.
Returns: {"actionTaken": "delete", "result": participant as it was}.
Errors: 22023 (400) malformed id or a null argument; PT404 (404) project or participant not found; 42501 (403) the caller may not use this project.';
COMMENT ON FUNCTION participants.define_custom_field(uuid, text, text, jsonb) IS
'Declare a typed custom field, or update its options
Declares a custom field of type text, number, integer, boolean, date or timestamp; values are then typed and validated on every write. Values participants already hold are converted to the type, or the call fails. Defining an existing field again with the same type updates its options.
Arguments: project_id (uuid) the project; name (text) the field''s name (a letter, then letters, digits or _; at most 63 characters); type (text) text, number, integer, boolean, date or timestamp; options (jsonb, default {}) {"description": text, "sortable": boolean}; sortable keeps indexes that sort the project''s participants by the field.
Returns: {"name", "type", "options", "createdDate"}.
Errors: 22023 (400) bad name, type or option, an existing value that does not convert, or a null argument; PT404 (404) project not found; PT409 (409) a different type than defined; 42501 (403) the caller may not use this project.';
COMMENT ON FUNCTION participants.custom_fields(uuid) IS
'List a project''s declared custom fields
The declared custom fields of a project, by name.
Arguments: project_id (uuid) the project.
Returns: [{"name", "type", "options", "createdDate"}, ...].
Errors: 22023 (400) a null project_id; PT404 (404) project not found; 42501 (403) the caller may not use this project.';
COMMENT ON FUNCTION participants.drop_custom_field(uuid, text) IS
'Drop a custom field definition
Drops the definition and returns it. Values participants hold stay, as undeclared values.
Arguments: project_id (uuid) the project; name (text) the field''s name.
Returns: the dropped definition {"name", "type", "options", "createdDate"}.
Errors: 22023 (400) a null argument; PT404 (404) project or field not found; 42501 (403) the caller may not use this project.';
COMMENT ON FUNCTION participants.query_participants(uuid, text, uuid, jsonb, jsonb, text, boolean, integer, integer) IS
'Search a project''s participants, a page at a time
Filters combine with AND. With segment_id only the segment''s current members are searched, each result with addedToSegmentDate, and query then also matches custom field values. Numbers sort as numbers, ISO dates as dates; rows without the sort key come last; ties by id.
Arguments: project_id (uuid) the project; query (text, default null) case-insensitive substring of any demographic or identifier (% and _ match literally); segment_id (uuid, default null) only this segment''s current members; custom_fields (jsonb, default null) {"Name": value} equalities on the value''s text form; demographic_fields (jsonb, default null) {"LastName": "Smith"} case-insensitive equalities; sort_by (text, default InsertedDate) InsertedDate, EnrollmentDate, ParticipantIdentifier, SecondaryIdentifier, InvitationStatus, CustomField.NAME or DemographicField.NAME (case-insensitive); sort_ascending (boolean, default true) false for descending order; page_number (integer, default 0) the page, from 0; page_size (integer, default 20) rows per page, 1..1000.
Returns: {"pageNumber", "pageSize", "totalParticipants", "participants": [participant, ...]}.
Errors: 22023 (400) bad argument (page_size outside 1..1000, negative page, unknown sort key or field); PT404 (404) project or segment not found; 42501 (403) the caller may not use this project.';
COMMENT ON FUNCTION participants.create_segment(uuid, text, text, jsonb) IS
'Create a static or dynamic segment
With filter null the segment is static (a participant group: members added and removed by hand); with a filter it is dynamic: its members are the participants the filter matches, kept current by the database.
Arguments: project_id (uuid) the project; name (text) the segment''s name, unique in the project in any case, 1..200 characters; description (text, default null) free text; filter (jsonb, default null) null for a static segment, or an object with keys query, custom_fields, demographic_fields (as in query_participants), invitation_status (a status, or null for none), enrolled, withdrawn (booleans), all combined with AND.
Returns: the segment object {"segmentID", "segmentName", "description", "kind", "filter", "createdDate", "participantCount"}.
Errors: 22023 (400) bad name or filter; 23505 (409) name taken in the project; PT404 (404) project not found; 42501 (403) the caller may not use this project.';
COMMENT ON FUNCTION participants.update_segment(uuid, uuid, text, text, jsonb) IS
'Rename a segment, change its description or its filter
Changes a segment''s name, its description (an empty string clears it) or, for a dynamic segment, its filter, which rebuilds its membership. A null argument keeps the value.
Arguments: project_id (uuid) the project; segment_id (uuid) the segment; name (text, default null) the new name; description (text, default null) the new description, '''' to clear it; filter (jsonb, default null) the new filter of a dynamic segment, keys as in create_segment.
Returns: the segment object.
Errors: 22023 (400) bad name or filter; 23505 (409) name taken; PT404 (404) project or segment not found; PT409 (409) a filter for a static segment; 42501 (403) the caller may not use this project.';
COMMENT ON FUNCTION participants.delete_segment(uuid, uuid) IS
'Delete a segment with its memberships and their history
Deletes the segment, its memberships and their history. A segment a study names cannot be deleted.
Arguments: project_id (uuid) the project; segment_id (uuid) the segment.
Returns: the segment object as it was.
Errors: PT404 (404) project or segment not found; PT409 (409) a study names the segment; 42501 (403) the caller may not use this project.';
COMMENT ON FUNCTION participants.get_segment(uuid, uuid) IS
'Get one segment
Reads one segment of the project, with its current member count.
Arguments: project_id (uuid) the project; segment_id (uuid) the segment.
Returns: {"segmentID", "segmentName", "description", "kind", "filter", "createdDate", "participantCount"}.
Errors: PT404 (404) project or segment not found; 42501 (403) the caller may not use this project.';
COMMENT ON FUNCTION participants.list_segments(uuid, integer, integer) IS
'List a project''s segments by name, a page at a time
Lists the project''s segments, ordered by name.
Arguments: project_id (uuid) the project; page_number (integer, default 0) the page, from 0; page_size (integer, default 20) rows per page, 1..1000.
Returns: {"pageNumber", "pageSize", "totalSegments", "segments": [segment, ...]}.
Errors: 22023 (400) page_size outside 1..1000 or negative page_number; PT404 (404) project not found; 42501 (403) the caller may not use this project.';
COMMENT ON FUNCTION participants.add_segment_members(uuid, uuid, jsonb, boolean) IS
'Add participants to a static segment
Starts a membership for each participant named. Current members are counted, not added again.
Arguments: project_id (uuid) the project; segment_id (uuid) the static segment; participants (jsonb) a JSON array of participantIdentifiers (of ids with query_by_id); query_by_id (boolean, default false) true when participants lists ids.
Returns: {"added": n, "alreadyMembers": n}.
Errors: 22023 (400) not an array of strings; PT404 (404) project, segment or a participant not found (nothing is added); PT409 (409) a dynamic segment; 42501 (403) the caller may not use this project.';
COMMENT ON FUNCTION participants.remove_segment_members(uuid, uuid, jsonb, boolean) IS
'Remove participants from a static segment
Each current membership ends and stays in the history. Non-members are counted, not an error.
Arguments: project_id (uuid) the project; segment_id (uuid) the static segment; participants (jsonb) a JSON array of participantIdentifiers (of ids with query_by_id); query_by_id (boolean, default false) true when participants lists ids.
Returns: {"removed": n, "notMembers": n}.
Errors: 22023 (400) not an array of strings; PT404 (404) project, segment or a participant not found (nothing is removed); PT409 (409) a dynamic segment; 42501 (403) the caller may not use this project.';
COMMENT ON FUNCTION participants.segment_history(uuid, uuid, text, boolean) IS
'List a segment''s membership episodes, in the order they began
Membership episodes of a segment (of one participant when given), in the order they began; removeDate is null while the membership is current.
Arguments: project_id (uuid) the project; segment_id (uuid) the segment; participant (text, default null) only this participant''s episodes: its participantIdentifier, or its id with query_by_id; query_by_id (boolean, default false) true when participant is an id.
Returns: [{"participantID", "addDate", "removeDate"}, ...]; participantID is the participant''s id.
Errors: PT404 (404) project, segment or participant not found; 42501 (403) the caller may not use this project.';
COMMENT ON FUNCTION participants.participant_segments(uuid, text, boolean) IS
'List the segments a participant is a member of now
The participant''s current segment memberships, in the order it joined them.
Arguments: project_id (uuid) the project; participant (text) the participant''s participantIdentifier, or its id with query_by_id; query_by_id (boolean, default false) true to select the participant by id.
Returns: [{"segmentID", "segmentName", "addDate"}, ...].
Errors: PT404 (404) project or participant not found; 42501 (403) the caller may not use this project.';
COMMENT ON FUNCTION participants.create_study(uuid, text, uuid[], uuid[], jsonb) IS
'Create a study with eligibility segments and completion codes
A participant is eligible for the study when not withdrawn, not opted out, in at least one allowlist segment (when any is named) and in no blocklist segment.
Arguments: project_id (uuid) the project; name (text) the study''s name; allowlist (uuid[], default {}) ids of segments an eligible participant must be in (one of them); blocklist (uuid[], default {}) ids of segments an eligible participant must not be in; completion_codes (jsonb, default []) [{"code": "X", "actions": [{"action": "ADD_TO_SEGMENT" | "REMOVE_FROM_SEGMENT", "segmentID": static segment id}]}].
Returns: the study object {"studyID", "studyName", "allowlist", "blocklist", "completionCodes", "createdDate", "participantCount"}.
Errors: 22023 (400) bad name, list or code; PT404 (404) project or segment not found; PT409 (409) an action on a dynamic segment; 42501 (403) the caller may not use this project.';
COMMENT ON FUNCTION participants.update_study(uuid, uuid, text, uuid[], uuid[], jsonb) IS
'Rename a study or replace its segment lists or completion codes
Replaces what it is given. A null argument keeps the value; ''{}'' or ''[]'' empties it.
Arguments: project_id (uuid) the project; study_id (uuid) the study; name (text, default null) the new name; allowlist (uuid[], default null) the new allowlist segment ids; blocklist (uuid[], default null) the new blocklist segment ids; completion_codes (jsonb, default null) the new completion codes, as in create_study.
Returns: the study object.
Errors: as create_study: 22023 (400) bad name, list or code; PT404 (404) project, study or segment not found; PT409 (409) an action on a dynamic segment; 42501 (403) the caller may not use this project.';
COMMENT ON FUNCTION participants.get_study(uuid, uuid) IS
'Get one study
Reads one study of the project, with its participant count.
Arguments: project_id (uuid) the project; study_id (uuid) the study.
Returns: {"studyID", "studyName", "allowlist", "blocklist", "completionCodes", "createdDate", "participantCount"}.
Errors: PT404 (404) project or study not found; 42501 (403) the caller may not use this project.';
COMMENT ON FUNCTION participants.add_study_participants(uuid, uuid, jsonb, boolean) IS
'Add participants to a study, at status NOT_STARTED
Each participant added starts at NOT_STARTED, with its first event. Participants who cannot join are skipped with a reason: withdrawn, opted_out, already_in_study, not_eligible.
Arguments: project_id (uuid) the project; study_id (uuid) the study; participants (jsonb) a JSON array of participantIdentifiers (of ids with query_by_id); query_by_id (boolean, default false) true when participants lists ids.
Returns: {"added": n, "skipped": [{"participant", "reason"}, ...]}.
Errors: 22023 (400) not an array of strings; PT404 (404) project, study or a participant not found (nothing is added); 42501 (403) the caller may not use this project.';
COMMENT ON FUNCTION participants.set_participant_status(uuid, uuid, text, text, boolean, text) IS
'Move a participant to a new status in a study
The move must follow the project''s transition graph (participants.status_transition). With completion_code, the code''s actions run in the same transaction.
Arguments: project_id (uuid) the project; study_id (uuid) the study; participant (text) the participant''s participantIdentifier, or its id with query_by_id; status (text) the new status (upper case, e.g. INVITE_SENT); query_by_id (boolean, default false) true to select the participant by id; completion_code (text, default null) one of the study''s completion codes, whose actions run.
Returns: the event {"eventType": "participant.status_changed", "participantId", "personId", "studyId", "status", "priorStatus", "updatedAt"}; participantId is the study participant''s id, personId the participant''s.
Errors: 22023 (400) unknown status or completion code; PT404 (404) project, study or participant not found, or the participant is not in the study; PT409 (409) a transition the graph does not allow (from a final status, or to the current one); 42501 (403) the caller may not use this project.';
COMMENT ON FUNCTION participants.study_participants(uuid, uuid, text, integer, integer) IS
'List a study''s participants, a page at a time
A study''s participants (only those at status, when given), in the order they were added.
Arguments: project_id (uuid) the project; study_id (uuid) the study; status (text, default null) only participants at this status; page_number (integer, default 0) the page, from 0; page_size (integer, default 20) rows per page, 1..1000.
Returns: {"pageNumber", "pageSize", "totalParticipants", "participants": [{"participantId", "personId", "participantIdentifier", "status", "completionCode", "addedDate", "updatedAt"}, ...]}.
Errors: 22023 (400) unknown status or bad paging; PT404 (404) project or study not found; 42501 (403) the caller may not use this project.';
COMMENT ON FUNCTION participants.status_history(uuid, uuid, text, boolean) IS
'List a participant''s statuses in a study, oldest first
Every status the participant has had in the study, oldest first; the first has priorStatus null.
Arguments: project_id (uuid) the project; study_id (uuid) the study; participant (text) the participant''s participantIdentifier, or its id with query_by_id; query_by_id (boolean, default false) true to select the participant by id.
Returns: [{"status", "priorStatus", "updatedAt"}, ...].
Errors: PT404 (404) project, study or participant not found, or the participant is not in the study; 42501 (403) the caller may not use this project.';
COMMENT ON FUNCTION participants.eligible_participants(uuid, uuid, integer, integer) IS
'List the participants eligible for a study now, a page at a time
Eligible: not withdrawn, not opted out, in an allowlist segment when the study names any, in no blocklist segment. In the order they were added to the project.
Arguments: project_id (uuid) the project; study_id (uuid) the study; page_number (integer, default 0) the page, from 0; page_size (integer, default 20) rows per page, 1..1000.
Returns: {"pageNumber", "pageSize", "totalParticipants", "participants": [participant, ...]}.
Errors: 22023 (400) bad paging; PT404 (404) project or study not found; 42501 (403) the caller may not use this project.';
COMMENT ON FUNCTION participants.set_opted_out(uuid, text, boolean, boolean) IS
'Opt a participant out of all research, or back in
Opting out moves every non-final study status to OPTED_OUT (each with its event) and keeps the participant out of new studies; opting back in allows new studies and revives no status. Each change writes a person.opted_out event {"eventType", "personId", "optedOut", "updatedAt"}.
Arguments: project_id (uuid) the project; participant (text) the participant''s participantIdentifier, or its id with query_by_id; opted_out (boolean) true to opt out, false to opt back in; query_by_id (boolean, default false) true to select the participant by id.
Returns: {"actionTaken": "update" | "none", "result": participant}.
Errors: 22023 (400) null argument or malformed id; PT404 (404) project or participant not found; 42501 (403) the caller may not use this project.';
COMMENT ON FUNCTION participants.events_since(uuid, bigint, integer) IS
'Read a project''s events after a given event id, oldest first
Returns the project''s events after event after_id, oldest first, at most max_events. It waits for transactions still writing the project''s events, so that no event is later committed below an id it returned: a consumer that resumes from the last eventID it saw misses none.
Arguments: project_id (uuid) the project; after_id (bigint, default 0) the last event id already seen (0 for all events); max_events (integer, default 100) the most events to return, 1..1000.
Returns: [{"eventID", "payload", "createdDate"}, ...].
Errors: 22023 (400) negative after_id or max_events outside 1..1000; PT404 (404) project not found; 42501 (403) the caller may not use this project.';

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

ALTER VIEW participants.participant_directory SET (security_invoker = true);
ALTER VIEW participants.segment_summary SET (security_invoker = true);
ALTER VIEW participants.study_funnel SET (security_invoker = true);
ALTER VIEW participants.study_summary SET (security_invoker = true);

REVOKE ALL ON participants.project_access FROM PUBLIC;
REVOKE ALL ON FUNCTION participants.allowed_projects() FROM PUBLIC;
