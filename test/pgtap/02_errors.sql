-- pgTAP: every error path of the participant functions with its exact documented SQLSTATE
BEGIN;
SELECT plan(46);

SELECT participants.create_project('tap') AS p \gset
SELECT participants.create_project('tap strict', '{"strictCustomFields": true}') AS s \gset
SELECT participants.upsert_participant(:'p', '{"participantIdentifier": "A", "demographics": {"email": "a@example.com", "mobilePhone": "+15550000001"}}') IS NOT NULL;
SELECT participants.upsert_participant(:'p', '{"participantIdentifier": "W"}') IS NOT NULL;
SELECT participants.withdraw_participant(:'p', 'W') IS NOT NULL;
SELECT participants.define_custom_field(:'p', 'Age', 'integer') IS NOT NULL;

PREPARE up(jsonb) AS SELECT participants.upsert_participant(:'p', $1);

-- 22023 malformed or invalid input
SELECT throws_ok($$EXECUTE up('{"participantIdentifier": "B", "nick": 1}')$$, '22023', 'unknown key "nick"', 'unknown top-level key');
SELECT throws_ok($$EXECUTE up('{"participantIdentifier": "B", "demographics": {"nick": 1}}')$$, '22023', 'unknown key "demographics.nick"', 'unknown demographics key');
SELECT throws_ok($$EXECUTE up('{"participantIdentifier": "B", "demographics": {"firstName": 1}}')$$, '22023', NULL, 'wrong JSON type');
SELECT throws_ok($$EXECUTE up('{"participantIdentifier": "B", "invitationStatus": "sent"}')$$, '22023', NULL, 'bad invitationStatus');
SELECT throws_ok($$EXECUTE up('{"participantIdentifier": "B", "demographics": {"gender": "male"}}')$$, '22023', NULL, 'bad gender');
SELECT throws_ok($$EXECUTE up('{"participantIdentifier": "B", "demographics": {"email": "b@"}}')$$, '22023', NULL, 'bad email');
SELECT throws_ok($$EXECUTE up('{"participantIdentifier": "B", "demographics": {"mobilePhone": "12ab"}}')$$, '22023', NULL, 'bad phone');
SELECT throws_ok($$EXECUTE up('{"participantIdentifier": "B", "demographics": {"utcOffset": "-4"}}')$$, '22023', NULL, 'bad utcOffset');
SELECT throws_ok($$EXECUTE up('{"participantIdentifier": "B", "enrolled": true}')$$, '22023', 'key "enrolled" is read-only', 'read-only enrolled');
SELECT throws_ok($$EXECUTE up('{"participantIdentifier": "B", "linkIdentifier": "x"}')$$, '22023', 'key "linkIdentifier" is read-only', 'read-only linkIdentifier');
SELECT throws_ok($$EXECUTE up('{"participantIdentifier": "B", "customFields": {"Age": "old"}}')$$, '22023', NULL, 'custom field of the wrong type');
SELECT throws_ok($$EXECUTE up('{"demographics": {"firstName": "B"}}')$$, '22023', NULL, 'no id, identifier or email');
SELECT throws_ok($$EXECUTE up('{"id": "xyz"}')$$, '22023', NULL, 'malformed id');
SELECT throws_ok(format($$SELECT participants.upsert_participant(%2$L, '{"participantIdentifier": "B", "customFields": {"X": 1}}')$$, :'p', :'s'), '22023', NULL, 'undeclared field in a strict project');
SELECT throws_ok(format($$SELECT participants.upsert_participants(%1$L, '{"x": 1}')$$, :'p'), '22023', NULL, 'bulk body neither array nor {participants}');
SELECT throws_ok(format($$SELECT participants.get_participant(%1$L, 'nope', true)$$, :'p'), '22023', NULL, 'get by malformed id');
SELECT throws_ok(format($$SELECT participants.define_custom_field(%1$L, 'a-b', 'text')$$, :'p'), '22023', NULL, 'bad custom field name');
SELECT throws_ok(format($$SELECT participants.define_custom_field(%1$L, 'B', 'float')$$, :'p'), '22023', NULL, 'bad custom field type');
SELECT throws_ok($$SELECT participants.create_project('x', '{"bogus": 1}')$$, '22023', NULL, 'unknown project setting');

-- 22007 / 22008 dates
SELECT throws_ok($$EXECUTE up('{"participantIdentifier": "B", "demographics": {"dateOfBirth": "2021-02-30"}}')$$, '22008', NULL, 'impossible date');
SELECT throws_ok($$EXECUTE up('{"participantIdentifier": "B", "demographics": {"dateOfBirth": "2999-12-31"}}')$$, '22008', NULL, 'future dateOfBirth');
SELECT throws_ok($$EXECUTE up('{"participantIdentifier": "B", "demographics": {"dateOfBirth": "31.12.1999"}}')$$, '22007', NULL, 'date in another format');

