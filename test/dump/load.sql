-- test/dump/load.sql: the source database of test/dump.sh, built through the
-- API functions (as a superuser, in a database with CREATE EXTENSION
-- participants CASCADE). Every kind of user data the extension keeps is here:
-- projects, custom field definitions (one sortable), participants with full
-- demographics and custom fields, generated identifiers, enrolment,
-- withdrawal, opt-out, static and dynamic segments with closed episodes,
-- studies with allowlist, blocklist and completion codes, statuses with their
-- events, a changed status graph, webhooks with their secrets, a
-- project_access grant, governance (consent, contact rules, incentives) and
-- the lifecycle: imports and their row reports, erasures with tombstones and
-- the projects' erasure keys, a retention setting applied (status archive) and
-- the audit log.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

-- projects: A generates identifiers with a prefix, B without one
SELECT participants.create_project('Alpha heart study', '{"participantIdentifierPrefix": "HS-"}') AS a \gset
SELECT participants.create_project('Beta lung study', '{"strictCustomFields": false, "linkIdentifiers": false}') AS b \gset

-- custom field definitions of several types
SELECT participants.define_custom_field(:'a', 'Smoker', 'integer', '{"sortable": true, "description": "packs per day"}') \g /dev/null
SELECT participants.define_custom_field(:'a', 'Medication', 'text') \g /dev/null
SELECT participants.define_custom_field(:'a', 'SurgeryDate', 'date', '{"description": "first surgery"}') \g /dev/null
SELECT participants.define_custom_field(:'a', 'Consented', 'boolean') \g /dev/null
SELECT participants.define_custom_field(:'a', 'Weight', 'number') \g /dev/null
SELECT participants.define_custom_field(:'a', 'VisitAt', 'timestamp') \g /dev/null
SELECT participants.define_custom_field(:'b', 'Arm', 'text') \g /dev/null

-- participants of A: full demographics and custom fields
SELECT participants.upsert_participant(:'a', '{
  "participantIdentifier": "MDH-0001", "secondaryIdentifier": "SEC-1", "invitationStatus": "approved",
  "institutionCode": "VU", "excludeFromExport": false,
  "demographics": {"email": "jsmith@example.com", "firstName": "John", "middleName": "James",
                   "lastName": "Smith", "dateOfBirth": "1970-01-01", "mobilePhone": "615-555-0100",
                   "preferredLanguage": "en", "gender": "M", "street1": "1 Main St", "street2": "Apt 2",
                   "city": "Nashville", "state": "TN", "postalCode": "37201", "utcOffset": "-05:00:00"},
  "customFields": {"Smoker": "1", "Medication": "Lisinopril", "SurgeryDate": "2019-06-01",
                   "Consented": "true", "Weight": 81.5, "VisitAt": "2024-03-01T10:00:00Z", "Free": "form"}
}') \g /dev/null
SELECT participants.upsert_participant(:'a', '{
  "participantIdentifier": "MDH-0002", "invitationStatus": "pending",
  "demographics": {"email": "Mary.Jones@Example.com", "firstName": "Mary", "lastName": "Jones",
                   "dateOfBirth": "1985-07-14", "mobilePhone": "+1 (615) 555-0101", "gender": "F",
                   "city": "Nashville", "state": "TN", "postalCode": "37203", "utcOffset": "-06:00:00"},
  "customFields": {"Smoker": 0, "Medication": "Metformin", "Consented": false}
}') \g /dev/null
SELECT participants.upsert_participant(:'a', '{
  "participantIdentifier": "MDH-0003",
  "demographics": {"email": "olive.out@example.com", "firstName": "Olive", "lastName": "Out",
                   "dateOfBirth": "1990-02-28", "mobilePhone": "615.555.0102", "gender": "O", "city": "Memphis"},
  "customFields": {"Smoker": 2, "SurgeryDate": "2021-12-31", "Consented": "1"}
}') \g /dev/null
SELECT participants.upsert_participant(:'a', '{
  "participantIdentifier": "MDH-0004",
  "demographics": {"email": "pat.four@example.com", "firstName": "Pat", "lastName": "Four",
                   "dateOfBirth": "1960-11-30", "mobilePhone": "6155550103", "city": "Knoxville"},
  "customFields": {"Smoker": 1, "Weight": "70", "VisitAt": "2024-05-06T07:08:09+02:00"}
}') \g /dev/null
-- generated identifiers (no participantIdentifier): prefix + sequence number;
-- one taken by hand first, so that generation skips it
SELECT participants.upsert_participant(:'a', '{"participantIdentifier": "HS-00000002",
  "demographics": {"email": "byhand@example.com", "firstName": "By", "lastName": "Hand"}}') \g /dev/null
