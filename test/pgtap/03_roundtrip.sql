-- pgTAP: the sample participant round-trips; bulk is all or nothing and ordered
BEGIN;
SELECT plan(12);

SELECT participants.create_project('tap roundtrip', '{"participantIdentifierPrefix": "RT-"}') AS p \gset

SELECT $${"participantIdentifier": "MDH-1",
  "secondaryIdentifier": "S-1",
  "invitationStatus": "approved",
  "excludeFromExport": false,
  "institutionCode": "INST",
  "demographics": {"email": "jsmith@example.com", "firstName": "John", "middleName": "James",
    "lastName": "Smith", "dateOfBirth": "1980-01-01", "preferredLanguage": "en", "gender": "M",
    "street1": "1 Main St", "street2": "Suite 2", "city": "Springfield", "state": "IL",
    "postalCode": "62701", "mobilePhone": "+15555550123", "utcOffset": "-04:00:00"},
  "customFields": {"Medication1": "Aspirin", "Smoker": "1", "SurgeryDate": "2021-01-01"}}$$::jsonb AS body \gset

SELECT participants.upsert_participant(:'p', :'body') AS added \gset
SELECT is(:'added'::jsonb->>'actionTaken', 'add', 'the sample participant is added');
-- every key sent comes back with the same value
SELECT is_empty(format($$SELECT key FROM jsonb_each(%L::jsonb) b WHERE key NOT IN ('demographics', 'customFields')
	AND (%L::jsonb->'result'->key) IS DISTINCT FROM b.value$$, :'body', :'added'), 'top-level values read back the same');
SELECT is((:'added'::jsonb->'result'->'demographics'), (:'body'::jsonb->'demographics'), 'demographics read back the same');
SELECT is((:'added'::jsonb->'result'->'customFields') - 'SecondaryIdentifier', (:'body'::jsonb->'customFields'), 'custom fields read back the same');
SELECT is(participants.get_participant(:'p', 'MDH-1'), :'added'::jsonb->'result', 'get_participant returns what the add returned');
SELECT is(participants.upsert_participant(:'p', :'body')->>'actionTaken', 'none', 're-sent unchanged: actionTaken none');
SELECT set_eq(format($$SELECT jsonb_object_keys(%L::jsonb)$$, :'added'::jsonb->'result'),
	ARRAY['id', 'enrolled', 'enrollmentDate', 'withdrawDate', 'insertedDate', 'invitationStatus',
	      'participantIdentifier', 'secondaryIdentifier', 'linkIdentifier', 'demographics',
	      'customFields', 'excludeFromExport', 'institutionCode'],
	'the participant object has exactly the documented keys');

-- bulk: ordered, and all or nothing
SELECT is(participants.upsert_participants(:'p', '[{"participantIdentifier": "X1"}, {"participantIdentifier": "X1", "demographics": {"city": "Peoria"}}]')->'totalUpdated',
	'1'::jsonb, 'a later element updates an earlier one');
SELECT is(participants.get_participant(:'p', 'X1')->'demographics'->>'city', 'Peoria', 'and its change is stored');
SELECT throws_ok(format($$SELECT participants.upsert_participants(%1$L, '[{"participantIdentifier": "X2"}, {"participantIdentifier": "X3", "demographics": {"gender": "?"}}]')$$, :'p'),
	'22023', 'invalid value for key "participants[1].demographics.gender": "?"', 'bulk error names index and key');
-- (counts are read by results_eq, which runs its query on its own: on a
-- cluster a read of a distributed table inside is() would carry is() to a worker)
SELECT results_eq(format($$SELECT count(*)::int FROM participants.participant WHERE project_id = %L AND participant_identifier IN ('X2', 'X3')$$, :'p'), ARRAY[0], 'nothing of the failed bulk call was written');
SELECT matches(participants.upsert_participant(:'p', '{"demographics": {"email": "gen@example.com"}}')->'result'->>'participantIdentifier',
	'^RT-\d{8}$', 'generated identifiers carry the project prefix');

SELECT * FROM finish();
ROLLBACK;
