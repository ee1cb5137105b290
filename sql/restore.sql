-- restore: rows skip the rules and write no event only during a real restore
-- (row_security = off, as pg_dump's output sets it, in a session of a role
-- that is not confined); a raw write cannot pose as one by filling in a
-- column, and a confined role cannot by setting row_security
INSERT INTO t SELECT 'rst', participants.create_project('Restore');
SELECT participants.upsert_participants(pid('rst'), '[{"participantIdentifier": "R-1"}, {"participantIdentifier": "R-2"}, {"participantIdentifier": "R-3"}]') ->> 'totalAdded' AS added;
SELECT participants.set_opted_out(pid('rst'), 'R-1', true) ->> 'actionTaken' AS r1_opted_out;
SELECT participants.create_study(pid('rst'), 'Restore study') ->> 'studyID' AS rs \gset
INSERT INTO t VALUES ('rst_study', :'rs');
SELECT pid('rst') AS rst \gset
CREATE FUNCTION rst_person(ident text) RETURNS uuid LANGUAGE plpgsql STABLE AS $$ BEGIN RETURN (
	SELECT id FROM participants.participant WHERE project_id = pid('rst') AND participant_identifier = ident);
END $$;
CREATE FUNCTION rst_events() RETURNS bigint LANGUAGE plpgsql STABLE AS $$ BEGIN RETURN (
	SELECT count(*) FROM participants.event WHERE project_id = pid('rst'));
END $$;
SELECT rst_events() AS events_before;
SELECT rst_person('R-1') AS r1, rst_person('R-2') AS r2, rst_person('R-3') AS r3 \gset

-- as a superuser outside a restore: an opted-out participant placed at
-- COMPLETED_STUDY with a code that does not exist and a last_event_id, and a
-- forged event, are refused
SELECT serr(format($$INSERT INTO participants.study_participant (project_id, id, study_id, participant_id, status, completion_code, last_event_id)
	VALUES (%L, gen_random_uuid(), %L, %L, 'COMPLETED_STUDY', 'NO-SUCH-CODE', 99)$$, pid('rst'), :'rs', rst_person('R-1'))) AS posing_row;
SELECT serr(format($$INSERT INTO participants.study_participant (project_id, id, study_id, participant_id, status, last_event_id)
	VALUES (%L, gen_random_uuid(), %L, %L, 'NOT_STARTED', 1)$$, pid('rst'), :'rs', rst_person('R-2'))) AS last_event_id_alone;
SELECT serr(format($$INSERT INTO participants.event (project_id, id, event_type, person_id, payload)
	VALUES (%L, 1000, 'participant.status_changed', %L, '{"eventType": "participant.status_changed", "status": "COMPLETED_STUDY"}')$$,
	pid('rst'), rst_person('R-2'))) AS forged_event;
SELECT rst_events() AS events_unchanged, count(*) AS study_rows FROM participants.study_participant WHERE project_id = pid('rst');
SELECT participants.events_since(pid('rst')) @? '$[*] ? (@.payload.status == "COMPLETED_STUDY")' AS feed_forged;

-- a confined role with every table privilege: the same refusals, and
-- row_security = off does not make it a restore (every access fails)
CREATE ROLE regress_rst_raw LOGIN;
SELECT participants.grant_access('regress_rst_raw', 'raw') ->> 'access' AS raw_granted;
GRANT EXECUTE ON FUNCTION participants.add_study_participants(uuid, uuid, jsonb, boolean) TO regress_rst_raw;
GRANT SELECT ON t TO regress_rst_raw;
GRANT EXECUTE ON FUNCTION rst_person(text) TO regress_rst_raw;
INSERT INTO participants.project_access (project_id, role_name) VALUES (pid('rst'), 'regress_rst_raw');
SET ROLE regress_rst_raw;
SELECT serr(format($$INSERT INTO participants.study_participant (project_id, id, study_id, participant_id, status, last_event_id)
	VALUES (%L, gen_random_uuid(), %L, %L, 'COMPLETED_STUDY', 99)$$, pid('rst'), pid('rst_study'), rst_person('R-1'))) AS confined_posing_row;
SELECT serr(format($$INSERT INTO participants.event (project_id, id, event_type, person_id, payload)
	VALUES (%L, 1000, 'person.opted_out', %L, '{}')$$, pid('rst'), rst_person('R-2'))) AS confined_forged_event;
SET row_security = off;
SELECT serr(format($$INSERT INTO participants.event (project_id, id, event_type, person_id, payload)
	VALUES (%L, 1001, 'person.opted_out', %L, '{}')$$, :'rst', :'r2')) AS confined_rls_off_event;
-- through an API function (which works as the owner) the caller is asked:
-- the opted-out participant is skipped and the others get their first event
SELECT participants.add_study_participants(:'rst', :'rs', '["R-1", "R-2"]') AS confined_rls_off_add;
RESET row_security;
RESET ROLE;
SELECT rst_events() AS events_after, count(*) AS study_rows FROM participants.study_participant WHERE project_id = pid('rst');

-- a real restore session: rows as they were, and events, load as they come
-- (row_security off for one transaction with SET LOCAL, which a cluster passes
-- on to its workers: doc/scaling-out.md)
BEGIN;
SET LOCAL citus.propagate_set_commands = 'local';
SET LOCAL row_security = off;
INSERT INTO participants.study_participant (project_id, id, study_id, participant_id, status, completion_code, last_event_id)
VALUES (:'rst', gen_random_uuid(), :'rs', :'r3', 'COMPLETED_STUDY', 'DONE', 5000);
INSERT INTO participants.event (project_id, id, event_type, person_id, study_id, payload)
VALUES (:'rst', 5000, 'participant.status_changed', :'r3', :'rs', '{"eventType": "participant.status_changed", "status": "COMPLETED_STUDY"}');
COMMIT;
CREATE FUNCTION rst_row(person uuid) RETURNS text LANGUAGE plpgsql STABLE AS $$ BEGIN RETURN (
	SELECT status || ' ' || completion_code || ' ' || last_event_id FROM participants.study_participant
	WHERE project_id = pid('rst') AND participant_id = person);
END $$;
SELECT rst_events() AS events_restored, rst_row(:'r3') AS restored_row;
-- and the rules are back for the next raw write
SELECT serr(format($$UPDATE participants.study_participant SET status = 'INVITE_SENT' WHERE project_id = %L AND participant_id = %L$$,
	pid('rst'), rst_person('R-3'))) AS after_restore;

DELETE FROM participants.project_access WHERE role_name = 'regress_rst_raw';
DROP OWNED BY regress_rst_raw;
DROP ROLE regress_rst_raw;