SELECT participants.upsert_participants(:'a', '[
  {"demographics": {"email": "gen.one@example.com", "firstName": "Gen", "lastName": "One", "city": "Nashville"},
   "customFields": {"Smoker": 3, "Medication": "Aspirin"}},
  {"demographics": {"email": "gen.two@example.com", "firstName": "Gen", "lastName": "Two"},
   "customFields": {"Consented": true}},
  {"demographics": {"email": "gen.three@example.com", "firstName": "Gen", "lastName": "Three", "mobilePhone": "+44 20 7946 0958"}}
]') \g /dev/null
SELECT participant_identifier AS gen1 FROM participants.participant WHERE project_id = :'a' AND email = 'gen.one@example.com' \gset
SELECT participant_identifier AS gen2 FROM participants.participant WHERE project_id = :'a' AND email = 'gen.two@example.com' \gset
SELECT participant_identifier AS gen3 FROM participants.participant WHERE project_id = :'a' AND email = 'gen.three@example.com' \gset

-- participants of B (generated identifiers without a prefix too)
SELECT participants.upsert_participants(:'b', '[
  {"participantIdentifier": "B-1", "demographics": {"email": "b1@example.com", "firstName": "Bea", "lastName": "One", "dateOfBirth": "2000-01-01"},
   "customFields": {"Arm": "control", "Free": 7}},
  {"participantIdentifier": "B-2", "demographics": {"email": "b2@example.com", "firstName": "Ben", "lastName": "Two"},
   "customFields": {"Arm": "treatment"}},
  {"demographics": {"email": "b3@example.com", "firstName": "Bo", "lastName": "Three"}}
]') \g /dev/null

-- segments of A: static ones, and dynamic ones created before the changes below
SELECT participants.create_segment(:'a', 'Call list', 'Phone these first') ->> 'segmentID' AS call \gset
SELECT participants.create_segment(:'a', 'Pool', 'who may join the study') ->> 'segmentID' AS pool \gset
SELECT participants.create_segment(:'a', 'Blocked') ->> 'segmentID' AS blocked \gset
SELECT participants.create_segment(:'a', 'Completed', 'reached DONE') ->> 'segmentID' AS completed \gset
SELECT participants.create_segment(:'a', 'Enrolled', 'enrolled participants', '{"enrolled": true}') ->> 'segmentID' AS enrolled \gset
SELECT participants.create_segment(:'a', 'Smokers', NULL, '{"custom_fields": {"Smoker": 1}}') ->> 'segmentID' AS smokers \gset
SELECT participants.create_segment(:'a', 'Nashville active', NULL,
  '{"demographic_fields": {"City": "Nashville"}, "withdrawn": false}') ->> 'segmentID' AS nash \gset
SELECT participants.create_segment(:'b', 'B group') ->> 'segmentID' AS bgroup \gset
SELECT participants.create_segment(:'b', 'B treatment', NULL, '{"custom_fields": {"Arm": "treatment"}}') ->> 'segmentID' AS btreat \gset

-- static membership with history: added, removed, added back
SELECT participants.add_segment_members(:'a', :'call', jsonb_build_array('MDH-0001', 'MDH-0004', :'gen1')) \g /dev/null
SELECT participants.remove_segment_members(:'a', :'call', jsonb_build_array('MDH-0004', :'gen1')) \g /dev/null
SELECT participants.add_segment_members(:'a', :'call', '["MDH-0004"]') \g /dev/null
SELECT participants.add_segment_members(:'a', :'pool', jsonb_build_array('MDH-0001', 'MDH-0002', 'MDH-0003', 'MDH-0004', :'gen1', :'gen2', :'gen3')) \g /dev/null
SELECT participants.add_segment_members(:'a', :'blocked', jsonb_build_array(:'gen2')) \g /dev/null
SELECT participants.add_segment_members(:'b', :'bgroup', '["B-1", "B-2"]') \g /dev/null
SELECT participants.remove_segment_members(:'b', :'bgroup', '["B-2"]') \g /dev/null

-- participant changes that move dynamic memberships (closed episodes)
SELECT participants.enroll_participant(:'a', 'MDH-0001') \g /dev/null
SELECT participants.enroll_participant(:'a', 'MDH-0002') \g /dev/null
SELECT participants.upsert_participant(:'a', '{"participantIdentifier": "MDH-0004", "customFields": {"Smoker": 0}}') \g /dev/null
SELECT participants.upsert_participant(:'a', jsonb_build_object('participantIdentifier', :'gen1', 'customFields', jsonb_build_object('Smoker', 1))) \g /dev/null
SELECT participants.upsert_participant(:'b', '{"participantIdentifier": "B-2", "customFields": {"Arm": "control"}}') \g /dev/null
SELECT participants.upsert_participant(:'b', '{"participantIdentifier": "B-1", "customFields": {"Arm": "treatment"}}') \g /dev/null

