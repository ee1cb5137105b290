-- upsert: add, update, partial merge, "none", selection rules, the sample participant

-- the sample participant of the seed documentation: John James Smith
CREATE TEMP TABLE sample AS SELECT $${
  "participantIdentifier": "MDH-0001",
  "secondaryIdentifier": "SID-77",
  "invitationStatus": "pending",
  "excludeFromExport": false,
  "demographics": {
    "email": "jsmith@example.com", "firstName": "John", "middleName": "James", "lastName": "Smith",
    "dateOfBirth": "1970-01-01", "preferredLanguage": "en-US", "gender": "M",
    "street1": "123 Main St", "street2": "Apt 4", "city": "Nashville", "state": "TN",
    "postalCode": "37201", "mobilePhone": "615-555-0100", "utcOffset": "-05:00:00"},
  "customFields": {"Medication1": "Lisinopril", "Smoker": "1", "SurgeryDate": "2019-06-01"}
}$$::jsonb AS body;
SELECT (r->>'actionTaken') AS action, strip(r->'result') AS result, shape(r->'result')
FROM sample, participants.upsert_participant(pid('main'), body) AS r;

-- read back: the same values
SELECT strip(participants.get_participant(pid('main'), 'MDH-0001'));

-- re-sent unchanged: none, and nothing is written
SELECT updated_date AS before FROM participants.participant WHERE participant_identifier = 'MDH-0001' \gset
SELECT participants.upsert_participant(pid('main'), body)->>'actionTaken' AS resent FROM sample;
SELECT updated_date = :'before' AS untouched FROM participants.participant WHERE participant_identifier = 'MDH-0001';

-- the whole read-back object is what the add returned
SELECT participants.get_participant(pid('main'), 'MDH-0001')
     = (participants.upsert_participant(pid('main'), '{"participantIdentifier": "MDH-0001"}')->'result') AS same_object;

-- partial update: absent keys keep values, demographics and customFields merge, null clears
SELECT r->>'actionTaken' AS action, strip(r->'result') AS result
FROM participants.upsert_participant(pid('main'), $${
  "participantIdentifier": "MDH-0001",
  "demographics": {"city": "Memphis", "street2": null, "middleName": ""},
  "customFields": {"Medication1": null, "Medication2": "Aspirin"},
  "invitationStatus": null
}$$) AS r;

-- secondaryIdentifier is the custom field SecondaryIdentifier, both ways
SELECT r->'result'->>'secondaryIdentifier' AS secondary, r->'result'->'customFields'->>'SecondaryIdentifier' AS field
FROM participants.upsert_participant(pid('main'), '{"participantIdentifier": "MDH-0001", "customFields": {"SecondaryIdentifier": "SID-78"}}') AS r;
SELECT r->'result'->>'secondaryIdentifier' AS secondary, r->'result'->'customFields' ? 'SecondaryIdentifier' AS has_field
FROM participants.upsert_participant(pid('main'), '{"participantIdentifier": "MDH-0001", "secondaryIdentifier": null}') AS r;
SELECT err($$SELECT participants.upsert_participant(pid('main'), '{"participantIdentifier": "MDH-0001", "secondaryIdentifier": "A", "customFields": {"SecondaryIdentifier": "B"}}')$$);

-- add by email only: identifier generated with the project prefix
SELECT r->>'actionTaken' AS action, r->'result'->>'participantIdentifier' ~ '^MS-\d{8}$' AS generated,
       r->'result'->'demographics' AS demographics
FROM participants.upsert_participant(pid('main'), '{"demographics": {"email": "Ann@Example.com", "firstName": "Ann"}}') AS r;

-- select by id: update, and the identifier can change
SELECT id AS ann FROM participants.participant WHERE email = 'Ann@Example.com' \gset
SELECT r->>'actionTaken' AS action, r->'result'->>'participantIdentifier' AS ident, r->'result'->'demographics'->>'lastName' AS last
FROM participants.upsert_participant(pid('main'), jsonb_build_object('id', :'ann', 'participantIdentifier', 'MDH-0002', 'demographics', jsonb_build_object('lastName', 'Lee'))) AS r;

-- identifier not found: add with that identifier
SELECT r->>'actionTaken' AS action, r->'result'->>'participantIdentifier' AS ident
FROM participants.upsert_participant(pid('main'), '{"participantIdentifier": "MDH-0003"}') AS r;

-- link identifiers off in project "other"; no prefix
SELECT r->'result'->>'linkIdentifier' IS NULL AS no_link, r->'result'->>'participantIdentifier' ~ '^\d{8}$' AS plain_number
FROM participants.upsert_participant(pid('other'), '{"demographics": {"email": "jsmith@example.com"}}') AS r;

