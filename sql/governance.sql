-- governance: consent (versions, grants, withdrawals, studies that require
-- it), contact rules, incentives. Every rule from the API and from raw SQL.
INSERT INTO t SELECT 'gov', participants.create_project('Governance');
SELECT participants.upsert_participants(pid('gov'), '[
  {"participantIdentifier": "G-1", "demographics": {"email": "g1@example.com"}},
  {"participantIdentifier": "G-2", "demographics": {"email": "G2@Example.com"}},
  {"participantIdentifier": "G-3", "demographics": {"email": "g3@example.com"}},
  {"participantIdentifier": "G-4", "demographics": {"email": "g4@example.com"}},
  {"participantIdentifier": "G-5", "demographics": {"email": "g5@example.com"}}
]') ->> 'totalAdded' AS added;
-- the participants' ids, kept in t (a local table): on a Citus cluster a
-- helper that reads a distributed table cannot be called inside a query of one
INSERT INTO t SELECT participant_identifier, id FROM participants.participant WHERE project_id = pid('gov');
CREATE FUNCTION gid(ident text) RETURNS uuid LANGUAGE sql STABLE AS $$ SELECT pid(ident) $$;
CREATE FUNCTION gstatus(study text, ident text) RETURNS text LANGUAGE plpgsql STABLE AS $$ BEGIN
	RETURN (SELECT status FROM participants.study_participant WHERE project_id = pid('gov') AND study_id = pid(study) AND participant_id = gid(ident)); END $$;

------------------------------------------------------------------------------
-- Consent documents
------------------------------------------------------------------------------
CREATE TABLE c1 AS SELECT participants.define_consent(pid('gov'), 'main', '{contact,data}', repeat('AB', 32), 'First') AS c;
SELECT (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(c) k) AS keys, c -> 'version' AS version,
       c -> 'scopes' AS scopes, c ->> 'textSha256' = repeat('ab', 32) AS sha_lowered, c ->> 'description' AS description FROM c1;
SELECT participants.define_consent(pid('gov'), 'main', '{contact,data,video}') -> 'version' AS next_version;
SELECT participants.define_consent(pid('gov'), 'newsletter', '{email}') -> 'version' AS other_name_starts_at_1;
SELECT serr($$SELECT participants.define_consent(pid('gov'), ' ', '{contact}')$$) AS empty_name;
SELECT serr($$SELECT participants.define_consent(pid('gov'), 'x', '{}')$$) AS no_scopes;
SELECT serr($$SELECT participants.define_consent(pid('gov'), 'x', ARRAY['a', NULL])$$) AS null_scope;
SELECT serr($$SELECT participants.define_consent(pid('gov'), 'x', '{a,a}')$$) AS repeated_scope;
SELECT serr($$SELECT participants.define_consent(pid('gov'), 'x', '{"a b"}')$$) AS scope_with_space;
SELECT serr($$SELECT participants.define_consent(pid('gov'), 'x', '{a}', 'abc')$$) AS bad_sha;
SELECT serr($$SELECT participants.define_consent(pid('gov'), 'x', NULL)$$) AS null_scopes;
SELECT serr($$SELECT participants.define_consent(gen_random_uuid(), 'x', '{a}')$$) AS no_project;
SELECT count(*) AS versions_after_errors FROM participants.consent WHERE project_id = pid('gov');
-- raw SQL: the same scope rules; a version is never changed
SELECT serr(format($$INSERT INTO participants.consent (project_id, name, version, scopes) VALUES (%L, 'raw', 1, '{}')$$, pid('gov'))) AS raw_no_scopes;
SELECT serr(format($$UPDATE participants.consent SET scopes = '{contact}' WHERE project_id = %L AND name = 'main' AND version = 1$$, pid('gov'))) AS raw_change_scopes;
SELECT serr(format($$UPDATE participants.consent SET description = 'First version' WHERE project_id = %L AND name = 'main' AND version = 1$$, pid('gov'))) AS raw_description;

------------------------------------------------------------------------------
-- Grants and withdrawals
------------------------------------------------------------------------------
-- version null: the latest; scopes null: all of it; by email, any case
CREATE TABLE g1 AS SELECT participants.record_consent(pid('gov'), 'G1@EXAMPLE.COM', 'main', method => 'web_form', evidence => '{"ip": "192.0.2.7"}', by => 'EMAIL') AS s;
SELECT (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(s) k) AS keys, s -> 'version' AS version,
       s -> 'latestVersion' AS latest, s -> 'scopes' AS scopes,
       (s -> 'history' -> 0) - 'date' AS first_history FROM g1;
