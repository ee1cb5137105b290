-- bulk: upsert_participants is all or nothing, ordered, and names the failing element
SELECT r->'totalAdded' AS added, r->'totalUpdated' AS updated,
       (SELECT jsonb_agg(e->>'actionTaken') FROM jsonb_array_elements(r->'results') e) AS actions,
       (SELECT jsonb_agg(e->'result'->>'participantIdentifier') FROM jsonb_array_elements(r->'results') e) AS identifiers
FROM participants.upsert_participants(pid('main'), $$[
  {"participantIdentifier": "B1", "demographics": {"email": "b1@example.com"}},
  {"participantIdentifier": "B2", "demographics": {"email": "b2@example.com"}},
  {"participantIdentifier": "B1", "demographics": {"firstName": "Bea"}},
  {"participantIdentifier": "B1", "demographics": {"firstName": "Bea"}},
  {"participantIdentifier": "MDH-0001", "demographics": {"city": "Knoxville"}}
]$$) AS r;
-- a later element updated an earlier one
SELECT r->'demographics' FROM participants.get_participant(pid('main'), 'B1') AS r;

-- the object form
SELECT r->'totalAdded' AS added, r->'totalUpdated' AS updated
FROM participants.upsert_participants(pid('main'), '{"participants": [{"participantIdentifier": "B3"}]}') AS r;
SELECT r FROM participants.upsert_participants(pid('main'), '[]') AS r;

-- an element added by email and then selected by the identifier it was given
SELECT (SELECT jsonb_agg(e->>'actionTaken') FROM jsonb_array_elements(r->'results') e) AS actions
FROM participants.upsert_participants(pid('main'), $$[
  {"demographics": {"email": "b4@example.com"}, "participantIdentifier": "B4"},
  {"participantIdentifier": "B4", "customFields": {"Visit": 2}}
]$$) AS r;