-- the same email in another project is fine; tenants are separate
SELECT count(*) AS jsmiths FROM participants.participant WHERE lower(email) = 'jsmith@example.com';

-- excludeFromExport and institutionCode
SELECT r->'result'->'excludeFromExport' AS excl, r->'result'->'institutionCode' AS inst
FROM participants.upsert_participant(pid('main'), '{"participantIdentifier": "MDH-0003", "excludeFromExport": true, "institutionCode": "VUMC"}') AS r;
SELECT r->'result'->'institutionCode' AS inst
FROM participants.upsert_participant(pid('main'), '{"participantIdentifier": "MDH-0003", "institutionCode": null}') AS r;

-- phone normalization: formats accepted, stored as digits with optional +
SELECT r->'result'->'demographics'->>'mobilePhone' AS phone
FROM (VALUES ('(615) 555-0101'), ('+44 20 7946 0958'), ('615.555.0103')) v(ph),
     LATERAL participants.upsert_participant(pid('main'), jsonb_build_object('participantIdentifier', 'PH-' || ph, 'demographics', jsonb_build_object('mobilePhone', ph))) AS r
ORDER BY 1;

-- all the selection and uniqueness errors
SELECT err($$SELECT participants.upsert_participant(pid('main'), '{"demographics": {"firstName": "X"}}')$$) AS no_selector;
SELECT err($$SELECT participants.upsert_participant(pid('main'), '{}')$$) AS empty_body;
SELECT err($$SELECT participants.upsert_participant(pid('main'), '{"id": "00000000-0000-4000-8000-000000000000"}')$$) AS unknown_id;
SELECT err($$SELECT participants.upsert_participant(pid('main'), '{"id": "not-a-uuid"}')$$) AS bad_id;
SELECT err($$SELECT participants.upsert_participant(pid('main'), '{"demographics": {"email": "JSMITH@example.COM"}}')$$) AS dup_email_case;
SELECT err($$SELECT participants.upsert_participant(pid('main'), '{"participantIdentifier": "MDH-0003", "demographics": {"mobilePhone": "6155550100"}}')$$) AS dup_phone;
SELECT err($$SELECT participants.upsert_participant(pid('main'), '{"participantIdentifier": "MDH-0003", "demographics": {"email": "jsmith@EXAMPLE.com"}}')$$) AS dup_email_update;
SELECT err(format($$SELECT participants.upsert_participant(pid('main'), '{"id": "%s", "participantIdentifier": "MDH-0001"}')$$, :'ann')) AS dup_identifier;
SELECT err($$SELECT participants.upsert_participant('00000000-0000-4000-8000-000000000000', '{"participantIdentifier": "X"}')$$) AS no_project;
SELECT err($$SELECT participants.upsert_participant(pid('main'), '[1, 2]')$$) AS not_object;
SELECT err($$SELECT participants.upsert_participant(pid('main'), NULL)$$) AS null_body;
SELECT count(*) AS participants_in_main FROM participants.participant WHERE project_id = pid('main');

-- participant objects are written in jsonb's binary layout: each equals its own text
-- form parsed again, and every key is found by lookup
SELECT g = g::text::jsonb AS well_formed,
       (SELECT count(*) FROM jsonb_object_keys(g) k WHERE g ? k) AS keys_found,
       (SELECT count(*) FROM jsonb_object_keys(g->'demographics') k WHERE g->'demographics' ? k) AS demographics_found
FROM participants.get_participant(pid('main'), 'MDH-0001') AS g;
SELECT r = r::text::jsonb AS well_formed, r->'result'->'demographics'->>'preferredLanguage' AS lang
FROM participants.upsert_participant(pid('main'), '{"participantIdentifier": "MDH-0001", "demographics": {"preferredLanguage": "es"}}') AS r;

-- a generated identifier skips a number someone already took by hand
SELECT last_participant_number AS n FROM participants.project_counter WHERE project_id = pid('main') \gset
SELECT participants.upsert_participant(pid('main'), jsonb_build_object('participantIdentifier', 'MS-' || lpad((:n + 1)::text, 8, '0'))) ->> 'actionTaken' AS taken_by_hand;
SELECT r->>'actionTaken' AS action,
       r->'result'->>'participantIdentifier' = 'MS-' || lpad((:n + 2)::text, 8, '0') AS skipped_to_next
FROM participants.upsert_participant(pid('main'), '{"demographics": {"email": "gen-skip@example.com"}}') AS r;
