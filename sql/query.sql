-- query: query_participants filters, typed sorting, paging and hostile input
SELECT participants.create_project('Query study') AS q \gset
SELECT participants.define_custom_field(:'q', 'Dose', 'number') IS NOT NULL AS declared;
SELECT participants.define_custom_field(:'q', 'Code', 'text') IS NOT NULL AS declared;
SELECT r->'totalAdded' AS added FROM participants.upsert_participants(:'q', $$[
 {"participantIdentifier": "Q01", "secondaryIdentifier": "MRN-77", "demographics": {"firstName": "Ann", "lastName": "Smith", "city": "Austin", "dateOfBirth": "1980-02-01", "email": "ann@example.com"}, "customFields": {"Score": 10, "Visit": "2021-03-01", "Smoker": "1", "Dose": 2.5, "Code": "10"}},
 {"participantIdentifier": "Q02", "demographics": {"firstName": "Bob", "lastName": "smith", "city": "Boston", "mobilePhone": "+1 555 010 2000"}, "customFields": {"Score": "9", "Visit": "2020-12-31", "Smoker": 1, "Dose": 10, "Code": "9"}},
 {"participantIdentifier": "Q03", "demographics": {"firstName": "Cy", "lastName": "Jones", "email": "cy_100%@example.com", "city": "Austin"}, "customFields": {"Score": "abc", "Visit": "2022-01-05T10:00:00Z", "Smoker": 0, "Dose": 1, "Code": "abc"}},
 {"participantIdentifier": "Q04", "invitationStatus": "approved", "demographics": {"firstName": "Di", "lastName": "Ng", "dateOfBirth": "1975-06-30"}, "customFields": {"Score": 100, "Flag": true, "Visit": "soon"}},
 {"participantIdentifier": "Q05", "invitationStatus": "pending", "demographics": {"firstName": "Ed", "lastName": "O'Hara", "city": "boston"}, "customFields": {"Score": -3.5, "Flag": "true", "Visit": "1999-12-31"}}
]$$) AS r;
SELECT participants.enroll_participant(:'q', 'Q03') IS NOT NULL AS enrolled;
SELECT participants.enroll_participant(:'q', 'Q01') IS NOT NULL AS enrolled;

-- ids of a page, in order
CREATE FUNCTION ids(r jsonb) RETURNS text LANGUAGE sql AS $$
	SELECT r->>'totalParticipants' || ': ' || coalesce(string_agg(e->>'participantIdentifier', ' ' ORDER BY o), '')
	FROM jsonb_array_elements(r->'participants') WITH ORDINALITY AS x(e, o)
$$;

-- filters alone
SELECT ids(participants.query_participants(:'q')) AS everyone;
SELECT ids(participants.query_participants(:'q', query => 'SMITH')) AS text_any_case;
SELECT ids(participants.query_participants(:'q', query => 'austin')) AS text_city;
SELECT ids(participants.query_participants(:'q', query => 'mrn-7')) AS text_secondary;
SELECT ids(participants.query_participants(:'q', query => 'Q0')) AS text_identifier;
SELECT ids(participants.query_participants(:'q', query => '1980-02')) AS text_date_of_birth;
SELECT ids(participants.query_participants(:'q', query => '15550102')) AS text_phone;
SELECT ids(participants.query_participants(:'q', query => '100%')) AS percent_literal;
SELECT ids(participants.query_participants(:'q', query => '_')) AS underscore_literal;
SELECT ids(participants.query_participants(:'q', query => 'h o')) AS no_match_across_fields;
SELECT ids(participants.query_participants(:'q', query => '')) AS empty_query_matches_all;
SELECT ids(participants.query_participants(:'q', custom_fields => '{"Smoker": "1"}')) AS cf_string_matches_number;
SELECT ids(participants.query_participants(:'q', custom_fields => '{"Smoker": 1}')) AS cf_number_matches_string;
SELECT ids(participants.query_participants(:'q', custom_fields => '{"Flag": "true"}')) AS cf_text_matches_boolean;
SELECT ids(participants.query_participants(:'q', custom_fields => '{"Dose": "2.5"}')) AS cf_declared_number;
SELECT ids(participants.query_participants(:'q', custom_fields => '{"Flag": null}')) AS cf_null_is_missing;
SELECT ids(participants.query_participants(:'q', custom_fields => '{"It''s": "x"}')) AS cf_name_with_quote;
SELECT ids(participants.query_participants(:'q', demographic_fields => '{"LastName": "SMITH"}')) AS demo_any_case;
SELECT ids(participants.query_participants(:'q', demographic_fields => '{"lastname": "o''hara"}')) AS demo_name_any_case;
SELECT ids(participants.query_participants(:'q', demographic_fields => '{"DOB": "1975-06-30"}')) AS demo_dob;
SELECT ids(participants.query_participants(:'q', demographic_fields => '{"DateOfBirth": "1980-02-01"}')) AS demo_date_of_birth;
SELECT ids(participants.query_participants(:'q', demographic_fields => '{"MobilePhone": "+1 (555) 010-2000"}')) AS demo_phone_other_format;
SELECT ids(participants.query_participants(:'q', demographic_fields => '{"Email": "ANN@example.com"}')) AS demo_email;
SELECT ids(participants.query_participants(:'q', demographic_fields => '{"LastName": "NG"}')) AS demo_two_letters;
SELECT ids(participants.query_participants(:'q', demographic_fields => '{"FirstName": "Ann", "City": "austin"}')) AS demo_two_fields;
SELECT ids(participants.query_participants(:'q', demographic_fields => '{"LastName": "smit"}')) AS demo_is_not_substring;

