-- fuzz_findings: inputs the fuzzer (test/fuzz/fuzz.js) found mishandled, kept
-- as regression cases. Numbers in strings beyond numeric's range
-- ("1e131072", "1e-16384") were converted and overflowed (22003); they are
-- text, not numbers: 22023 for a declared number field, no numeric sort key.
SELECT participants.create_project('Fuzz findings') AS fp \gset
SELECT participants.define_custom_field(:'fp', 'Dose', 'number') IS NOT NULL AS defined;
SELECT err(format($$SELECT participants.upsert_participant(%L, '{"participantIdentifier": "F-1", "customFields": {"Dose": "1e131072"}}')$$, :'fp')) AS declared_number;
SELECT err(format($$SELECT participants.upsert_participants(%L, '[{"participantIdentifier": "F-1", "customFields": {"Dose": "-1e131072"}}]')$$, :'fp')) AS declared_number_bulk;
SELECT (participants.query_participants(:'fp', custom_fields => '{"Anything": "1e131072"}') ->> 'totalParticipants') AS filter_big;
SELECT (participants.create_segment(:'fp', 'Huge', NULL, '{"custom_fields": {"Anything": "-1e131072"}}') ->> 'kind') AS segment_filter_big;
SELECT (participants.upsert_participant(:'fp', '{"participantIdentifier": "F-2", "customFields": {"Level": "1e131072"}}') ->> 'actionTaken') AS undeclared_stored;
SELECT (participants.query_participants(:'fp', sort_by => 'CustomField.Level') ->> 'totalParticipants') AS sorted_by_it;
SELECT err(format($$SELECT participants.define_custom_field(%L, 'Level', 'number')$$, :'fp')) AS declare_over_it;
SELECT participants.custom_field_sort_number('"1e131072"') IS NULL AS big_not_a_number,
       participants.custom_field_sort_number('"1e-16384"') IS NULL AS tiny_not_a_number,
       participants.custom_field_sort_number('"1e1000"') IS NOT NULL AS large_still_a_number;
DELETE FROM participants.participant WHERE project_id = :'fp';
DELETE FROM participants.segment WHERE project_id = :'fp';
DELETE FROM participants.custom_field WHERE project_id = :'fp';
DELETE FROM participants.project WHERE id = :'fp';