-- an older version, some scopes, by id; then more scopes of that version
SELECT participants.record_consent(pid('gov'), gid('G-2')::text, 'main', 1, '{data}', by => 'id') -> 'scopes' AS v1_data;
SELECT s -> 'scopes' AS v1_union, s -> 'version' AS version, jsonb_array_length(s -> 'history') AS history
FROM (SELECT participants.record_consent(pid('gov'), 'G-2', 'main', 1, '{contact}') AS s) x;
-- another version replaces the grant
SELECT s -> 'scopes' AS v2_replaces, s -> 'version' AS version
FROM (SELECT participants.record_consent(pid('gov'), 'G-2', 'main', 2, '{video}') AS s) x;
SELECT serr($$SELECT participants.record_consent(pid('gov'), 'G-3', 'main', 1, '{video}')$$) AS scope_not_in_version;
SELECT serr($$SELECT participants.record_consent(pid('gov'), 'G-3', 'main', 7)$$) AS no_version;
SELECT serr($$SELECT participants.record_consent(pid('gov'), 'G-3', 'missing')$$) AS no_consent;
SELECT serr($$SELECT participants.record_consent(pid('gov'), 'G-3', 'main', 0)$$) AS version_zero;
SELECT serr($$SELECT participants.record_consent(pid('gov'), 'G-3', 'main', evidence => '[1]')$$) AS evidence_not_object;
SELECT serr($$SELECT participants.record_consent(pid('gov'), 'G-3', 'main', by => 'phone')$$) AS bad_by;
SELECT serr($$SELECT participants.record_consent(pid('gov'), 'G-3', 'main', by => NULL)$$) AS null_by;
SELECT serr($$SELECT participants.record_consent(pid('gov'), 'nobody@example.com', 'main', by => 'email')$$) AS no_email;
SELECT serr($$SELECT participants.record_consent(pid('gov'), 'G-404', 'main')$$) AS no_participant;
SELECT count(*) AS g3_rows FROM participants.participant_consent WHERE participant_id = gid('G-3');
-- withdraw some scopes, with a reason; then all
SELECT s -> 'scopes' AS left_after_withdraw, (s -> 'history' -> -1) - 'date' AS withdrawal
FROM (SELECT participants.withdraw_consent(pid('gov'), 'G-2', 'main', '{video}', 'moved away') AS s) x;
SELECT serr($$SELECT participants.withdraw_consent(pid('gov'), 'G-3', 'main')$$) AS never_consented;
SELECT serr($$SELECT participants.withdraw_consent(pid('gov'), 'G-1', 'main', '{nope}')$$) AS withdraw_unknown_scope;
-- participant_consents: every name, with its history
SELECT participants.record_consent(pid('gov'), 'G-1', 'newsletter') -> 'scopes' AS newsletter;
SELECT jsonb_agg(c ->> 'name') AS names, jsonb_agg(jsonb_array_length(c -> 'history')) AS histories
FROM jsonb_array_elements(participants.participant_consents(pid('gov'), 'G-1')) c;
SELECT participants.participant_consents(pid('gov'), 'G-5') AS none_yet;
-- every change wrote a consent.changed event
SELECT e -> 'payload' ->> 'action' AS action, e -> 'payload' ->> 'name' AS name, e -> 'payload' -> 'version' AS version,
       e -> 'payload' -> 'scopes' AS scopes, (e -> 'payload' ->> 'personId')::uuid = gid('G-2') AS g2,
       (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(e -> 'payload') k) AS keys
FROM jsonb_array_elements(participants.events_since(pid('gov'))) e
WHERE e -> 'payload' ->> 'eventType' = 'consent.changed' ORDER BY (e ->> 'eventID')::bigint;

-- raw SQL: a scope of another version is refused; a change is recorded
-- with its event, whatever wrote it
SELECT serr(format($$INSERT INTO participants.participant_consent (project_id, participant_id, name, version, scopes) VALUES (%L, %L, 'main', 1, '{video}')$$, pid('gov'), gid('G-3'))) AS raw_scope_not_in_version;
SELECT serr(format($$INSERT INTO participants.participant_consent (project_id, participant_id, name, version, scopes) VALUES (%L, %L, 'main', 9, '{contact}')$$, pid('gov'), gid('G-3'))) AS raw_no_version;
SELECT serr(format($$INSERT INTO participants.participant_consent (project_id, participant_id, name, version, scopes) VALUES (%L, %L, 'main', 2, '{video,contact}')$$, pid('gov'), gid('G-3'))) AS raw_grant;
SELECT serr(format($$INSERT INTO participants.participant_consent (project_id, participant_id, name, version, scopes) VALUES (%L, %L, 'newsletter', 1, '{email,email}')$$, pid('gov'), gid('G-3'))) AS raw_repeated_scope;
SELECT scopes AS raw_grant_sorted FROM participants.participant_consent WHERE participant_id = gid('G-3');
SELECT action, version, scopes, method FROM participants.consent_history WHERE participant_id = gid('G-3') ORDER BY number;
SELECT serr(format($$INSERT INTO participants.consent_history (project_id, participant_id, name, number, action, version, scopes) VALUES (%L, %L, 'main', 99, 'grant', 2, '{contact}')$$, pid('gov'), gid('G-3'))) AS raw_history_insert;
SELECT serr(format($$UPDATE participants.consent_history SET reason = 'x' WHERE participant_id = %L$$, gid('G-3'))) AS raw_history_update;

------------------------------------------------------------------------------
-- Studies that require consent
------------------------------------------------------------------------------
INSERT INTO t SELECT 'gs1', (participants.create_study(pid('gov'), 'Needs contact v2',
	required_consents => '[{"name": "main", "minVersion": 2, "scopes": ["contact"]}]') ->> 'studyID')::uuid;
