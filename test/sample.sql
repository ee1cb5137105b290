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
