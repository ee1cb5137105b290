-- projects, completed: get_project, update_project (settings a closed set,
-- merged, a null removing a key), list_projects, list_studies; the same
-- settings rules for raw SQL (project_settings_guard), not for a restore
SELECT participants.create_project('Governance study', '{"participantIdentifierPrefix": "GS-", "retention": {"eventDays": 365}}') AS gp \gset
SELECT p - 'projectID' - 'createdDate' AS project, p ->> 'projectID' = :'gp' AS same_id
FROM participants.get_project(:'gp') p;

-- update: name, merged settings, a null removing a key
SELECT p -> 'name' AS name, p -> 'settings' AS settings
FROM participants.update_project(:'gp', name => 'Governance study 2',
	settings => '{"strictCustomFields": true, "incentiveYearlyLimit": {"amount": 600, "currency": "USD"}, "allowReaddAfterErasure": false}') p;
SELECT p -> 'settings' AS settings
FROM participants.update_project(:'gp', settings => '{"participantIdentifierPrefix": null, "retention": {"withdrawnDays": 30, "auditDays": 3650}}') p;
SELECT participants.update_project(:'gp') -> 'name' AS unchanged;

-- bad input: 22023 naming the key, nothing written
SELECT settings AS before FROM participants.project WHERE id = :'gp' \gset
SELECT err(format($$SELECT participants.update_project(%L, settings => '{"prefix": "X"}')$$, :'gp')) AS unknown_key;
SELECT err(format($$SELECT participants.update_project(%L, settings => '{"linkIdentifiers": "yes"}')$$, :'gp')) AS not_boolean;
SELECT err(format($$SELECT participants.update_project(%L, settings => '{"participantIdentifierPrefix": "%s"}')$$, :'gp', repeat('x', 33))) AS long_prefix;
SELECT err(format($$SELECT participants.update_project(%L, settings => '{"incentiveYearlyLimit": {"amount": 600}}')$$, :'gp')) AS limit_no_currency;
SELECT err(format($$SELECT participants.update_project(%L, settings => '{"incentiveYearlyLimit": {"amount": 600, "currency": "usd"}}')$$, :'gp')) AS limit_currency;
SELECT err(format($$SELECT participants.update_project(%L, settings => '{"incentiveYearlyLimit": {"amount": 0, "currency": "USD"}}')$$, :'gp')) AS limit_zero;
SELECT err(format($$SELECT participants.update_project(%L, settings => '{"incentiveYearlyLimit": {"amount": 5, "currency": "USD", "per": "year"}}')$$, :'gp')) AS limit_unknown_key;
SELECT err(format($$SELECT participants.update_project(%L, settings => '{"incentiveYearlyLimit": 600}')$$, :'gp')) AS limit_not_object;
SELECT err(format($$SELECT participants.update_project(%L, settings => '{"retention": {"eventDays": 0}}')$$, :'gp')) AS retention_zero;
SELECT err(format($$SELECT participants.update_project(%L, settings => '{"retention": {"eventDays": 1.5}}')$$, :'gp')) AS retention_fraction;
SELECT err(format($$SELECT participants.update_project(%L, settings => '{"retention": {"days": 10}}')$$, :'gp')) AS retention_unknown_key;
SELECT err(format($$SELECT participants.update_project(%L, settings => '[]')$$, :'gp')) AS settings_not_object;
SELECT err(format($$SELECT participants.update_project(%L, name => '')$$, :'gp')) AS empty_name;
SELECT serr($$SELECT participants.update_project('00000000-0000-0000-0000-000000000003', name => 'x')$$) AS no_project;
SELECT serr($$SELECT participants.get_project('00000000-0000-0000-0000-000000000003')$$) AS get_no_project;
SELECT settings = :'before'::jsonb AS nothing_written FROM participants.project WHERE id = :'gp';
SELECT err($$SELECT participants.create_project('Bad', '{"retention": {"eventDays": -1}}')$$) AS create_checked;

-- raw SQL: the same rules
SELECT err(format($$UPDATE participants.project SET settings = settings || '{"colour": "red"}' WHERE id = %L$$, :'gp')) AS raw_unknown_key;
SELECT err($$INSERT INTO participants.project (id, name, settings) VALUES (gen_random_uuid(), 'Raw', '{"strictCustomFields": 1}')$$) AS raw_insert;
UPDATE participants.project SET settings = settings || '{"linkIdentifiers": false}' WHERE id = :'gp' RETURNING settings -> 'linkIdentifiers' AS raw_valid;
-- a restore (row_security off, as pg_dump's output sets it) loads rows as they were
BEGIN;
-- (on a Citus cluster the SET LOCAL must reach the nodes that hold the
-- reference table; on one node this setting is a placeholder that does nothing)
SET LOCAL citus.propagate_set_commands = 'local';
SET LOCAL row_security = off;
UPDATE participants.project SET settings = settings || '{"fromAnOlderDump": 1}' WHERE id = :'gp' RETURNING settings ? 'fromAnOlderDump' AS restored_as_is;
ROLLBACK;

-- list_projects: every project for an unconfined caller, by name
SELECT jsonb_array_length(participants.list_projects()) = (SELECT count(*) FROM participants.project) AS every_project,
       (SELECT array_agg(p ->> 'name' ORDER BY o) = array_agg(p ->> 'name' ORDER BY p ->> 'name', p ->> 'projectID')
        FROM jsonb_array_elements(participants.list_projects()) WITH ORDINALITY x(p, o)) AS by_name;

-- list_studies: by name, paged
SELECT participants.create_study(:'gp', n) IS NOT NULL AS made FROM unnest(ARRAY['Sleep', 'Diet', 'Memory']) n;
SELECT l -> 'totalStudies' AS total, l -> 'pageSize' AS size, jsonb_path_query_array(l, '$.studies[*].studyName') AS studies
FROM (SELECT participants.list_studies(:'gp', page_number => 0, page_size => 2) AS l) x;
SELECT jsonb_path_query_array(participants.list_studies(:'gp', page_number => 1, page_size => 2), '$.studies[*].studyName') AS page_1;
SELECT err(format($$SELECT participants.list_studies(%L, page_size => 0)$$, :'gp')) AS page_size;
SELECT serr($$SELECT participants.list_studies('00000000-0000-0000-0000-000000000003')$$) AS studies_no_project;