-- 23505 duplicates
SELECT throws_ok($$EXECUTE up('{"participantIdentifier": "B", "demographics": {"email": "A@EXAMPLE.com"}}')$$, '23505', NULL, 'duplicate email differing in case');
SELECT throws_ok($$EXECUTE up('{"participantIdentifier": "B", "demographics": {"mobilePhone": "+1 555 000 0001"}}')$$, '23505', NULL, 'duplicate phone in another format');
SELECT id AS w_id FROM participants.participant WHERE participant_identifier = 'W' AND project_id = :'p' \gset
SELECT throws_ok(format($$EXECUTE up('{"id": "%s", "participantIdentifier": "A"}')$$, :'w_id'), '23505', NULL, 'duplicate identifier');
SELECT throws_ok(format($$SELECT participants.upsert_participants(%1$L, '[{"participantIdentifier": "B", "demographics": {"email": "x@example.com"}}, {"participantIdentifier": "C", "demographics": {"email": "X@example.com"}}]')$$, :'p'),
	'23505', 'duplicate value for key "participants[1].demographics.email": email "x@example.com" is already used in this project', 'duplicate inside one bulk call names the element');
SELECT throws_ok(format($$INSERT INTO participants.participant (project_id, id, participant_identifier) VALUES (%1$L, gen_random_uuid(), 'A')$$, :'p'), '23505', NULL, 'raw duplicate identifier');

-- PT404 not found
SELECT throws_ok($$EXECUTE up('{"id": "00000000-0000-4000-8000-000000000001"}')$$, 'PT404', NULL, 'id that does not exist');
SELECT throws_ok(format($$SELECT participants.get_participant(%1$L, 'NOPE')$$, :'p'), 'PT404', NULL, 'get unknown participant');
SELECT throws_ok(format($$SELECT participants.enroll_participant(%1$L, 'NOPE')$$, :'p'), 'PT404', NULL, 'enroll unknown participant');
SELECT throws_ok(format($$SELECT participants.withdraw_participant(%1$L, 'NOPE')$$, :'p'), 'PT404', NULL, 'withdraw unknown participant');
SELECT throws_ok(format($$SELECT participants.delete_participant(%1$L, 'NOPE')$$, :'p'), 'PT404', NULL, 'delete unknown participant');
SELECT throws_ok($$SELECT participants.upsert_participant('00000000-0000-4000-8000-000000000002', '{"participantIdentifier": "A"}')$$, 'PT404', NULL, 'unknown project');
SELECT throws_ok(format($$SELECT participants.drop_custom_field(%1$L, 'Nope')$$, :'p'), 'PT404', NULL, 'unknown custom field');
SELECT throws_ok($$SELECT participants.custom_fields('00000000-0000-4000-8000-000000000002')$$, 'PT404', NULL, 'custom fields of an unknown project');

-- PT409 rules
SELECT participants.enroll_participant(:'p', 'A') IS NOT NULL;
SELECT throws_ok($$EXECUTE up('{"participantIdentifier": "A", "demographics": {"email": "new@example.com"}}')$$, 'PT409', NULL, 'locked email through the function');
SELECT throws_ok($$EXECUTE up('{"participantIdentifier": "A", "demographics": {"mobilePhone": "+15550000002"}}')$$, 'PT409', NULL, 'locked phone through the function');
SELECT throws_ok(format($$UPDATE participants.participant SET email = 'new@example.com' WHERE project_id = %1$L AND participant_identifier = 'A'$$, :'p'), 'PT409', NULL, 'locked email through raw UPDATE');
SELECT throws_ok(format($$UPDATE participants.participant SET mobile_phone = '+15550000002' WHERE project_id = %1$L AND participant_identifier = 'A'$$, :'p'), 'PT409', NULL, 'locked phone through raw UPDATE');
SELECT throws_ok(format($$UPDATE participants.participant SET enrollment_date = NULL WHERE project_id = %1$L AND participant_identifier = 'A'$$, :'p'), 'PT409', NULL, 'clearing an enrollment');
SELECT throws_ok(format($$SELECT participants.withdraw_participant(%1$L, 'W')$$, :'p'), 'PT409', NULL, 'withdraw twice');
SELECT throws_ok(format($$SELECT participants.enroll_participant(%1$L, 'W')$$, :'p'), 'PT409', NULL, 'enroll after withdraw');
SELECT throws_ok(format($$UPDATE participants.participant SET withdraw_date = NULL WHERE project_id = %1$L AND participant_identifier = 'W'$$, :'p'), 'PT409', NULL, 'clearing a withdrawal');
SELECT throws_ok(format($$SELECT participants.upsert_participants(%1$L, '[{"participantIdentifier": "A"}]', false)$$, :'p'), 'PT409', NULL, 'allow_update false on an existing participant');
SELECT throws_ok(format($$SELECT participants.define_custom_field(%1$L, 'Age', 'text')$$, :'p'), 'PT409', NULL, 'changing a custom field type');

-- nothing written by any failure above
-- (counts are read by results_eq, which runs its query on its own: on a
-- cluster a read of a distributed table inside is() would carry is() to a worker)
SELECT results_eq(format('SELECT count(*)::int FROM participants.participant WHERE project_id = %L', :'p'), ARRAY[2], 'only the two setup participants exist');

SELECT * FROM finish();
ROLLBACK;
