-- ops: get_participant and delete_participant, by identifier and by id
SELECT strip(participants.get_participant(pid('main'), 'B2')) AS by_identifier;
SELECT id AS b2 FROM participants.participant WHERE participant_identifier = 'B2' \gset
SELECT participants.get_participant(pid('main'), :'b2', true) = participants.get_participant(pid('main'), 'B2') AS by_id_same;
SELECT err($$SELECT participants.get_participant(pid('main'), 'NOPE')$$) AS missing;
SELECT regexp_replace(err(format($$SELECT participants.get_participant(pid('main'), %L)$$, :'b2')), '[0-9a-f-]{36}', '<id>') AS id_without_flag;
SELECT err($$SELECT participants.get_participant(pid('main'), 'zz', true)$$) AS bad_id;
SELECT err($$SELECT participants.get_participant('00000000-0000-4000-8000-000000000000', 'B2')$$) AS no_project;
SELECT err($$SELECT participants.get_participant(NULL, 'B2')$$) AS null_project;
SELECT err($$SELECT participants.get_participant(pid('other'), 'B2')$$) AS wrong_project;

-- delete returns the participant as it was, and it is gone
SELECT r->>'actionTaken' AS action, strip(r->'result') AS result
FROM participants.delete_participant(pid('main'), :'b2', true) AS r;
SELECT count(*) AS b2_rows FROM participants.participant WHERE participant_identifier = 'B2';
SELECT err($$SELECT participants.delete_participant(pid('main'), 'B2')$$) AS delete_again;
-- an enrolled and withdrawn participant can be deleted
SELECT r->>'actionTaken' AS action, shape(r->'result') FROM participants.delete_participant(pid('main'), 'E1') AS r;
-- its email can be used again afterwards
SELECT r->>'actionTaken' AS action FROM participants.upsert_participant(pid('main'), '{"participantIdentifier": "E1b", "demographics": {"email": "EVE@example.com"}}') AS r;