INSERT INTO t SELECT 'gs2', (participants.create_study(pid('gov'), 'Needs data', required_consents => '[{"name": "main", "scopes": ["data"]}]') ->> 'studyID')::uuid;
INSERT INTO t SELECT 'gs3', (participants.create_study(pid('gov'), 'Open') ->> 'studyID')::uuid;
SELECT participants.get_study(pid('gov'), pid('gs1')) -> 'requiredConsents' AS required,
       participants.get_study(pid('gov'), pid('gs2')) -> 'requiredConsents' AS defaults,
       participants.get_study(pid('gov'), pid('gs3')) -> 'requiredConsents' AS none;
SELECT serr($$SELECT participants.create_study(pid('gov'), 'x', required_consents => '{}')$$) AS not_array;
SELECT serr($$SELECT participants.create_study(pid('gov'), 'x', required_consents => '[{"name": "main", "min": 1}]')$$) AS unknown_key;
SELECT serr($$SELECT participants.create_study(pid('gov'), 'x', required_consents => '[{"scopes": []}]')$$) AS no_name;
SELECT serr($$SELECT participants.create_study(pid('gov'), 'x', required_consents => '[{"name": "main"}, {"name": "main"}]')$$) AS named_twice;
SELECT serr($$SELECT participants.create_study(pid('gov'), 'x', required_consents => '[{"name": "main", "minVersion": 1.5}]')$$) AS fractional_version;
SELECT serr($$SELECT participants.create_study(pid('gov'), 'x', required_consents => '[{"name": "main", "minVersion": 3}]')$$) AS missing_version;
SELECT serr($$SELECT participants.create_study(pid('gov'), 'x', required_consents => '[{"name": "main", "scopes": ["video"]}]')$$) AS scope_not_in_min_version;
SELECT serr($$SELECT participants.create_study(pid('gov'), 'x', required_consents => '[{"name": "main", "scopes": [1]}]')$$) AS scope_not_string;
SELECT serr(format($$INSERT INTO participants.study_consent (project_id, study_id, name, min_version, scopes) VALUES (%L, %L, 'main', 1, '{video}')$$, pid('gov'), pid('gs3'))) AS raw_required_scope_not_in_version;
SELECT count(*) AS studies_after_errors FROM participants.study WHERE project_id = pid('gov');
-- G-1 holds main v2 {contact,data,video}; G-2 v2 {} (withdrawn); G-3 v2 {contact,video}; G-4, G-5 nothing
SELECT participants.add_study_participants(pid('gov'), pid('gs1'), '["G-1", "G-2", "G-3", "G-4"]') AS added_gs1;
SELECT participants.add_study_participants(pid('gov'), pid('gs2'), '["G-1", "G-2", "G-3"]') AS added_gs2;
SELECT participants.add_study_participants(pid('gov'), pid('gs3'), '["G-1", "G-2", "G-3", "G-4", "G-5"]') ->> 'added' AS added_gs3;
SELECT array_agg(p ->> 'participantIdentifier' ORDER BY p ->> 'participantIdentifier') AS eligible_gs1
FROM jsonb_array_elements(participants.eligible_participants(pid('gov'), pid('gs1')) -> 'participants') p;
-- raw SQL adds no one without the consent
SELECT serr(format($$INSERT INTO participants.study_participant (project_id, id, study_id, participant_id, status) VALUES (%L, gen_random_uuid(), %L, %L, 'NOT_STARTED')$$, pid('gov'), pid('gs2'), gid('G-4'))) AS raw_add_without_consent;
-- a contact needs the consent at the time of the contact
SELECT participants.set_participant_status(pid('gov'), pid('gs1'), 'G-1', 'INVITE_SENT') ->> 'status' AS contacted;
SELECT participants.withdraw_consent(pid('gov'), 'G-3', 'main', '{video}') -> 'scopes' AS g3_keeps_contact;
SELECT gstatus('gs1', 'G-3') AS g3_not_cancelled;
-- the study's requirement changes after G-3 was added: the contact is refused
SELECT participants.update_study(pid('gov'), pid('gs1'), required_consents => '[{"name": "main", "minVersion": 2, "scopes": ["contact", "video"]}]') -> 'requiredConsents' AS stricter;
SELECT serr($$SELECT participants.set_participant_status(pid('gov'), pid('gs1'), 'G-3', 'INVITE_SENT')$$) AS contact_without_consent;
SELECT serr(format($$UPDATE participants.study_participant SET status = 'INVITE_SENT' WHERE study_id = %L AND participant_id = %L$$, pid('gs1'), gid('G-3'))) AS raw_contact_without_consent;
SELECT participants.set_participant_status(pid('gov'), pid('gs1'), 'G-3', 'NOT_ELIGIBLE') ->> 'status' AS not_a_contact;
SELECT participants.update_study(pid('gov'), pid('gs1'), required_consents => '[{"name": "main", "minVersion": 2, "scopes": ["contact"]}]') -> 'requiredConsents' AS back;
SELECT participants.update_study(pid('gov'), pid('gs3'), name => 'Open study') -> 'requiredConsents' AS kept;