-- a changed status graph: B may skip the invitation, and not cancel an invite
INSERT INTO participants.status_transition VALUES (:'b', 'NOT_STARTED', 'SURVEY_STARTED');
DELETE FROM participants.status_transition WHERE project_id = :'b' AND from_status = 'INVITE_SENT' AND to_status = 'CANCELLED';

-- a study with an allowlist, a blocklist and completion codes
SELECT participants.create_study(:'a', 'Diet study',
  allowlist => ARRAY[:'pool', :'enrolled']::uuid[], blocklist => ARRAY[:'blocked']::uuid[],
  completion_codes => jsonb_build_array(
    jsonb_build_object('code', 'DONE', 'actions', jsonb_build_array(
      jsonb_build_object('action', 'ADD_TO_SEGMENT', 'segmentID', :'completed'),
      jsonb_build_object('action', 'REMOVE_FROM_SEGMENT', 'segmentID', :'call'))),
    jsonb_build_object('code', 'SCREENED_OUT', 'actions', '[]'::jsonb))) ->> 'studyID' AS s1 \gset
SELECT participants.create_study(:'a', 'Empty study') ->> 'studyID' AS s2 \gset
SELECT participants.create_study(:'b', 'Lung survey') ->> 'studyID' AS s3 \gset
SELECT participants.update_study(:'a', :'s2', name => 'Empty study (renamed)') \g /dev/null

SELECT participants.add_study_participants(:'a', :'s1', jsonb_build_array('MDH-0001', 'MDH-0002', 'MDH-0003', 'MDH-0004', :'gen1', :'gen2', 'HS-00000002')) \g /dev/null
SELECT participants.add_study_participants(:'b', :'s3', '["B-1", "B-2"]') \g /dev/null

-- statuses: a full screener and survey path ending with a completion code
SELECT participants.set_participant_status(:'a', :'s1', 'MDH-0001', 'INVITE_SENT') \g /dev/null
SELECT participants.set_participant_status(:'a', :'s1', 'MDH-0001', 'SCREENER_STARTED') \g /dev/null
SELECT participants.set_participant_status(:'a', :'s1', 'MDH-0001', 'SCREENER_COMPLETED') \g /dev/null
SELECT participants.set_participant_status(:'a', :'s1', 'MDH-0001', 'SCREENER_QUALIFIED') \g /dev/null
SELECT participants.set_participant_status(:'a', :'s1', 'MDH-0001', 'SURVEY_STARTED') \g /dev/null
SELECT participants.set_participant_status(:'a', :'s1', 'MDH-0001', 'SURVEY_COMPLETED') \g /dev/null
SELECT participants.set_participant_status(:'a', :'s1', 'MDH-0001', 'COMPLETED_STUDY', completion_code => 'DONE') \g /dev/null
-- an interview path, rescheduled, left open
SELECT participants.set_participant_status(:'a', :'s1', 'MDH-0004', 'INVITE_SENT') \g /dev/null
SELECT participants.set_participant_status(:'a', :'s1', 'MDH-0004', 'SCREENER_STARTED') \g /dev/null
SELECT participants.set_participant_status(:'a', :'s1', 'MDH-0004', 'SCREENER_COMPLETED') \g /dev/null
SELECT participants.set_participant_status(:'a', :'s1', 'MDH-0004', 'SCREENER_QUALIFIED') \g /dev/null
SELECT participants.set_participant_status(:'a', :'s1', 'MDH-0004', 'INTERVIEW_INVITE_SENT') \g /dev/null
SELECT participants.set_participant_status(:'a', :'s1', 'MDH-0004', 'INTERVIEW_SCHEDULED') \g /dev/null
SELECT participants.set_participant_status(:'a', :'s1', 'MDH-0004', 'INTERVIEW_CANCELLED') \g /dev/null
SELECT participants.set_participant_status(:'a', :'s1', 'MDH-0004', 'INTERVIEW_SCHEDULED') \g /dev/null
SELECT participants.set_participant_status(:'a', :'s1', :'gen1', 'UNMODERATED_TEST_INVITE_SENT') \g /dev/null
SELECT participants.set_participant_status(:'a', :'s1', 'MDH-0003', 'INVITE_SENT') \g /dev/null
SELECT participants.set_participant_status(:'a', :'s1', 'MDH-0002', 'INVITE_SENT') \g /dev/null
SELECT participants.set_participant_status(:'a', :'s1', 'MDH-0002', 'SCREENER_STARTED') \g /dev/null
SELECT participants.set_participant_status(:'b', :'s3', 'B-1', 'SURVEY_STARTED') \g /dev/null
SELECT participants.set_participant_status(:'b', :'s3', 'B-2', 'INVITE_SENT') \g /dev/null