-- combined with AND; the total counts every match, not the page
SELECT ids(participants.query_participants(:'q', query => 'smith', custom_fields => '{"Smoker": 1}', demographic_fields => '{"City": "BOSTON"}')) AS all_three;
SELECT ids(participants.query_participants(:'q', query => 'o', page_size => 2)) AS total_beyond_page;

-- sorting, both directions; rows without the key last in both
SELECT ids(participants.query_participants(:'q', sort_by => 'CustomField.Score')) AS numbers_then_text;
SELECT ids(participants.query_participants(:'q', sort_by => 'customfield.Score', sort_ascending => false)) AS numbers_desc;
SELECT ids(participants.query_participants(:'q', sort_by => 'CustomField.score')) AS undeclared_name_is_exact;
SELECT ids(participants.query_participants(:'q', sort_by => 'CustomField.Visit')) AS dates_then_text;
SELECT ids(participants.query_participants(:'q', sort_by => 'CustomField.Visit', sort_ascending => false)) AS dates_desc;
SELECT ids(participants.query_participants(:'q', sort_by => 'CustomField.dose')) AS declared_name_any_case_missing_last;
SELECT ids(participants.query_participants(:'q', sort_by => 'CustomField.Dose', sort_ascending => false)) AS missing_last_desc;
SELECT ids(participants.query_participants(:'q', sort_by => 'CustomField.Flag')) AS booleans;
SELECT ids(participants.query_participants(:'q', sort_by => 'ParticipantIdentifier', sort_ascending => false)) AS identifier_desc;
SELECT ids(participants.query_participants(:'q', sort_by => 'INSERTEDDATE')) AS inserted;
SELECT ids(participants.query_participants(:'q', sort_ascending => false)) AS inserted_desc;
SELECT ids(participants.query_participants(:'q', sort_by => 'CustomField.code')) AS declared_text_sorts_as_text;
SELECT ids(participants.query_participants(:'q', sort_by => 'CustomField.Code', sort_ascending => false)) AS declared_text_desc;
SELECT ids(participants.query_participants(:'q', sort_by => 'EnrollmentDate', sort_ascending => false, page_size => 2)) AS enrolled_first;
SELECT ids(participants.query_participants(:'q', sort_by => 'InvitationStatus')) AS invitation;
SELECT ids(participants.query_participants(:'q', sort_by => 'SecondaryIdentifier')) AS secondary;
SELECT ids(participants.query_participants(:'q', sort_by => 'DemographicField.LastName')) AS last_name;
SELECT ids(participants.query_participants(:'q', sort_by => 'DemographicField.City', sort_ascending => false)) AS city_desc;
SELECT ids(participants.query_participants(:'q', sort_by => 'DemographicField.DOB')) AS dob;

-- paging: pages never overlap or skip, even among ties
SELECT string_agg(ids(participants.query_participants(:'q', sort_by => 'CustomField.Flag', page_number => n, page_size => 2)), ' | ' ORDER BY n) AS pages
FROM generate_series(0, 3) n;
SELECT (SELECT count(DISTINCT e->>'id') FROM generate_series(0, 4) n,
        jsonb_array_elements(participants.query_participants(:'q', sort_by => 'CustomField.Flag', page_number => n, page_size => 1)->'participants') e) AS distinct_over_pages;
SELECT q->'pageNumber' AS page, q->'pageSize' AS size, q->'totalParticipants' AS total, q->'participants' AS rows
FROM participants.query_participants(:'q', page_number => 2147483647, page_size => 1000) q;
SELECT q->'totalParticipants' AS total_past_end FROM participants.query_participants(:'q', query => 'smith', page_number => 3) q;