-- withdrawing a required scope cancels the open statuses in the studies
-- that require it, each with its event; other studies keep theirs
SELECT gstatus('gs1', 'G-1') AS gs1_before, gstatus('gs2', 'G-1') AS gs2_before, gstatus('gs3', 'G-1') AS gs3_before;
SELECT participants.withdraw_consent(pid('gov'), 'G-1', 'main', '{contact}', 'no more calls') -> 'scopes' AS g1_left;
SELECT gstatus('gs1', 'G-1') AS gs1_after, gstatus('gs2', 'G-1') AS gs2_after, gstatus('gs3', 'G-1') AS gs3_after;
SELECT e -> 'payload' ->> 'status' AS status, e -> 'payload' ->> 'priorStatus' AS prior
FROM jsonb_array_elements(participants.events_since(pid('gov'), 0, 1000)) e
WHERE e -> 'payload' ->> 'eventType' = 'participant.status_changed' AND (e -> 'payload' ->> 'personId')::uuid = gid('G-1')
  AND (e -> 'payload' ->> 'studyId')::uuid = pid('gs1') ORDER BY (e ->> 'eventID')::bigint;
-- raw SQL: a withdrawal by UPDATE or DELETE cancels the same way
SELECT participants.record_consent(pid('gov'), 'G-3', 'main', 2, '{contact,data}') -> 'scopes' AS g3_regrants;
SELECT participants.add_study_participants(pid('gov'), pid('gs2'), '["G-3"]') ->> 'added' AS g3_in_gs2;
UPDATE participants.participant_consent SET scopes = '{contact}' WHERE participant_id = gid('G-3') AND name = 'main';
SELECT gstatus('gs2', 'G-3') AS gs2_raw_withdraw, (SELECT action || ' ' || scopes::text FROM participants.consent_history
	WHERE participant_id = gid('G-3') ORDER BY number DESC LIMIT 1) AS recorded;
DELETE FROM participants.participant_consent WHERE participant_id = gid('G-3') AND name = 'main';
SELECT gstatus('gs1', 'G-3') AS gs1_raw_delete_keeps_final, (SELECT action || ' ' || scopes::text FROM participants.consent_history
	WHERE participant_id = gid('G-3') ORDER BY number DESC LIMIT 1) AS recorded;
-- a consent version in use cannot be deleted
SELECT serr(format($$DELETE FROM participants.consent WHERE project_id = %L AND name = 'main' AND version = 2$$, pid('gov'))) AS delete_used_version;

------------------------------------------------------------------------------
-- Contact rules
------------------------------------------------------------------------------
SELECT participants.contact_rules(pid('gov')) AS no_rules;
SELECT serr($$SELECT participants.set_contact_rules(pid('gov'), '{}')$$) AS not_array;
SELECT serr($$SELECT participants.set_contact_rules(pid('gov'), '[{"maxContacts": 3}]')$$) AS window_missing;
SELECT serr($$SELECT participants.set_contact_rules(pid('gov'), '[{"maxContacts": 0, "windowDays": 30}]')$$) AS zero;
SELECT serr($$SELECT participants.set_contact_rules(pid('gov'), '[{"maxContacts": 2.5, "windowDays": 30}]')$$) AS fraction;
SELECT serr($$SELECT participants.set_contact_rules(pid('gov'), '[{"maxContacts": "2", "windowDays": 30}]')$$) AS string_number;
SELECT serr($$SELECT participants.set_contact_rules(pid('gov'), '[{"maxContacts": 2, "windowDays": 30, "x": 1}]')$$) AS extra_key;
SELECT serr($$SELECT participants.set_contact_rules(pid('gov'), '[{"cooldown": 3}]')$$) AS unknown_key;
SELECT serr($$SELECT participants.set_contact_rules(pid('gov'), '[{}]')$$) AS empty_rule;
SELECT serr($$SELECT participants.set_contact_rules(pid('gov'), '[1]')$$) AS not_object;
SELECT serr($$SELECT participants.set_contact_rules(pid('gov'), '[{"cooldownDaysAfterCompletion": 40000}]')$$) AS too_many_days;
SELECT serr(format($$INSERT INTO participants.contact_rule (project_id, position, max_contacts) VALUES (%L, 1, 3)$$, pid('gov'))) AS raw_half_rule;
SELECT participants.set_contact_rules(pid('gov'), '[{"maxContacts": 2, "windowDays": 30}, {"cooldownDaysAfterCompletion": 10}, {"maxActiveStudies": 2}]') AS rules;
SELECT participants.contact_rules(pid('gov')) = participants.set_contact_rules(pid('gov'), participants.contact_rules(pid('gov'))) AS round_trip;

