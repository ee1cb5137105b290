-- enrollment: the email/phone lock, final withdrawal, through the functions and raw UPDATE
SELECT participants.upsert_participant(pid('main'), '{"participantIdentifier": "E1", "demographics": {"email": "e1@example.com", "mobilePhone": "+1 555 010 0001", "firstName": "Eve"}}') IS NOT NULL AS added;

-- before enrollment both can change
SELECT r->'result'->'demographics' AS demographics
FROM participants.upsert_participant(pid('main'), '{"participantIdentifier": "E1", "demographics": {"email": "eve@example.com", "mobilePhone": "+15550100002"}}') AS r;

SELECT r->>'actionTaken' AS action, shape(r->'result')
FROM participants.enroll_participant(pid('main'), 'E1') AS r;
-- enrolling again changes nothing
SELECT r->>'actionTaken' AS action, shape(r->'result') FROM participants.enroll_participant(pid('main'), 'E1') AS r;

-- locked through the function
SELECT err($$SELECT participants.upsert_participant(pid('main'), '{"participantIdentifier": "E1", "demographics": {"email": "other@example.com"}}')$$) AS change_email;
SELECT err($$SELECT participants.upsert_participant(pid('main'), '{"participantIdentifier": "E1", "demographics": {"mobilePhone": "+15550100003"}}')$$) AS change_phone;
SELECT err($$SELECT participants.upsert_participant(pid('main'), '{"participantIdentifier": "E1", "demographics": {"email": null}}')$$) AS clear_email;
SELECT err($$SELECT participants.upsert_participant(pid('main'), '{"participantIdentifier": "E1", "demographics": {"mobilePhone": ""}}')$$) AS clear_phone;
-- the same value again is not a change (the phone in another format normalizes to the same)
SELECT r->>'actionTaken' AS action
FROM participants.upsert_participant(pid('main'), '{"participantIdentifier": "E1", "demographics": {"email": "eve@example.com", "mobilePhone": "+1 (555) 010-0002"}}') AS r;
-- other fields still change
SELECT r->>'actionTaken' AS action, r->'result'->'demographics'->>'firstName' AS first
FROM participants.upsert_participant(pid('main'), '{"participantIdentifier": "E1", "demographics": {"firstName": "Evelyn"}}') AS r;

-- locked through raw UPDATE
SELECT err($$UPDATE participants.participant SET email = 'raw@example.com' WHERE participant_identifier = 'E1'$$) AS raw_email;
SELECT err($$UPDATE participants.participant SET mobile_phone = '+15550100009' WHERE participant_identifier = 'E1'$$) AS raw_phone;
SELECT err($$UPDATE participants.participant SET mobile_phone = NULL WHERE participant_identifier = 'E1'$$) AS raw_clear_phone;
SELECT err($$UPDATE participants.participant SET enrollment_date = NULL WHERE participant_identifier = 'E1'$$) AS raw_unenroll;
SELECT err($$UPDATE participants.participant SET enrollment_date = now() - interval '1 day' WHERE participant_identifier = 'E1'$$) AS raw_move_enrollment;
SELECT err($$UPDATE participants.participant SET first_name = 'Evie' WHERE participant_identifier = 'E1'$$) AS raw_other_column;
SELECT email, mobile_phone, first_name FROM participants.participant WHERE participant_identifier = 'E1';

-- withdrawal: final
SELECT r->>'actionTaken' AS action, shape(r->'result') FROM participants.withdraw_participant(pid('main'), 'E1') AS r;
SELECT err($$SELECT participants.withdraw_participant(pid('main'), 'E1')$$) AS withdraw_twice;
SELECT err($$UPDATE participants.participant SET withdraw_date = NULL WHERE participant_identifier = 'E1'$$) AS raw_clear_withdraw;
SELECT err($$UPDATE participants.participant SET withdraw_date = now() + interval '1 day' WHERE participant_identifier = 'E1'$$) AS raw_move_withdraw;
-- a withdrawn participant keeps its record and can still be read and corrected
SELECT shape(participants.get_participant(pid('main'), 'E1'));
SELECT r->>'actionTaken' AS action FROM participants.upsert_participant(pid('main'), '{"participantIdentifier": "E1", "demographics": {"city": "Reno"}}') AS r;

-- enroll after withdraw
SELECT participants.upsert_participant(pid('main'), '{"participantIdentifier": "E2"}') IS NOT NULL AS added;
SELECT participants.withdraw_participant(pid('main'), 'E2') IS NOT NULL AS withdrawn;
SELECT err($$SELECT participants.enroll_participant(pid('main'), 'E2')$$) AS enroll_withdrawn;
SELECT err($$UPDATE participants.participant SET enrollment_date = now() WHERE participant_identifier = 'E2'$$) AS raw_enroll_withdrawn;
SELECT enrollment_date IS NULL AS still_not_enrolled FROM participants.participant WHERE participant_identifier = 'E2';

-- not found, by identifier and by id
SELECT err($$SELECT participants.enroll_participant(pid('main'), 'NOPE')$$) AS enroll_missing;
SELECT err($$SELECT participants.withdraw_participant(pid('main'), '00000000-0000-4000-8000-000000000000', true)$$) AS withdraw_missing_id;
SELECT err($$SELECT participants.enroll_participant(pid('main'), 'E1x', true)$$) AS bad_id_text;
-- an identifier of project "main" is not found through project "other"
SELECT err($$SELECT participants.enroll_participant(pid('other'), 'E1')$$) AS other_project;