-- opt-out (cascades to OPTED_OUT), opt-out and back in, withdrawal (cascades to CANCELLED)
SELECT participants.set_opted_out(:'a', 'MDH-0003', true) \g /dev/null
SELECT participants.set_opted_out(:'b', 'B-2', true) \g /dev/null
SELECT participants.set_opted_out(:'b', 'B-2', false) \g /dev/null
SELECT participants.withdraw_participant(:'a', 'MDH-0002') \g /dev/null

-- webhooks, made after the events (nothing left to deliver); B's paused. Their
-- secrets are restored with them.
SELECT participants.create_webhook(:'a', 'https://hooks.example.org/alpha', ARRAY['participant.status_changed'], 'scheduler') ->> 'webhookID' AS wa \gset
SELECT participants.create_webhook(:'b', 'https://hooks.example.org/beta') ->> 'webhookID' AS wb \gset
SELECT participants.update_webhook(:'b', :'wb', active => false) \g /dev/null

-- governance (0.5.0): consent versions, grants and a withdrawal, a study
-- requiring consent, contact rules with a contact past them (overridden),
-- incentives past the yearly limit (overridden): a restore trips none of it
SELECT participants.define_consent(:'b', 'main', '{contact,data}') \g /dev/null
SELECT participants.define_consent(:'b', 'main', '{contact,data,recording}', repeat('0f', 32), 'v2') \g /dev/null
SELECT participants.record_consent(:'b', 'B-1', 'main', method => 'paper', evidence => '{"form": 12}') \g /dev/null
SELECT participants.record_consent(:'b', 'b2@example.com', 'main', 1, by => 'email') \g /dev/null
SELECT participants.create_study(:'b', 'Recorded interviews',
    required_consents => '[{"name": "main", "minVersion": 2, "scopes": ["recording"]}]') ->> 'studyID' AS s4 \gset
SELECT participants.add_study_participants(:'b', :'s4', '["B-1", "B-2"]') \g /dev/null
SELECT participants.set_contact_rules(:'b', '[{"maxContacts": 1, "windowDays": 90}, {"maxActiveStudies": 3}]') \g /dev/null
SELECT participants.set_participant_status(:'b', :'s4', 'B-1', 'INTERVIEW_INVITE_SENT', override_reason => 'second study, agreed by phone') \g /dev/null
SELECT participants.withdraw_consent(:'b', 'B-1', 'main', '{recording}', 'no recordings') \g /dev/null
SELECT participants.set_participant_status(:'b', :'s3', 'B-1', 'SURVEY_COMPLETED') \g /dev/null
SELECT participants.update_project(:'b', settings => '{"incentiveYearlyLimit": {"amount": 50, "currency": "EUR"}}') \g /dev/null
SELECT participants.record_incentive(:'b', 'B-1', :'s3', 40, 'EUR', external_id => 'pay-b1') \g /dev/null
SELECT participants.record_incentive(:'b', 'B-1', :'s3', 20, 'EUR', 'claimed', override_reason => 'travel costs') \g /dev/null
SELECT participants.record_incentive(:'b', 'B-2', :'s3', 5.5, 'GBP', 'pending', note => 'voucher') \g /dev/null