-- G-5 in studies c1..c4 (no consent needed); earlier contacts: one 10 days
-- ago, one 40 days ago (loaded as a restore loads rows)
INSERT INTO t SELECT 'c1', (participants.create_study(pid('gov'), 'Contact 1') ->> 'studyID')::uuid;
INSERT INTO t SELECT 'c2', (participants.create_study(pid('gov'), 'Contact 2') ->> 'studyID')::uuid;
INSERT INTO t SELECT 'c3', (participants.create_study(pid('gov'), 'Contact 3') ->> 'studyID')::uuid;
INSERT INTO t SELECT 'c4', (participants.create_study(pid('gov'), 'Contact 4') ->> 'studyID')::uuid;
SELECT participants.add_study_participants(pid('gov'), pid('c1'), '["G-5", "G-4"]') ->> 'added' AS added_c1,
       participants.add_study_participants(pid('gov'), pid('c2'), '["G-5", "G-4"]') ->> 'added' AS added_c2,
       participants.add_study_participants(pid('gov'), pid('c3'), '["G-5", "G-4"]') ->> 'added' AS added_c3,
       participants.add_study_participants(pid('gov'), pid('c4'), '["G-5", "G-4"]') ->> 'added' AS added_c4;
BEGIN;
SET LOCAL citus.propagate_set_commands = 'local';
SET LOCAL row_security = off;
INSERT INTO participants.contact (project_id, participant_id, contact_date, study_id, status, event_id)
VALUES (pid('gov'), gid('G-5'), now() - interval '10 days', pid('gs3'), 'INVITE_SENT', 0),
       (pid('gov'), gid('G-5'), now() - interval '40 days', pid('gs3'), 'INVITE_SENT', 0);
COMMIT;
SELECT serr(format($$INSERT INTO participants.contact (project_id, participant_id, contact_date, study_id, status, event_id) VALUES (%L, %L, now(), %L, 'INVITE_SENT', 0)$$, pid('gov'), gid('G-5'), pid('gs3'))) AS raw_contact_insert;
SELECT serr(format($$UPDATE participants.contact SET status = 'INTERVIEW_INVITE_SENT' WHERE project_id = %L AND participant_id = %L$$, pid('gov'), gid('G-5'))) AS raw_contact_update;
-- the one 40 days ago is outside the window: one more contact is allowed
SELECT (participants.contact_history(pid('gov'), 'G-5') - 'contacts') AS before, jsonb_array_length(participants.contact_history(pid('gov'), 'G-5') -> 'contacts') AS contacts;
SELECT participants.set_participant_status(pid('gov'), pid('c1'), 'G-5', 'INVITE_SENT') ->> 'status' AS second_in_window;
-- a third in 30 days: refused, naming the rule and the date it lifts (10 days ago + 30)
SELECT regexp_replace(serr($$SELECT participants.set_participant_status(pid('gov'), pid('c2'), 'G-5', 'INTERVIEW_INVITE_SENT')$$), '\d{4}-\d\d-\d\dT[0-9:.+]+', '<date>') AS third_refused;
DO $$
BEGIN
	PERFORM participants.set_participant_status(pid('gov'), pid('c2'), 'G-5', 'INTERVIEW_INVITE_SENT');
EXCEPTION WHEN OTHERS THEN
	DECLARE d text;
	BEGIN
		GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
		RAISE NOTICE 'allowed from 10 days ago + 30 days: %', abs(extract(epoch FROM (substring(d FROM 'allowed from (\S+)\.$')::timestamptz - (now() + interval '20 days')))) < 5;
	END;
END $$;
SELECT (participants.contact_history(pid('gov'), 'G-5') -> 'blockedBy') AS blocked_by,
       abs(extract(epoch FROM ((participants.contact_history(pid('gov'), 'G-5') ->> 'nextContactDate')::timestamptz - (now() + interval '20 days')))) < 5 AS next_in_20_days;
