-- projects: a project keeps its id and is deleted only when it has no participants
SELECT participants.create_project('Empty study') AS empty \gset
SELECT participants.create_project('Doomed study') AS doomed \gset
SELECT participants.upsert_participant(:'doomed', '{"participantIdentifier": "D1"}') IS NOT NULL AS added;

SELECT err(format('DELETE FROM participants.project WHERE id = %L', :'doomed')) AS delete_with_participants;
SELECT err('TRUNCATE participants.project CASCADE') AS truncate_with_participants;
SELECT err(format('UPDATE participants.project SET id = %L WHERE id = %L', '00000000-0000-4000-8000-0000000000e1', :'empty')) AS change_id;
SELECT err(format('UPDATE participants.project SET name = %L WHERE id = %L', 'Renamed', :'empty')) AS rename;

-- once its participants are gone, a project can go
SELECT participants.delete_participant(:'doomed', 'D1')->>'actionTaken' AS deleted;
SELECT err(format('DELETE FROM participants.project WHERE id = %L', :'doomed')) AS delete_empty;
SELECT err(format('DELETE FROM participants.project WHERE id = %L', :'empty')) AS delete_other_empty;
SELECT count(*) AS gone FROM participants.project WHERE id IN (:'doomed', :'empty');

-- a participant of a project that does not exist: PT404, through the function and raw INSERT
SELECT regexp_replace(err(format($$SELECT participants.upsert_participant(%L, '{"participantIdentifier": "D2"}')$$, :'doomed')), '[0-9a-f-]{36}', '<id>') AS upsert_gone;
SELECT regexp_replace(err(format($$INSERT INTO participants.participant (project_id, id, participant_identifier) VALUES (%L, gen_random_uuid(), 'D2')$$, :'doomed')), '[0-9a-f-]{36}', '<id>') AS raw_insert_gone;
