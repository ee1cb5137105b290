-- privileges: nothing for PUBLIC; the documented roles can do what README says
SELECT p.oid::regprocedure AS func FROM pg_proc p
WHERE p.pronamespace = 'participants'::regnamespace AND has_function_privilege('public', p.oid, 'EXECUTE')
ORDER BY 1;
SELECT c.oid::regclass AS rel FROM pg_class c
WHERE c.relnamespace = 'participants'::regnamespace AND c.relkind IN ('r', 'v', 'S')
  AND (c.relacl IS NULL OR EXISTS (SELECT 1 FROM aclexplode(c.relacl) a WHERE a.grantee = 0))
  AND has_table_privilege('public', c.oid, 'SELECT')
ORDER BY 1;

CREATE ROLE regress_nobody;
SET ROLE regress_nobody;
SELECT err($$SELECT participants.get_participant(pid('main'), 'MDH-0001')$$) AS nobody_get;
SELECT err($$SELECT count(*) FROM participants.participant$$) AS nobody_table;
RESET ROLE;

-- the application role of README.md
CREATE ROLE regress_app;
GRANT USAGE ON SCHEMA participants TO regress_app;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA participants TO regress_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA participants TO regress_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA participants TO regress_app;
GRANT SELECT ON t TO regress_app;
SET ROLE regress_app;
SELECT r->>'actionTaken' AS action FROM participants.upsert_participant(pid('main'), '{"demographics": {"email": "app@example.com"}}') AS r;
SELECT participants.enroll_participant(pid('main'), 'MDH-0003')->>'actionTaken' AS app_enroll;
SELECT err($$UPDATE participants.participant SET email = 'x@example.com' WHERE participant_identifier = 'MDH-0003'$$) AS app_raw_locked;
SELECT err($$UPDATE participants.participant SET first_name = 'Max' WHERE participant_identifier = 'MDH-0003'$$) AS app_raw_other;
RESET ROLE;

-- the read-only role of README.md: reads, never writes
CREATE ROLE regress_reader;
GRANT USAGE ON SCHEMA participants TO regress_reader;
GRANT EXECUTE ON FUNCTION participants.get_participant(uuid, text, boolean), participants.custom_fields(uuid) TO regress_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA participants TO regress_reader;
GRANT SELECT ON t TO regress_reader;
SET ROLE regress_reader;
SELECT participants.get_participant(pid('main'), 'MDH-0001')->>'participantIdentifier' AS reader_get;
SELECT err($$SELECT participants.upsert_participant(pid('main'), '{"participantIdentifier": "R1"}')$$) AS reader_upsert;
SELECT err($$DELETE FROM participants.participant$$) AS reader_delete;
RESET ROLE;

DROP OWNED BY regress_nobody, regress_app, regress_reader;
DROP ROLE regress_nobody, regress_app, regress_reader;