-- raw SQL is held to the same rule
SELECT regexp_replace(serr(format($$UPDATE participants.study_participant SET status = 'INVITE_SENT' WHERE study_id = %L AND participant_id = %L$$, pid('c2'), gid('G-5'))), '\d{4}-\d\d-\d\dT[0-9:.+]+', '<date>') AS raw_third_refused;
-- moves that are no contact are not limited
SELECT participants.set_participant_status(pid('gov'), pid('c1'), 'G-5', 'SCREENER_STARTED') ->> 'status' AS not_a_contact;
-- eligible_participants leaves G-5 out unless asked not to
SELECT array_agg(p ->> 'participantIdentifier' ORDER BY p ->> 'participantIdentifier') AS contactable
FROM jsonb_array_elements(participants.eligible_participants(pid('gov'), pid('c2')) -> 'participants') p;
SELECT array_agg(p ->> 'participantIdentifier' ORDER BY p ->> 'participantIdentifier') AS all_eligible
FROM jsonb_array_elements(participants.eligible_participants(pid('gov'), pid('c2'), contactable_only => false) -> 'participants') p;
-- an override lets it through and is recorded in the event and the contact
SELECT serr($$SELECT participants.set_participant_status(pid('gov'), pid('c2'), 'G-5', 'INVITE_SENT', override_reason => '  ')$$) AS empty_reason;
SELECT s -> 'override' AS override, s ->> 'status' AS status
FROM (SELECT participants.set_participant_status(pid('gov'), pid('c2'), 'G-5', 'INVITE_SENT', override_reason => 'PI approved a reminder') AS s) x;
SELECT override FROM participants.contact WHERE participant_id = gid('G-5') AND study_id = pid('c2');
SELECT e -> 'payload' -> 'override' ->> 'reason' AS in_feed FROM jsonb_array_elements(participants.events_since(pid('gov'), 0, 1000)) e
WHERE e -> 'payload' ? 'override';
-- an override given when no rule refuses records nothing
SELECT participants.set_participant_status(pid('gov'), pid('c1'), 'G-4', 'INVITE_SENT', override_reason => 'not needed') ? 'override' AS override_recorded;
-- maxActiveStudies 2: G-5 is in progress in c1 and c2; a contact in c3 is
-- refused (with no date), a contact within c2 is not a new study
SELECT participants.set_contact_rules(pid('gov'), '[{"maxActiveStudies": 2}]') AS active_rule;
SELECT serr($$SELECT participants.set_participant_status(pid('gov'), pid('c3'), 'G-5', 'INVITE_SENT')$$) AS third_study;
SELECT participants.contact_history(pid('gov'), 'G-5') - 'contacts' AS history_active;
SELECT participants.set_participant_status(pid('gov'), pid('c2'), 'G-5', 'SURVEY_STARTED') ->> 'status' AS within_study;
SELECT participants.set_participant_status(pid('gov'), pid('c1'), 'G-5', 'CANCELLED') ->> 'status' AS one_ends;
SELECT participants.set_participant_status(pid('gov'), pid('c3'), 'G-5', 'INVITE_SENT') ->> 'status' AS now_allowed;
-- cooldown: a study completed 5 days ago (a restored row) blocks for 10 days
SELECT participants.set_contact_rules(pid('gov'), '[{"cooldownDaysAfterCompletion": 10}]') AS cooldown_rule;
INSERT INTO t SELECT 'done', (participants.create_study(pid('gov'), 'Done') ->> 'studyID')::uuid;
BEGIN;
SET LOCAL citus.propagate_set_commands = 'local';
SET LOCAL row_security = off;
INSERT INTO participants.study_participant (project_id, id, study_id, participant_id, status, created_date, updated_date)
VALUES (pid('gov'), gen_random_uuid(), pid('done'), gid('G-4'), 'COMPLETED_STUDY', now() - interval '20 days', now() - interval '5 days');
COMMIT;
SELECT regexp_replace(serr($$SELECT participants.set_participant_status(pid('gov'), pid('c2'), 'G-4', 'INVITE_SENT')$$), '\d{4}-\d\d-\d\dT[0-9:.+]+', '<date>') AS cooldown_refused;
SELECT abs(extract(epoch FROM ((participants.contact_history(pid('gov'), 'G-4') ->> 'nextContactDate')::timestamptz - (now() + interval '5 days')))) < 5 AS next_in_5_days;
SELECT participants.set_contact_rules(pid('gov'), '[{"cooldownDaysAfterCompletion": 3}]') IS NOT NULL AS shorter;
SELECT participants.set_participant_status(pid('gov'), pid('c2'), 'G-4', 'INVITE_SENT') ->> 'status' AS after_cooldown;
SELECT participants.contact_history(pid('gov'), 'G-4') - 'contacts' AS nothing_blocks;
-- opting out moves statuses past the rules
SELECT participants.set_contact_rules(pid('gov'), '[{"maxContacts": 1, "windowDays": 365}]') IS NOT NULL AS strict;
SELECT participants.set_opted_out(pid('gov'), 'G-4', true) IS NOT NULL AS opted_out;
SELECT gstatus('c2', 'G-4') AS c2_after_opt_out;
SELECT participants.set_contact_rules(pid('gov'), '[]') AS cleared;
SELECT participants.contact_history(pid('gov'), 'G-5') - 'contacts' AS no_rules_nothing_blocks;
SELECT serr($$SELECT participants.contact_history(pid('gov'), 'G-5', 'name')$$) AS bad_by;

------------------------------------------------------------------------------
-- Incentives
------------------------------------------------------------------------------
-- G-2 in gs3 at SURVEY_COMPLETED: a sent incentive moves it to INCENTIVE_SENT
SELECT participants.set_participant_status(pid('gov'), pid('gs3'), 'G-2', 'INVITE_SENT') ->> 'status' AS s1,
       participants.set_participant_status(pid('gov'), pid('gs3'), 'G-2', 'SURVEY_STARTED') ->> 'status' AS s2,
       participants.set_participant_status(pid('gov'), pid('gs3'), 'G-2', 'SURVEY_COMPLETED') ->> 'status' AS s3;
CREATE TABLE i1 AS SELECT participants.record_incentive(pid('gov'), 'G-2', pid('gs3'), 25.50, 'USD', external_id => 'pay-1', note => 'gift card') AS i;
SELECT (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(i) k) AS keys, i -> 'amount' AS amount, i ->> 'status' AS status,
       i ->> 'externalID' AS external_id, (i ->> 'personId')::uuid = gid('G-2') AS person FROM i1;