-- lifecycle (0.6.0): imports with a report for every row (one completed
-- with a failed row and an idempotency key, one failed as a whole, a dry
-- run), erasures with their tombstones (one forgotten), a retention setting
-- applied (its status archive), and the audit log all of this writes (one row
-- with a JWT's sub). A restore loads every row as it was and writes none.
-- (all in B, whose webhook is paused, and C, which has none: no delivery
-- starts while the databases are compared)
-- B: a CSV file (quoted fields, CRLF, a later row updating an earlier one,
-- a row that fails), written as far as it goes
SELECT participants.import_participants(:'b', E'participantIdentifier,email,firstName,lastName,mobilePhone,dateOfBirth,customFields.Arm\r\n'
    'IMP-1,imp.one@example.com,Ima,"One, Jr.",615-555-0150,1980-04-01,control\r\n'
    'IMP-2,imp.two@example.com,"Ivo ""Two""",Two,615-555-0151,,treatment\r\n'
    'IMP-1,,,,,,treatment\r\n'
    'IMP-3,imp.three@example.com,Bad,Date,,1990-02-30,\r\n',
    '{"onError": "skip", "idempotencyKey": "load-1"}') \g /dev/null
-- B: a JSON array whose second row fails: nothing written, both rows reported
SELECT participants.import_participants(:'b', '[
  {"participantIdentifier": "IMP-4", "demographics": {"email": "imp.four@example.com"}},
  {"participantIdentifier": "IMP-5", "demographics": {"gender": "Q"}}]') \g /dev/null
-- B: the imported IMP-2 joins a segment and a study and consents, then is erased
SELECT participants.add_segment_members(:'b', :'bgroup', '["IMP-2"]') \g /dev/null
SELECT participants.add_study_participants(:'b', :'s3', '["IMP-2"]') \g /dev/null
SELECT participants.set_participant_status(:'b', :'s3', 'IMP-2', 'INVITE_SENT') \g /dev/null
SELECT participants.record_consent(:'b', 'IMP-2', 'main') \g /dev/null
SELECT participants.erase_participant(:'b', 'Imp.Two@Example.com', by => 'email', reason => 'asked by email') \g /dev/null
-- B: an erasure whose tombstone was forgotten (the receipt stays)
SELECT participants.upsert_participant(:'b', '{"participantIdentifier": "B-9", "demographics": {"email": "b9@example.com", "mobilePhone": "+44 20 7946 0999"}}') \g /dev/null
SELECT participants.erase_participant(:'b', 'B-9') ->> 'erasureID' AS er9 \gset
SELECT participants.forget_erasure(:'b', :'er9') \g /dev/null
-- C: retention applied to events of 40 days ago (loaded as a restore loads
-- rows: events are never updated, so deleted and inserted again with their
-- ids and payloads); status_history reads the status archive from then on
SELECT participants.create_project('Gamma retention study',
    '{"retention": {"eventDays": 30, "deliveryDays": 30, "auditDays": 3650, "withdrawnDays": 365}}') AS c \gset
SELECT participants.create_study(:'c', 'Follow-up') ->> 'studyID' AS s5 \gset
SELECT participants.upsert_participants(:'c', '[
  {"participantIdentifier": "C-1", "demographics": {"email": "c1@example.com", "city": "Austin"}},
  {"participantIdentifier": "C-2", "demographics": {"email": "c2@example.com"}}]') \g /dev/null
SELECT participants.add_study_participants(:'c', :'s5', '["C-1", "C-2"]') \g /dev/null
SELECT participants.set_participant_status(:'c', :'s5', 'C-1', 'INVITE_SENT') \g /dev/null
SELECT participants.set_participant_status(:'c', :'s5', 'C-1', 'SCREENER_STARTED') \g /dev/null
BEGIN;
SET LOCAL row_security = off;
CREATE TEMP TABLE c_events ON COMMIT DROP AS SELECT * FROM participants.event WHERE project_id = :'c';
DELETE FROM participants.event WHERE project_id = :'c';
INSERT INTO participants.event (project_id, id, event_type, person_id, study_id, study_participant_id,
                                completion_code, payload, created_date)
SELECT project_id, id, event_type, person_id, study_id, study_participant_id,
       completion_code, payload, created_date - interval '40 days'
FROM c_events;
COMMIT;
SELECT participants.apply_retention(:'c') \g /dev/null
SELECT participants.set_participant_status(:'c', :'s5', 'C-1', 'SCREENER_COMPLETED') \g /dev/null
SELECT participants.set_participant_status(:'c', :'s5', 'C-2', 'INVITE_SENT') \g /dev/null
-- C: a change made through PostgREST (its JWT's sub in the audit row), a dry run
SET request.jwt.claims = '{"sub": "crm-user-7", "role": "postgres"}';
SELECT participants.upsert_participant(:'c', '{"participantIdentifier": "C-2", "demographics": {"city": "Dallas"}}') \g /dev/null
RESET request.jwt.claims;
SELECT participants.import_participants(:'c', E'participantIdentifier,city\nC-1,Houston\nC-3,El Paso\n', '{"dryRun": true}') \g /dev/null

-- a confined role's grant
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'regress_dump_reader') THEN
        CREATE ROLE regress_dump_reader NOLOGIN;
    END IF;
END $$;
INSERT INTO participants.project_access (project_id, role_name) VALUES (:'a', 'regress_dump_reader');
GRANT USAGE ON SCHEMA participants TO regress_dump_reader;
GRANT EXECUTE ON FUNCTION participants.get_participant, participants.allowed_projects TO regress_dump_reader;