SELECT string_agg(ids(participants.query_participants(:'q', query => 'o', page_number => n, page_size => 2)), ' | ' ORDER BY n) AS filtered_pages
FROM generate_series(0, 2) n;
SELECT ids(participants.query_participants(participants.create_project('Empty study'))) AS empty_project;

-- a sortable declared field: two partial indexes, kept by a trigger on custom_field
SELECT participants.define_custom_field(:'q', 'Dose', 'number', '{"sortable": true}')->'options' AS sortable;
CREATE FUNCTION sort_indexes() RETURNS text LANGUAGE sql AS $$
	SELECT coalesce(string_agg(regexp_replace(pg_get_indexdef(indexrelid), '_[0-9a-f]{16}_|''[0-9a-f-]{36}''', '_X_', 'g'), E'\n' ORDER BY 1), 'none')
	FROM pg_index WHERE indexrelid::regclass::text LIKE 'participants.participant_sort_%'
$$;
SELECT sort_indexes();
SELECT ids(participants.query_participants(:'q', sort_by => 'CustomField.Dose')) AS dose;
SELECT ids(participants.query_participants(:'q', sort_by => 'CustomField.Dose', sort_ascending => false)) AS dose_desc;
-- each query uses the index meant for it when scans and sorts cost the same
-- (the numbers of scans this transaction made of each index)
CREATE FUNCTION scans(pattern text) RETURNS bigint LANGUAGE sql AS $$
	SELECT sum(pg_stat_get_xact_numscans(indexrelid))::bigint FROM pg_index
	WHERE indexrelid::regclass::text LIKE 'participants.' || pattern
$$;
BEGIN;
SET LOCAL enable_seqscan = off;
SET LOCAL enable_sort = off;
SELECT ids(participants.query_participants(:'q', sort_by => 'CustomField.Dose', page_size => 1)) AS dose_first, scans('participant_sort_%_asc') > 0 AS asc_index;
SELECT ids(participants.query_participants(:'q', sort_by => 'CustomField.Dose', sort_ascending => false, page_size => 1)) AS dose_last, scans('participant_sort_%_desc') > 0 AS desc_index;
SELECT ids(participants.query_participants(:'q', page_size => 1, sort_ascending => false)) AS newest, scans('participant_inserted_idx') > 0 AS inserted_index;
COMMIT;
-- with more rows, filters go through their indexes: the trigram index for
-- query and for demographic equality, the GIN index for custom fields
SELECT participants.create_project('Scale study') AS s \gset
SELECT r->'totalAdded' AS added FROM participants.upsert_participants(:'s', (
	SELECT jsonb_agg(jsonb_build_object('participantIdentifier', 'S' || i,
		'demographics', jsonb_build_object('lastName', 'Q' || substr(md5(i::text), 1, 12), 'city', 'City' || i % 50),
		'customFields', jsonb_build_object('Cohort', i % 100)))
	FROM generate_series(1, 3000) i)) AS r;
VACUUM ANALYZE participants.participant;
BEGIN;
SET LOCAL enable_seqscan = off;
SELECT ids(participants.query_participants(:'s', query => substr(md5('1234'), 3, 8))) AS text_match, scans('participant_search_idx') AS trigram_scans;
SELECT ids(participants.query_participants(:'s', demographic_fields => jsonb_build_object('LastName', 'q' || substr(md5('2345'), 1, 12)))) AS demo_match, scans('participant_search_idx') AS trigram_scans;
SELECT participants.query_participants(:'s', custom_fields => '{"Cohort": "42"}')->'totalParticipants' AS cohort, scans('participant_custom_fields_idx') AS gin_scans;
COMMIT;
-- not sortable any more, or dropped: the indexes go; sortable again: back
SELECT participants.define_custom_field(:'q', 'Dose', 'number', '{"sortable": false}')->'options' AS not_sortable;
SELECT sort_indexes();
SELECT participants.define_custom_field(:'q', 'Dose', 'number', '{"sortable": true}')->'options' AS sortable_again;
SELECT count(*) AS indexes FROM pg_indexes WHERE indexname LIKE 'participant_sort_%';
SELECT participants.drop_custom_field(:'q', 'Dose')->>'name' AS dropped;
SELECT sort_indexes();
-- raw writes to custom_field keep the same rules
SELECT err(format($$INSERT INTO participants.custom_field (project_id, name, type, options) VALUES (%L, 'Dose', 'number', '{"sortable": "yes"}')$$, :'q')) AS raw_bad_option;
SELECT err(format($$INSERT INTO participants.custom_field (project_id, name, type, options) VALUES (%L, 'Dose', 'number', '{"index": true}')$$, :'q')) AS raw_unknown_option;
INSERT INTO participants.custom_field (project_id, name, type, options) VALUES (:'q', 'Dose', 'number', '{"sortable": true}');
SELECT count(*) AS raw_indexes FROM pg_indexes WHERE indexname LIKE 'participant_sort_%';
DELETE FROM participants.custom_field WHERE project_id = :'q' AND name = 'Dose';
SELECT count(*) AS raw_deleted FROM pg_indexes WHERE indexname LIKE 'participant_sort_%';
SELECT err($$SELECT participants.define_custom_field(pid('main'), 'Dose', 'number', '{"sortable": 1}')$$) AS bad_sortable;
-- the indexes are built with search_path pinned: an operator in a schema on the
-- caller's path takes no part (the index definition names pg_catalog's)
CREATE SCHEMA evil;
CREATE TABLE evil.calls (n int);
CREATE FUNCTION evil.arrow(jsonb, text) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN INSERT INTO evil.calls VALUES (1); RETURN NULL; END $$;
CREATE OPERATOR evil.-> (leftarg = jsonb, rightarg = text, function = evil.arrow);
SET search_path = evil, pg_catalog, public;
SELECT participants.define_custom_field(:'q', 'Dose', 'number', '{"sortable": true}') IS NOT NULL AS sortable_under_evil_path;
RESET search_path;
SELECT count(*) AS evil_calls FROM evil.calls;
SELECT count(*) AS indexes_naming_evil FROM pg_indexes WHERE indexname LIKE 'participant_sort_%' AND indexdef LIKE '%evil%';
SELECT participants.drop_custom_field(:'q', 'Dose')->>'name' AS dropped;
DROP SCHEMA evil CASCADE;