SELECT gstatus('gs3', 'G-2') AS study_status_sent;
-- the same external_id again: that incentive, updated
SELECT (i ->> 'incentiveID') = (SELECT i ->> 'incentiveID' FROM i1) AS same_incentive, i ->> 'status' AS status, i -> 'amount' AS amount, i ->> 'note' AS note_kept
FROM (SELECT participants.record_incentive(pid('gov'), 'G-2', pid('gs3'), 25.50, 'USD', 'claimed', 'pay-1') AS i) x;
SELECT count(*) AS incentives FROM participants.incentive WHERE external_id = 'pay-1';
SELECT gstatus('gs3', 'G-2') AS study_status_claimed;
SELECT serr($$SELECT participants.record_incentive(pid('gov'), 'G-1', pid('gs3'), 5, 'USD', external_id => 'pay-1')$$) AS external_id_of_another;
-- bad input, and nothing written
SELECT serr($$SELECT participants.record_incentive(pid('gov'), 'G-2', pid('gs3'), 0, 'USD')$$) AS zero_amount;
SELECT serr($$SELECT participants.record_incentive(pid('gov'), 'G-2', pid('gs3'), -5, 'USD')$$) AS negative;
SELECT serr($$SELECT participants.record_incentive(pid('gov'), 'G-2', pid('gs3'), 'NaN', 'USD')$$) AS nan;
SELECT serr($$SELECT participants.record_incentive(pid('gov'), 'G-2', pid('gs3'), 5, 'usd')$$) AS lower_currency;
SELECT serr($$SELECT participants.record_incentive(pid('gov'), 'G-2', pid('gs3'), 5, 'DOLLAR')$$) AS long_currency;
SELECT serr($$SELECT participants.record_incentive(pid('gov'), 'G-2', pid('gs3'), 5, 'USD', 'paid')$$) AS bad_status;
SELECT serr($$SELECT participants.record_incentive(pid('gov'), 'G-5', pid('gs2'), 5, 'USD')$$) AS not_in_study;
SELECT serr($$SELECT participants.record_incentive(pid('gov'), 'G-2', gen_random_uuid(), 5, 'USD')$$) AS no_study;
SELECT serr($$SELECT participants.record_incentive(pid('gov'), 'G-2', pid('gs3'), 5, 'USD', override_reason => '')$$) AS empty_override;
SELECT count(*) AS incentives_after_errors FROM participants.incentive WHERE project_id = pid('gov');
-- the status graph: pending -> sent -> claimed, cancelled from any but claimed
CREATE TABLE i2 AS SELECT (participants.record_incentive(pid('gov'), 'G-5', pid('c2'), 10, 'EUR', 'pending') ->> 'incentiveID')::uuid AS id;
SELECT gstatus('c2', 'G-5') AS pending_moves_nothing;
SELECT serr(format($$SELECT participants.update_incentive(pid('gov'), %L, 'claimed')$$, id)) AS pending_to_claimed FROM i2;
SELECT participants.update_incentive(pid('gov'), id, 'sent') ->> 'status' AS pending_to_sent FROM i2;
SELECT serr(format($$SELECT participants.update_incentive(pid('gov'), %L, 'pending')$$, id)) AS back_to_pending FROM i2;
SELECT participants.update_incentive(pid('gov'), id, 'cancelled') ->> 'status' AS sent_to_cancelled FROM i2;
SELECT serr(format($$SELECT participants.update_incentive(pid('gov'), %L, 'sent')$$, id)) AS from_cancelled FROM i2;
SELECT serr(format($$SELECT participants.update_incentive(pid('gov'), %L, 'cancelled')$$, i ->> 'incentiveID')) AS claimed_to_cancelled FROM i1;
SELECT serr($$SELECT participants.update_incentive(pid('gov'), gen_random_uuid(), 'sent')$$) AS no_incentive;
SELECT serr(format($$SELECT participants.update_incentive(pid('gov'), %L, 'lost')$$, id)) AS bad_status FROM i2;
-- the graph does not allow INCENTIVE_SENT from SURVEY_STARTED: the status stays
SELECT participants.record_incentive(pid('gov'), 'G-5', pid('c2'), 1, 'EUR') ->> 'status' AS sent, gstatus('c2', 'G-5') AS stays;
-- raw SQL: the same rules
SELECT serr(format($$INSERT INTO participants.incentive (project_id, participant_id, study_id, amount, currency) VALUES (%L, %L, %L, 0, 'USD')$$, pid('gov'), gid('G-5'), pid('c2'))) AS raw_zero;
SELECT serr(format($$INSERT INTO participants.incentive (project_id, participant_id, study_id, amount, currency) VALUES (%L, %L, %L, 5, 'usd')$$, pid('gov'), gid('G-5'), pid('c2'))) AS raw_currency;
SELECT serr(format($$INSERT INTO participants.incentive (project_id, participant_id, study_id, amount, currency) VALUES (%L, %L, %L, 5, 'USD')$$, pid('gov'), gid('G-5'), pid('gs2'))) AS raw_not_in_study;
-- no participant: refused by the column, never looked up (this crashed a cluster's worker)
SELECT serr(format($$INSERT INTO participants.incentive (project_id, participant_id, study_id, amount, currency, status) VALUES (%L, NULL, %L, 5, 'USD', 'sent')$$, pid('gov'), pid('gs3'))) AS raw_no_participant;
SELECT serr(format($$UPDATE participants.incentive SET status = 'pending' WHERE id = %L$$, i ->> 'incentiveID')) AS raw_claimed_to_pending FROM i1;
SELECT serr(format($$UPDATE participants.incentive SET participant_id = %L WHERE id = %L$$, gid('G-1'), i ->> 'incentiveID')) AS raw_move_person FROM i1;
SELECT serr(format($$UPDATE participants.incentive SET amount = 1 WHERE id = %L$$, i ->> 'incentiveID')) AS raw_claimed_amount FROM i1;
-- the yearly limit, per currency, with an override
SELECT participants.update_project(pid('gov'), settings => '{"incentiveYearlyLimit": {"amount": 100, "currency": "USD"}}') -> 'settings' AS limit_set;
SELECT participants.record_incentive(pid('gov'), 'G-2', pid('gs3'), 70, 'USD') -> 'amount' AS under_limit;
SELECT serr($$SELECT participants.record_incentive(pid('gov'), 'G-2', pid('gs3'), 10, 'USD')$$) AS over_limit;
SELECT participants.record_incentive(pid('gov'), 'G-2', pid('gs3'), 10, 'EUR') -> 'amount' AS other_currency;
SELECT participants.record_incentive(pid('gov'), 'G-2', pid('gs3'), 5.25, 'USD', 'pending') -> 'amount' AS pending_not_counted;
SELECT id AS pending_id FROM participants.incentive WHERE project_id = pid('gov') AND amount = 5.25 \gset
SELECT serr(format($$SELECT participants.update_incentive(pid('gov'), %L, 'sent')$$, :'pending_id')) AS pending_to_sent_over;
SELECT participants.update_incentive(pid('gov'), :'pending_id', 'sent', 'approved by finance') ->> 'status' AS overridden;
SELECT override_reason FROM participants.incentive WHERE amount = 5.25;
SELECT participants.record_incentive(pid('gov'), 'G-2', pid('gs3'), 10, 'USD', override_reason => 'one-off bonus') -> 'amount' AS overridden_record;
SELECT serr(format($$INSERT INTO participants.incentive (project_id, participant_id, study_id, amount, currency) VALUES (%L, %L, %L, 50, 'USD')$$, pid('gov'), gid('G-2'), pid('gs3'))) AS raw_over_limit;
SELECT serr(format($$INSERT INTO participants.incentive (project_id, participant_id, study_id, amount, currency, override_reason) VALUES (%L, %L, %L, 50, 'USD', 'raw override')$$, pid('gov'), gid('G-2'), pid('gs3'))) AS raw_override;
-- totals by calendar year (sent and claimed only); list with filters and pages
SELECT jsonb_agg(t - 'personId' ORDER BY t ->> 'currency', (t ->> 'total')::numeric) AS totals, bool_and((t ->> 'personId')::uuid IN (gid('G-2'), gid('G-5'))) AS persons FROM jsonb_array_elements(participants.incentive_totals(pid('gov'), extract(year FROM now() AT TIME ZONE 'UTC')::int)) t;
SELECT participants.incentive_totals(pid('gov'), 1999) AS other_year;
SELECT serr($$SELECT participants.incentive_totals(pid('gov'), 0)$$) AS bad_year;
SELECT l -> 'totalIncentives' AS total, jsonb_array_length(l -> 'incentives') AS on_page FROM (SELECT participants.list_incentives(pid('gov'), page_size => 2) AS l) x;
SELECT participants.list_incentives(pid('gov'), 'g2@example.com', by => 'email') -> 'totalIncentives' AS g2_total,
       participants.list_incentives(pid('gov'), study_id => pid('c2')) -> 'totalIncentives' AS c2_total,
       participants.list_incentives(pid('gov'), status => 'cancelled') -> 'totalIncentives' AS cancelled_total,
       participants.list_incentives(pid('gov'), page_number => 5) -> 'incentives' AS past_the_end;
SELECT serr($$SELECT participants.list_incentives(pid('gov'), status => 'gone')$$) AS list_bad_status,
       serr($$SELECT participants.list_incentives(pid('gov'), page_size => 0)$$) AS list_bad_page,
       serr($$SELECT participants.list_incentives(pid('gov'), study_id => gen_random_uuid())$$) AS list_no_study;

------------------------------------------------------------------------------
-- A restore loads every row as it was: no rule trips, no event is written
------------------------------------------------------------------------------
SELECT count(*) AS events_before FROM participants.event WHERE project_id = pid('gov') \gset
BEGIN;
SET LOCAL citus.propagate_set_commands = 'local';
SET LOCAL row_security = off;
INSERT INTO participants.participant_consent (project_id, participant_id, name, version, scopes) VALUES (pid('gov'), gid('G-4'), 'main', 1, '{not_a_scope_of_v1}');
INSERT INTO participants.consent_history (project_id, participant_id, name, number, action, version, scopes) VALUES (pid('gov'), gid('G-4'), 'main', 1, 'grant', 1, '{contact}');
INSERT INTO participants.incentive (project_id, participant_id, study_id, amount, currency, status) VALUES (pid('gov'), gid('G-2'), pid('gs3'), 500, 'USD', 'claimed');
COMMIT;
SELECT count(*) - :events_before AS events_written_by_restore FROM participants.event WHERE project_id = pid('gov');
