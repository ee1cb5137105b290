-- custom_fields: declared fields are typed and validated; strict projects refuse undeclared keys
SELECT participants.define_custom_field(pid('main'), 'Age', 'integer') - 'createdDate' AS def;
SELECT participants.define_custom_field(pid('main'), 'Weight', 'number', '{"description": "kg"}') - 'createdDate' AS def;
SELECT participants.define_custom_field(pid('main'), 'Consented', 'boolean') - 'createdDate' AS def;
SELECT participants.define_custom_field(pid('main'), 'VisitDate', 'date') - 'createdDate' AS def;
SELECT participants.define_custom_field(pid('main'), 'LastSeen', 'timestamp') - 'createdDate' AS def;
SELECT participants.define_custom_field(pid('main'), 'Notes', 'text') - 'createdDate' AS def;
SELECT jsonb_agg(d->>'name' || ':' || (d->>'type')) FROM jsonb_array_elements(participants.custom_fields(pid('main'))) d;

-- values are coerced to the declared type
SELECT r->'result'->'customFields' AS fields
FROM participants.upsert_participant(pid('main'), $${"participantIdentifier": "CF1", "customFields": {
  "Age": "42", "Weight": "71.5", "Consented": "true", "VisitDate": "2024-02-29",
  "LastSeen": "2024-03-01 10:00:00+00", "Notes": "ok"}}$$) AS r;
-- the same values in their stored form are not a change
SELECT r->>'actionTaken' AS action
FROM participants.upsert_participant(pid('main'), $${"participantIdentifier": "CF1", "customFields": {
  "Age": 42, "Weight": 71.5, "Consented": true}}$$) AS r;

SELECT n, err(format('SELECT participants.upsert_participant(pid(''main''), %L)', jsonb_build_object('participantIdentifier', 'CF2', 'customFields', f)))
FROM (VALUES (1, '{"Age": "forty"}'::jsonb), (2, '{"Age": 4.5}'), (3, '{"Age": 1e30}'), (4, '{"Weight": "heavy"}'),
             (5, '{"Weight": true}'), (6, '{"Consented": "maybe"}'), (7, '{"VisitDate": "2023-02-29"}'),
             (8, '{"VisitDate": "yesterday"}'), (9, '{"LastSeen": "soon"}'), (10, '{"Notes": 5}'),
             (11, '{"Age": null, "Weight": "NaN"}')) v(n, f)
ORDER BY n;
SELECT count(*) AS cf2_rows FROM participants.participant WHERE participant_identifier = 'CF2';

-- raw writes hold the declared types too
SELECT err($$UPDATE participants.participant SET custom_fields = '{"Age": "42"}' WHERE participant_identifier = 'CF1'$$) AS raw_string_in_integer;
SELECT err($$UPDATE participants.participant SET custom_fields = '{"Age": 42, "VisitDate": "2023-02-30"}' WHERE participant_identifier = 'CF1'$$) AS raw_bad_date;

-- definition errors
SELECT err($$SELECT participants.define_custom_field(pid('main'), '1st', 'text')$$) AS bad_name;
SELECT err($$SELECT participants.define_custom_field(pid('main'), 'Has Space', 'text')$$) AS space_name;
SELECT err($$SELECT participants.define_custom_field(pid('main'), 'X', 'money')$$) AS bad_type;
SELECT err($$SELECT participants.define_custom_field(pid('main'), 'X', 'text', '{"indexed": "yes"}')$$) AS bad_option;
SELECT err($$SELECT participants.define_custom_field(pid('main'), 'Age', 'text')$$) AS type_change;
SELECT err($$UPDATE participants.custom_field SET type = 'text' WHERE name = 'Age'$$) AS raw_type_change;
SELECT err($$SELECT participants.define_custom_field('00000000-0000-4000-8000-000000000000', 'X', 'text')$$) AS no_project;
-- same type again: options are updated
SELECT participants.define_custom_field(pid('main'), 'Age', 'integer', '{"description": "years"}')->'options' AS options;

-- defining a field converts values already held, or refuses when one does not convert
SELECT participants.upsert_participant(pid('main'), '{"participantIdentifier": "CF3", "customFields": {"Score": "7", "Level": "high"}}') IS NOT NULL AS added;
SELECT participants.define_custom_field(pid('main'), 'Score', 'integer')->>'type' AS score_type;
SELECT custom_fields FROM participants.participant WHERE participant_identifier = 'CF3';
SELECT err($$SELECT participants.define_custom_field(pid('main'), 'Level', 'number')$$) AS level_not_numeric;
SELECT count(*) AS level_defined FROM participants.custom_field WHERE name = 'Level';

-- drop: the definition goes, the values stay as undeclared values
SELECT participants.drop_custom_field(pid('main'), 'Score')->>'name' AS dropped;
SELECT r->'result'->'customFields'->'Score' AS score
FROM participants.upsert_participant(pid('main'), '{"participantIdentifier": "CF3", "customFields": {"Score": "seven"}}') AS r;
SELECT err($$SELECT participants.drop_custom_field(pid('main'), 'Score')$$) AS drop_missing;

-- strict project: only declared keys
SELECT participants.define_custom_field(pid('strict'), 'Arm', 'text') IS NOT NULL AS defined;
SELECT r->'result'->'customFields' AS fields
FROM participants.upsert_participant(pid('strict'), '{"participantIdentifier": "S1", "customFields": {"Arm": "placebo"}}') AS r;
SELECT err($$SELECT participants.upsert_participant(pid('strict'), '{"participantIdentifier": "S1", "customFields": {"Other": 1}}')$$) AS undeclared;
SELECT err($$SELECT participants.upsert_participant(pid('strict'), '{"participantIdentifier": "S1", "secondaryIdentifier": "X"}')$$) AS undeclared_secondary;
SELECT err($$UPDATE participants.participant SET custom_fields = '{"Other": 1}' WHERE participant_identifier = 'S1'$$) AS raw_undeclared;

-- a definition made in this session is seen by the next call at once
BEGIN;
SELECT participants.define_custom_field(pid('strict'), 'Other', 'integer') IS NOT NULL AS defined;
SELECT r->'result'->'customFields' AS fields
FROM participants.upsert_participant(pid('strict'), '{"participantIdentifier": "S1", "customFields": {"Other": "3"}}') AS r;
ROLLBACK;
-- and rolled back, it is gone again
SELECT err($$SELECT participants.upsert_participant(pid('strict'), '{"participantIdentifier": "S1", "customFields": {"Other": 1}}')$$) AS undeclared_again;