-- each result is the participant object get_participant returns
SELECT participants.query_participants(:'q', query => 'Q04')->'participants'->0 = participants.get_participant(:'q', 'Q04') AS same_object;

-- hostile and invalid input: answered correctly or refused with 22023, never executed
SELECT ids(participants.query_participants(:'q', sort_by => $$CustomField.x'); DROP TABLE participants.participant; --$$)) AS injection_is_a_name;
SELECT count(*) AS still_there FROM participants.participant WHERE project_id = :'q';
SELECT ids(participants.query_participants(:'q', query => $$'; DROP TABLE participants.participant; --$$)) AS injection_in_query;
SELECT ids(participants.query_participants(:'q', custom_fields => $${"x'); DROP TABLE t; --": 1}$$)) AS injection_in_field_name;
SELECT err($$SELECT participants.query_participants(pid('main'), page_size => 0)$$) AS size_zero;
SELECT err($$SELECT participants.query_participants(pid('main'), page_size => 1001)$$) AS size_too_big;
SELECT err($$SELECT participants.query_participants(pid('main'), page_size => -5)$$) AS size_negative;
SELECT err($$SELECT participants.query_participants(pid('main'), page_number => -1)$$) AS page_negative;
SELECT err($$SELECT participants.query_participants(pid('main'), sort_by => 'Bogus')$$) AS unknown_sort;
SELECT err($$SELECT participants.query_participants(pid('main'), sort_by => 'CustomField.')$$) AS empty_field_name;
SELECT err($$SELECT participants.query_participants(pid('main'), sort_by => 'DemographicField.ShoeSize')$$) AS unknown_demographic_sort;
SELECT err($$SELECT participants.query_participants(pid('main'), demographic_fields => '{"ShoeSize": "9"}')$$) AS unknown_demographic;
SELECT err($$SELECT participants.query_participants(pid('main'), demographic_fields => '{"LastName": ["a"]}')$$) AS demographic_array;
SELECT err($$SELECT participants.query_participants(pid('main'), demographic_fields => '{"DOB": "2021-02-30"}')$$) AS impossible_dob;
SELECT err($$SELECT participants.query_participants(pid('main'), demographic_fields => '[]')$$) AS demographics_not_object;
SELECT err($$SELECT participants.query_participants(pid('main'), custom_fields => '{"Smoker": {"a": 1}}')$$) AS custom_value_object;
SELECT err($$SELECT participants.query_participants(pid('main'), custom_fields => '"x"')$$) AS custom_not_object;
SELECT err($$SELECT participants.query_participants(pid('main'), query => E'a\x1fb')$$) AS control_character;
SELECT err($$SELECT participants.query_participants(NULL)$$) AS null_project;
SELECT regexp_replace(err($$SELECT participants.query_participants('00000000-0000-4000-8000-000000000000')$$), '[0-9a-f-]{36}', '<id>') AS no_project;
SELECT regexp_replace(err($$SELECT participants.query_participants(pid('main'), segment_id => '00000000-0000-4000-8000-000000000000')$$), '[0-9a-f-]{36}', '<id>') AS no_segment;
