-- test/sample.sql: the sample project loaded by "test/dev.sh up"
CREATE EXTENSION IF NOT EXISTS participants CASCADE;

SELECT participants.create_project('Sample study', '{"participantIdentifierPrefix": "SAMPLE-"}') AS project \gset

SELECT participants.define_custom_field(:'project', 'Smoker', 'integer', '{"description": "1 when the participant smokes"}');
SELECT participants.define_custom_field(:'project', 'SurgeryDate', 'date');

SELECT participants.upsert_participants(:'project', $$[
  {"participantIdentifier": "SAMPLE-001",
   "secondaryIdentifier": "MRN-4471",
   "invitationStatus": "approved",
   "demographics": {"email": "john.smith@example.com", "firstName": "John", "middleName": "James",
                    "lastName": "Smith", "dateOfBirth": "1980-05-17", "preferredLanguage": "en",
                    "gender": "M", "street1": "12 Main St", "city": "Nashville", "state": "TN",
                    "postalCode": "37203", "mobilePhone": "+1 (615) 555-0142", "utcOffset": "-06:00:00"},
   "customFields": {"Medication1": "Metformin", "Smoker": "1", "SurgeryDate": "2021-03-04"}},
  {"demographics": {"email": "ana.lopez@example.com", "firstName": "Ana", "lastName": "Lopez",
                    "dateOfBirth": "1992-11-02", "gender": "F", "city": "Austin", "state": "TX"},
   "customFields": {"Smoker": 0}},
  {"participantIdentifier": "SAMPLE-003",
   "demographics": {"email": "wei.chen@example.com", "firstName": "Wei", "lastName": "Chen"}}
]$$) IS NOT NULL AS loaded;

SELECT participants.enroll_participant(:'project', 'SAMPLE-001') IS NOT NULL AS enrolled;

-- a participant group and a dynamic segment (kept current by the database)
SELECT participants.create_segment(:'project', 'Call list', 'Phone these first')->>'segmentID' AS call_list \gset
SELECT participants.add_segment_members(:'project', :'call_list', '["SAMPLE-001", "SAMPLE-003"]');
SELECT participants.create_segment(:'project', 'Smokers', 'Participants whose Smoker field is 1',
       '{"custom_fields": {"Smoker": 1}, "withdrawn": false}') IS NOT NULL AS dynamic_segment;

-- a study open to the call list, one participant invited
SELECT participants.create_study(:'project', 'Sleep study', ARRAY[:'call_list']::uuid[])->>'studyID' AS sleep_study \gset
SELECT participants.add_study_participants(:'project', :'sleep_study', '["SAMPLE-001", "SAMPLE-003"]');
SELECT participants.set_participant_status(:'project', :'sleep_study', 'SAMPLE-001', 'INVITE_SENT') IS NOT NULL AS invited;