-- all or nothing: the error names the element index and key, and nothing is written
SELECT count(*) AS before FROM participants.participant \gset
SELECT err($$SELECT participants.upsert_participants(pid('main'), '[
  {"participantIdentifier": "B10", "demographics": {"email": "b10@example.com"}},
  {"participantIdentifier": "B11"},
  {"participantIdentifier": "B12"},
  {"participantIdentifier": "B13", "demographics": {"email": "not an email"}}
]')$$) AS bad_email_at_3;
SELECT err($$SELECT participants.upsert_participants(pid('main'), '[{"participantIdentifier": "B10"}, {"participantIdentifier": "B11", "demographics": {"shoeSize": 9}}]')$$) AS unknown_key_at_1;
SELECT err($$SELECT participants.upsert_participants(pid('main'), '[{"participantIdentifier": "B10"}, {"participantIdentifier": "B11", "demographics": {"dateOfBirth": "2021-02-30"}}]')$$) AS bad_date_at_1;
SELECT err($$SELECT participants.upsert_participants(pid('main'), '[{"participantIdentifier": "B10", "demographics": {"email": "same@example.com"}}, {"participantIdentifier": "B11", "demographics": {"email": "SAME@example.com"}}]')$$) AS dup_in_batch;
SELECT err($$SELECT participants.upsert_participants(pid('main'), '[{"participantIdentifier": "B10"}, {"participantIdentifier": "B11", "demographics": {"email": "b1@example.com"}}]')$$) AS dup_with_table;
SELECT err($$SELECT participants.upsert_participants(pid('main'), '[{"participantIdentifier": "B10"}, {"id": "00000000-0000-4000-8000-000000000000"}]')$$) AS missing_id_at_1;
SELECT err($$SELECT participants.upsert_participants(pid('main'), '[{"participantIdentifier": "B10"}, {"demographics": {"firstName": "No selector"}}]')$$) AS no_selector_at_1;
SELECT err($$SELECT participants.upsert_participants(pid('main'), '[{"participantIdentifier": "B10"}, "B11"]')$$) AS scalar_element;
SELECT err($$SELECT participants.upsert_participants(pid('main'), '[{"participantIdentifier": "B10"}, {"participantIdentifier": "E1", "demographics": {"email": "new@example.com"}}]')$$) AS locked_at_1;
SELECT err($$SELECT participants.upsert_participants(pid('main'), '{"people": []}')$$) AS wrong_object;
SELECT err($$SELECT participants.upsert_participants(pid('main'), '{"participants": {}}')$$) AS not_array_inside;
SELECT err($$SELECT participants.upsert_participants(pid('main'), '"x"')$$) AS scalar;
SELECT count(*) = :before AS nothing_written FROM participants.participant;

-- allow_update => false: a match is an error (PT409), new ones are fine
SELECT err($$SELECT participants.upsert_participants(pid('main'), '[{"participantIdentifier": "B20"}, {"participantIdentifier": "B1"}]', allow_update => false)$$) AS existing_at_1;
SELECT count(*) AS b20 FROM participants.participant WHERE participant_identifier = 'B20';
SELECT r->'totalAdded' AS added FROM participants.upsert_participants(pid('main'), '[{"participantIdentifier": "B20"}, {"participantIdentifier": "B21"}]', false) AS r;

-- chunks: a small batch size gives the same result across chunk borders
SET participants.bulk_batch_size = 2;
SELECT r->'totalAdded' AS added, r->'totalUpdated' AS updated,
       (SELECT jsonb_agg(e->>'actionTaken') FROM jsonb_array_elements(r->'results') e) AS actions
FROM participants.upsert_participants(pid('main'), (
  SELECT jsonb_agg(jsonb_build_object('participantIdentifier', 'C' || (i % 4), 'customFields', jsonb_build_object('n', i)) ORDER BY i)
  FROM generate_series(1, 9) i)) AS r;
SELECT participant_identifier, custom_fields FROM participants.participant WHERE participant_identifier LIKE 'C_' ORDER BY 1;
SELECT err($$SELECT participants.upsert_participants(pid('main'), '[{"participantIdentifier": "D1"}, {"participantIdentifier": "D2"}, {"participantIdentifier": "D3"}, {"participantIdentifier": "D4", "gender": "M"}]')$$) AS error_in_second_chunk;
SELECT count(*) AS d_rows FROM participants.participant WHERE participant_identifier LIKE 'D_';
RESET participants.bulk_batch_size;
SELECT err($$SET participants.bulk_batch_size = 0$$) AS guc_bounds;

-- a larger batch: 2500 new, then the same 2500 updated, then unchanged
SELECT r->'totalAdded' AS added, r->'totalUpdated' AS updated
FROM participants.upsert_participants(pid('other'), (
  SELECT jsonb_agg(jsonb_build_object('participantIdentifier', 'L' || i, 'demographics', jsonb_build_object('email', 'l' || i || '@example.com', 'mobilePhone', (5550000000 + i)::text))) FROM generate_series(1, 2500) i)) AS r;
SELECT r->'totalAdded' AS added, r->'totalUpdated' AS updated
FROM participants.upsert_participants(pid('other'), (
  SELECT jsonb_agg(jsonb_build_object('participantIdentifier', 'L' || i, 'demographics', jsonb_build_object('firstName', 'N' || i))) FROM generate_series(1, 2500) i)) AS r;
SELECT r->'totalAdded' AS added, r->'totalUpdated' AS updated,
       (SELECT count(*) FROM jsonb_array_elements(r->'results') e WHERE e->>'actionTaken' = 'none') AS nones
FROM participants.upsert_participants(pid('other'), (
  SELECT jsonb_agg(jsonb_build_object('participantIdentifier', 'L' || i, 'demographics', jsonb_build_object('firstName', 'N' || i))) FROM generate_series(1, 2500) i)) AS r;

-- the bulk result is written in jsonb's binary layout: it equals its own text form parsed
-- again, and elements past the 32-entry offset stride are found by index
SELECT r = r::text::jsonb AS well_formed, jsonb_array_length(r->'results') AS n,
       r->'results'->64->'result'->>'participantIdentifier' AS el64,
       r->'results'->-1->>'actionTaken' AS last_action, r->'totalAdded' AS added,
       jsonb_typeof(r->'totalUpdated') AS updated_type
FROM participants.upsert_participants(pid('other'), (
  SELECT jsonb_agg(jsonb_build_object('participantIdentifier', 'J' || i) ORDER BY i) FROM generate_series(1, 70) i)) AS r;
SELECT r = r::text::jsonb AS well_formed, r->'results' AS results FROM participants.upsert_participants(pid('other'), '[]') AS r;
