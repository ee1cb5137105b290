-- validation: every malformed body is rejected with its SQLSTATE, naming the key
CREATE TEMP TABLE cases (n int, body jsonb);
INSERT INTO cases VALUES
 (1,  '{"participantIdentifier": "V1", "nickname": "Jo"}'),
 (2,  '{"participantIdentifier": "V1", "demographics": {"favouriteColour": "red"}}'),
 (3,  '{"participantIdentifier": "V1", "demographics": {"firstName": 7}}'),
 (4,  '{"participantIdentifier": "V1", "demographics": {"firstName": ["a"]}}'),
 (5,  '{"participantIdentifier": 12}'),
 (6,  '{"participantIdentifier": ""}'),
 (7,  '{"participantIdentifier": "V1", "demographics": "none"}'),
 (8,  '{"participantIdentifier": "V1", "excludeFromExport": "yes"}'),
 (9,  '{"participantIdentifier": "V1", "invitationStatus": "maybe"}'),
 (10, '{"participantIdentifier": "V1", "demographics": {"gender": "X"}}'),
 (11, '{"participantIdentifier": "V1", "demographics": {"gender": "m"}}'),
 (12, '{"participantIdentifier": "V1", "demographics": {"dateOfBirth": "2021-02-30"}}'),
 (13, '{"participantIdentifier": "V1", "demographics": {"dateOfBirth": "2999-01-01"}}'),
 (14, '{"participantIdentifier": "V1", "demographics": {"dateOfBirth": "01/02/1990"}}'),
 (15, '{"participantIdentifier": "V1", "demographics": {"dateOfBirth": "1990-13-01"}}'),
 (16, '{"participantIdentifier": "V1", "demographics": {"email": "not-an-email"}}'),
 (17, '{"participantIdentifier": "V1", "demographics": {"email": "a@b"}}'),
 (18, '{"participantIdentifier": "V1", "demographics": {"email": "a b@example.com"}}'),
 (19, '{"participantIdentifier": "V1", "demographics": {"email": "a@@example.com"}}'),
 (20, '{"participantIdentifier": "V1", "demographics": {"mobilePhone": "call me"}}'),
 (21, '{"participantIdentifier": "V1", "demographics": {"mobilePhone": "123"}}'),
 (22, '{"participantIdentifier": "V1", "demographics": {"mobilePhone": "1234567890123456"}}'),
 (23, '{"participantIdentifier": "V1", "demographics": {"utcOffset": "-4:00"}}'),
 (24, '{"participantIdentifier": "V1", "demographics": {"utcOffset": "+15:00:00"}}'),
 (25, '{"participantIdentifier": "V1", "demographics": {"utcOffset": "05:61:00"}}'),
 (26, '{"participantIdentifier": "V1", "enrolled": true}'),
 (27, '{"participantIdentifier": "V1", "enrollmentDate": "2020-01-01T00:00:00Z"}'),
 (28, '{"participantIdentifier": "V1", "withdrawDate": null}'),
 (29, '{"participantIdentifier": "V1", "insertedDate": "2020-01-01"}'),
 (30, '{"participantIdentifier": "V1", "linkIdentifier": "abc"}'),
 (31, '{"participantIdentifier": "V1", "addedToSegmentDate": "2020-01-01"}'),
 (32, '{"participantIdentifier": "V1", "customFields": {"Nested": {"a": 1}}}'),
 (33, '{"participantIdentifier": "V1", "customFields": {"List": [1]}}'),
 (34, '{"participantIdentifier": "V1", "customFields": []}'),
 (35, '{"participantIdentifier": "V1", "institutionCode": 5}'),
 (36, '{"participantIdentifier": "V1", "id": null}'),
 (37, '{"participantIdentifier": "V1", "demographics": {"firstName": null, "lastName": false}}'),
 (38, '{"participantIdentifier": "V1", "demographics": {"dateOfBirth": "1990-02-29"}}'),
 (39, '{"participantIdentifier": "V1", "customFields": {"": 1}}');
SELECT n, err(format('SELECT participants.upsert_participant(pid(''main''), %L)', body)) FROM cases ORDER BY n;

-- nothing was written by any of them
SELECT count(*) AS v1_rows FROM participants.participant WHERE participant_identifier = 'V1';

-- the good edge values are accepted
SELECT r->'result'->'demographics' AS demographics
FROM participants.upsert_participant(pid('main'), '{"participantIdentifier": "V2", "demographics": {"dateOfBirth": "2000-02-29", "utcOffset": "05:30:00", "gender": "O", "email": "o''brien+tag@sub.example.org"}}') AS r;
SELECT r->'result'->'demographics' AS demographics
FROM participants.upsert_participant(pid('main'), '{"participantIdentifier": "V3", "demographics": {"utcOffset": "+14:00:00", "dateOfBirth": "1900-01-01"}}') AS r;
-- long values are refused, not truncated
SELECT err(format('SELECT participants.upsert_participant(pid(''main''), %L)',
	jsonb_build_object('participantIdentifier', repeat('x', 256)))) AS long_identifier;
SELECT err(format('SELECT participants.upsert_participant(pid(''main''), %L)',
	jsonb_build_object('participantIdentifier', 'V4', 'demographics', jsonb_build_object('city', repeat('x', 1001))))) AS long_city;

-- raw writes are checked by the guard trigger too
SELECT err($$INSERT INTO participants.participant (project_id, id, participant_identifier, email) VALUES (pid('main'), gen_random_uuid(), 'RAW1', 'nope')$$) AS raw_bad_email;
SELECT err($$INSERT INTO participants.participant (project_id, id, participant_identifier, mobile_phone) VALUES (pid('main'), gen_random_uuid(), 'RAW1', '(615) 555-0199')$$) AS raw_unnormalized_phone;
SELECT err($$INSERT INTO participants.participant (project_id, id, participant_identifier, date_of_birth) VALUES (pid('main'), gen_random_uuid(), 'RAW1', current_date + 1)$$) AS raw_future_dob;
SELECT err($$INSERT INTO participants.participant (project_id, id, participant_identifier, utc_offset) VALUES (pid('main'), gen_random_uuid(), 'RAW1', 'UTC')$$) AS raw_bad_offset;
SELECT err($$INSERT INTO participants.participant (project_id, id, participant_identifier, gender) VALUES (pid('main'), gen_random_uuid(), 'RAW1', 'Q')$$) AS raw_bad_gender;
SELECT err($$INSERT INTO participants.participant (project_id, id, participant_identifier, custom_fields) VALUES (pid('main'), gen_random_uuid(), 'RAW1', '{"a": {"b": 1}}')$$) AS raw_nested_field;
SELECT err($$INSERT INTO participants.participant (project_id, id, participant_identifier) VALUES (pid('main'), gen_random_uuid(), '')$$) AS raw_empty_identifier;
SELECT err($$INSERT INTO participants.participant (project_id, id, participant_identifier, email) VALUES (pid('main'), gen_random_uuid(), 'RAW1', 'JSMITH@example.com')$$) AS raw_dup_email;
SELECT err($$UPDATE participants.participant SET email = 'bad' WHERE participant_identifier = 'V2'$$) AS raw_update_bad_email;
SELECT err($$UPDATE participants.participant SET project_id = pid('other') WHERE participant_identifier = 'V2'$$) AS raw_move_project;
SELECT err($$UPDATE participants.participant SET id = '00000000-0000-4000-8000-0000000000a2' WHERE participant_identifier = 'V2'$$) AS raw_change_id;
SELECT err($$INSERT INTO participants.participant (project_id, id, participant_identifier, email, mobile_phone) VALUES (pid('main'), gen_random_uuid(), 'RAW2', 'raw2@example.com', '+15550001111')$$) AS raw_good_insert;
SELECT strip(participants.get_participant(pid('main'), 'RAW2')) AS raw_row;

-- each read-only key's hint says where its value comes from
DO $$
DECLARE k text; h text;
BEGIN
	FOREACH k IN ARRAY ARRAY['enrolled', 'withdrawDate', 'linkIdentifier', 'addedToSegmentDate'] LOOP
		BEGIN
			PERFORM participants.upsert_participant(pid('main'), jsonb_build_object('participantIdentifier', 'V1', k, null));
		EXCEPTION WHEN invalid_parameter_value THEN
			GET STACKED DIAGNOSTICS h = PG_EXCEPTION_HINT;
			RAISE NOTICE '%: %', k, h;
		END;
	END LOOP;
END $$;
