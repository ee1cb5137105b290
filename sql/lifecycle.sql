-- lifecycle: imports with row reports, erasure with tombstones, retention,
-- the audit log. Every rule from the API and from raw SQL.
INSERT INTO t SELECT 'lc', participants.create_project('Lifecycle', '{"participantIdentifierPrefix": "LC-"}');
SELECT participants.define_custom_field(pid('lc'), 'Age', 'integer') IS NOT NULL AS age;
SELECT participants.define_custom_field(pid('lc'), 'Smoker', 'boolean') IS NOT NULL AS smoker;
SELECT participants.define_custom_field(pid('lc'), 'Visit', 'date') IS NOT NULL AS visit;
-- an import's object without its generated values
CREATE FUNCTION imp(j jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
	SELECT j - 'importID' - 'createdDate' - 'finishedDate'
$$;
CREATE FUNCTION rows_of(j jsonb, failed_only boolean DEFAULT false) RETURNS TABLE (r int, action text, has_person boolean, errors jsonb)
LANGUAGE sql AS $$
	SELECT (x ->> 'row')::int, x ->> 'actionTaken', x ->> 'personId' IS NOT NULL, x -> 'errors'
	FROM jsonb_array_elements(participants.import_rows(pid('lc'), (j ->> 'importID')::uuid, failed_only, 0, 1000) -> 'rows') x
$$;
CREATE FUNCTION person(ident text) RETURNS jsonb LANGUAGE sql AS $$
	SELECT strip(participants.get_participant(pid('lc'), ident))
$$;

------------------------------------------------------------------------------
-- CSV per RFC 4180
------------------------------------------------------------------------------
-- a byte order mark, CRLF, a quoted comma, doubled quotes and a line break
-- inside quotes, a blank line, LF lines and no newline at the end
CREATE TABLE lci1 AS SELECT participants.import_participants(pid('lc'),
	E'\xEF\xBB\xBFparticipantIdentifier,Email,FIRSTNAME,lastName,customFields.age,CustomFields.Smoker,customFields.Visit\r\n'
	'C-1,c1@example.com,"Smith, Jo",O''Neil,31,yes,2026-01-02\r\n'
	'C-2,c2@example.com,"say ""hi""","two\r\nlines",,f,\r\n'
	'\r\n'
	'C-3,c3@example.com,Plain,"",7,0,\n'
	'C-4,c4@example.com,Last,Row,8,TRUE,2026-03-04') AS i;
SELECT imp(i) FROM lci1;
SELECT * FROM rows_of((SELECT i FROM lci1));
SELECT person('C-1') -> 'demographics' AS c1_demo, person('C-1') -> 'customFields' AS c1_fields;
SELECT person('C-2') -> 'demographics' AS c2_demo, person('C-2') -> 'customFields' AS c2_fields;
SELECT person('C-3') -> 'customFields' AS c3_fields, person('C-4') -> 'customFields' AS c4_fields;
-- the header: unknown and duplicate columns refuse the whole import, and no record is kept
SELECT count(*) AS imports_before FROM participants.import WHERE project_id = pid('lc');
SELECT serr($$SELECT participants.import_participants(pid('lc'), E'email,shoeSize\nx@example.com,42\n')$$) AS unknown_column;
SELECT serr($$SELECT participants.import_participants(pid('lc'), E'email,EMAIL\nx@example.com,y@example.com\n')$$) AS duplicate_column;
SELECT serr($$SELECT participants.import_participants(pid('lc'), E'email,customFields.\nx@example.com,1\n')$$) AS empty_field_name;
SELECT serr($$SELECT participants.import_participants(pid('lc'), '')$$) AS no_header;
SELECT serr($$SELECT participants.import_participants(pid('lc'), E'email,firstName\nx@example.com,"open\n')$$) AS unclosed_quote;
SELECT serr($$SELECT participants.import_participants(pid('lc'), E'email,firstName\nx@example.com,"a"b\n')$$) AS text_after_quote;
SELECT count(*) AS imports_after FROM participants.import WHERE project_id = pid('lc');
SELECT count(*) AS written FROM participants.participant WHERE project_id = pid('lc') AND email = 'x@example.com';

------------------------------------------------------------------------------
-- Rows that fail, and the options
------------------------------------------------------------------------------
-- onError abort (the default): a failing row keeps every row from being
-- written, every failing row is reported, the good ones are rolledBack
CREATE TABLE lci2 AS SELECT participants.import_participants(pid('lc'),
	E'participantIdentifier,email,customFields.Age,mobilePhone,gender\n'
	'C-1,c1@example.com,32,,\n'
	'A-1,a1@example.com,abc,,\n'
	'A-2,not-an-email,5,,\n'
	'A-3,a3@example.com,5,+1 555 0100,\n'
	'A-4,a4@example.com,5,,X\n'
	'A-5,c2@EXAMPLE.com,5,,\n'
	'A-6,a6@example.com\n') AS i;
SELECT imp(i) FROM lci2;
SELECT * FROM rows_of((SELECT i FROM lci2));
SELECT person('C-1') -> 'customFields' -> 'Age' AS c1_age_unchanged,
       (SELECT count(*) FROM participants.participant WHERE project_id = pid('lc') AND participant_identifier LIKE 'A-%') AS none_added;
-- failed_only (the default) pages through the failing rows only
SELECT r.v -> 'totalRows' AS failed_total, jsonb_array_length(r.v -> 'rows') AS page_len, r.v -> 'rows' -> 0 -> 'row' AS first
FROM (SELECT participants.import_rows(pid('lc'), (i ->> 'importID')::uuid, page_size => 2, page_number => 1) AS v FROM lci2) r;
-- onError skip: the good rows are written
CREATE TABLE lci3 AS SELECT participants.import_participants(pid('lc'),
	E'participantIdentifier,email,customFields.Age\nS-1,s1@example.com,1\nS-2,bad,2\nS-3,s3@example.com,x\nS-4,s4@example.com,4\n',
	'{"onError": "skip"}') AS i;
SELECT imp(i) FROM lci3;
SELECT * FROM rows_of((SELECT i FROM lci3));
SELECT array_agg(participant_identifier ORDER BY participant_identifier) AS skipped_import_wrote FROM participants.participant WHERE project_id = pid('lc') AND participant_identifier LIKE 'S-%';
-- rows apply in file order: a later row updates an earlier one; an unchanged one is none
CREATE TABLE lci4 AS SELECT participants.import_participants(pid('lc'),
	E'participantIdentifier,email,firstName\nO-1,o1@example.com,First\nO-1,,Second\nO-1,,Second\n') AS i;
SELECT i -> 'counts' AS counts FROM lci4;
SELECT action FROM rows_of((SELECT i FROM lci4)) ORDER BY r;
SELECT person('O-1') -> 'demographics' AS o1;
-- dryRun: the record and the reports, nothing else
CREATE TABLE lci5 AS SELECT participants.import_participants(pid('lc'),
	E'participantIdentifier,email,firstName\nD-1,d1@example.com,Dry\nO-1,,Changed\n', '{"dryRun": true}') AS i;
SELECT imp(i) FROM lci5;
SELECT * FROM rows_of((SELECT i FROM lci5));
SELECT serr($$SELECT participants.get_participant(pid('lc'), 'D-1')$$) AS dry_run_added_nobody,
       person('O-1') -> 'demographics' ->> 'firstName' AS dry_run_changed_nothing;
-- allowUpdate false: a row that matches someone fails
SELECT i -> 'counts' AS counts, i -> 'errors' -> 0 ->> 'code' AS code, i -> 'errors' -> 0 ->> 'row' AS row
FROM participants.import_participants(pid('lc'), E'participantIdentifier,firstName\nO-1,Again\nN-1,New\n',
	'{"allowUpdate": false, "onError": "skip", "format": "csv"}') AS i;
-- emptyAsNull: an empty cell clears the value
SELECT i -> 'counts' AS counts FROM participants.import_participants(pid('lc'), E'participantIdentifier,firstName,lastName\nC-1,,\n', '{"emptyAsNull": true}') AS i;
SELECT person('C-1') -> 'demographics' AS c1_cleared;
-- idempotencyKey: the same key returns the first import and writes nothing
CREATE TABLE lci6 AS SELECT participants.import_participants(pid('lc'), E'participantIdentifier,email\nK-1,k1@example.com\n', '{"idempotencyKey": "file-2026-12-01"}') AS i;
CREATE TABLE lci7 AS SELECT participants.import_participants(pid('lc'), E'participantIdentifier,email\nK-2,k2@example.com\n', '{"idempotencyKey": "file-2026-12-01"}') AS i;
SELECT (SELECT i ->> 'importID' FROM lci6) = (SELECT i ->> 'importID' FROM lci7) AS same_import, (SELECT i FROM lci6) = (SELECT i FROM lci7) AS same_object,
       (SELECT count(*) FROM participants.participant WHERE project_id = pid('lc') AND participant_identifier = 'K-2') AS k2_written,
       (SELECT count(*) FROM participants.import WHERE project_id = pid('lc') AND idempotency_key = 'file-2026-12-01') AS records;
-- options are checked
SELECT serr($$SELECT participants.import_participants(pid('lc'), 'email', '{"onError": "ignore"}')$$) AS bad_on_error;
SELECT serr($$SELECT participants.import_participants(pid('lc'), 'email', '{"dryrun": true}')$$) AS unknown_option;
SELECT serr($$SELECT participants.import_participants(pid('lc'), 'email', '{"dryRun": "yes"}')$$) AS option_type;
SELECT serr($$SELECT participants.import_participants(pid('lc'), 'email', '{"format": "xml"}')$$) AS bad_format;
SELECT serr($$SELECT participants.import_participants(pid('lc'), 'email', '[]')$$) AS options_not_object;
SELECT serr($$SELECT participants.import_participants(pid('lc'), NULL)$$) AS null_data;
SELECT serr($$SELECT participants.import_participants(gen_random_uuid(), 'email')$$) AS no_project;
-- a smaller batch: a failing row in the middle of several batches
SET participants.bulk_batch_size = 3;
SELECT i -> 'counts' AS counts, i -> 'errors' AS errors FROM participants.import_participants(pid('lc'),
	E'participantIdentifier,email\nB-1,b1@example.com\nB-2,b2@example.com\nB-3,b3@example.com\nB-4,b4@example.com\nB-5,b1@example.com\nB-6,b6@example.com\nB-1,b7@example.com\n',
	'{"onError": "skip"}') AS i;
RESET participants.bulk_batch_size;
-- row reports past work_mem wait in a temporary file
SET work_mem = 64;
SELECT i -> 'counts' AS counts FROM participants.import_participants(pid('lc'),
	'participantIdentifier,email' || E'\n' || (SELECT string_agg(format('W-%s,w%s@example.com', n, n), E'\n') FROM generate_series(1, 6000) n)) AS i;
SELECT count(*) AS spilled_reports FROM participants.import_row r JOIN participants.import i ON i.project_id = r.project_id AND i.id = r.import_id
WHERE i.project_id = pid('lc') AND i.rows = 6000;
RESET work_mem;
SELECT array_agg(participant_identifier || '=' || email ORDER BY participant_identifier) AS batches FROM participants.participant WHERE project_id = pid('lc') AND participant_identifier LIKE 'B-%';

------------------------------------------------------------------------------
-- JSON arrays
------------------------------------------------------------------------------
CREATE TABLE lci8 AS SELECT participants.import_participants(pid('lc'), '[
  {"participantIdentifier": "J-1", "demographics": {"email": "j1@example.com"}, "customFields": {"Age": 40}},
  {"participantIdentifier": "J-2", "demographics": {"email": "j2"}},
  "not a body",
  {"participantIdentifier": "J-1", "demographics": {"firstName": "Jay"}}
]', '{"onError": "skip"}') AS i;
SELECT imp(i) FROM lci8;
SELECT * FROM rows_of((SELECT i FROM lci8));
SELECT person('J-1') -> 'demographics' AS j1;
SELECT serr($$SELECT participants.import_participants(pid('lc'), '[{"participantIdentifier": ', '{"format": "json"}')$$) AS bad_json;
SELECT serr($$SELECT participants.import_participants(pid('lc'), '{"participantIdentifier": "x"}', '{"format": "json"}')$$) AS not_an_array;

------------------------------------------------------------------------------
-- get_import, import_rows, the event
------------------------------------------------------------------------------
SELECT participants.get_import(pid('lc'), (i ->> 'importID')::uuid) = i AS get_import_same FROM lci2;
SELECT serr($$SELECT participants.get_import(pid('lc'), gen_random_uuid())$$) AS no_import;
SELECT serr($$SELECT participants.import_rows(pid('lc'), gen_random_uuid())$$) AS no_import_rows;
SELECT serr($$SELECT participants.import_rows(pid('lc'), (SELECT (i ->> 'importID')::uuid FROM lci2), page_size => 0)$$) AS bad_page;
SELECT e.payload ->> 'status' AS status, e.payload -> 'counts' AS counts, e.person_id IS NULL AS no_person,
       (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(e.payload) k) AS keys
FROM participants.event e JOIN lci2 ON e.payload ->> 'importID' = lci2.i ->> 'importID' WHERE e.project_id = pid('lc');
SELECT array_agg(e.payload ->> 'status' ORDER BY e.id) AS statuses FROM participants.event e
WHERE e.project_id = pid('lc') AND e.event_type = 'person_import.api.finished';
-- only the database writes imports and their reports
SELECT serr(format($$INSERT INTO participants.import (project_id, id, status, format, options) VALUES (%L, gen_random_uuid(), 'completed', 'csv', '{}')$$, pid('lc'))) AS raw_import;
SELECT serr(format($$UPDATE participants.import_row SET action = 'add' WHERE project_id = %L$$, pid('lc'))) AS raw_report;

------------------------------------------------------------------------------
-- Erasure
------------------------------------------------------------------------------
-- ER-7731 has a bit of everything: memberships with history, a study status with
-- its history and a contact, consent and its history, an incentive, an
-- event with a webhook delivery record, an import report and an import error
-- that quotes its email, audit rows
SELECT participants.upsert_participant(pid('lc'), '{"participantIdentifier": "ER-7731", "demographics": {"email": "Erin.Erased@Example.com", "mobilePhone": "+15550109999", "firstName": "Erin", "lastName": "Zyxwv"}}') ->> 'actionTaken' AS added;
INSERT INTO t SELECT 'lc_seg', (participants.create_segment(pid('lc'), 'Erasable') ->> 'segmentID')::uuid;
SELECT participants.add_segment_members(pid('lc'), pid('lc_seg'), '["ER-7731"]') ->> 'added' AS member;
SELECT participants.remove_segment_members(pid('lc'), pid('lc_seg'), '["ER-7731"]') ->> 'removed' AS left_again;
SELECT participants.add_segment_members(pid('lc'), pid('lc_seg'), '["ER-7731", "C-1"]') ->> 'added' AS member_again;
INSERT INTO t SELECT 'lc_study', (participants.create_study(pid('lc'), 'Erasure study') ->> 'studyID')::uuid;
SELECT participants.add_study_participants(pid('lc'), pid('lc_study'), '["ER-7731", "C-1"]') ->> 'added' AS in_study;
SELECT participants.set_participant_status(pid('lc'), pid('lc_study'), 'ER-7731', 'INVITE_SENT') ->> 'status' AS invited;
SELECT participants.define_consent(pid('lc'), 'main', '{contact,data}') ->> 'version' AS consent;
SELECT participants.record_consent(pid('lc'), 'ER-7731', 'main') ->> 'name' AS granted;
SELECT participants.withdraw_consent(pid('lc'), 'ER-7731', 'main', '{data}') ->> 'name' AS withdrawn_scope;
SELECT participants.record_incentive(pid('lc'), 'ER-7731', pid('lc_study'), 20, 'USD', 'sent') ->> 'status' AS paid;
INSERT INTO t SELECT 'lc_hook', (participants.create_webhook(pid('lc'), 'http://192.0.2.1/hook') ->> 'webhookID')::uuid;
-- a delivery record of one of ER-7731's events, as the delivery worker writes one
INSERT INTO participants.webhook_delivery (project_id, webhook_id, number, event_id, event_type, attempt, attempted_date, http_status, duration_ms)
SELECT pid('lc'), pid('lc_hook'), 1, e.id, e.event_type, 1, now(), 200, 5 FROM participants.event e
WHERE e.project_id = pid('lc') AND e.person_id = (SELECT id FROM participants.participant WHERE project_id = pid('lc') AND participant_identifier = 'ER-7731')
ORDER BY e.id LIMIT 1;
SELECT i -> 'errors' -> 0 ->> 'message' LIKE '%erin.erased@example.com%' AS import_error_quotes_email
FROM participants.import_participants(pid('lc'), E'participantIdentifier,email\nER-7732,erin.erased@example.com\nER-7731,\n', '{"onError": "skip"}') AS i;
INSERT INTO t SELECT 'e1', id FROM participants.participant WHERE project_id = pid('lc') AND participant_identifier = 'ER-7731';
SELECT count(*) AS e1_audit_rows FROM participants.audit WHERE project_id = pid('lc') AND person_id = pid('e1');
CREATE TABLE lcr1 AS SELECT participants.erase_participant(pid('lc'), 'erin.erased@EXAMPLE.com', 'email', 'asked by letter') AS r;
SELECT (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(r) k) AS receipt_keys, r -> 'removed' AS removed,
       r ->> 'reason' AS reason, (r ->> 'personId')::uuid = pid('e1') AS person FROM lcr1;
-- nothing of the person is left: every table of the schema, searched for
-- the email, the phone, the names and the identifier
DO $$
DECLARE
	tab record;
	n bigint;
	found text := '';
BEGIN
	FOR tab IN SELECT c.oid::regclass AS r FROM pg_class c WHERE c.relnamespace = 'participants'::regnamespace AND c.relkind = 'r' ORDER BY 1 LOOP
		EXECUTE format($q$SELECT count(*) FROM %s x WHERE lower(x::text) LIKE '%%erin.erased@example.com%%'
			OR x::text LIKE '%%15550109999%%' OR x::text LIKE '%%Erin%%' OR x::text LIKE '%%Zyxwv%%'
			OR x::text LIKE '%%ER-7731%%'$q$, tab.r) INTO n;
		IF n > 0 THEN found := found || ' ' || tab.r || ':' || n; END IF;
	END LOOP;
	RAISE NOTICE 'tables that still hold the person:%', CASE WHEN found = '' THEN ' none' ELSE found END;
END $$;
SELECT count(*) AS rows_with_person_id FROM (
	SELECT participant_id FROM participants.segment_membership WHERE participant_id = pid('e1')
	UNION ALL SELECT participant_id FROM participants.study_participant WHERE participant_id = pid('e1')
	UNION ALL SELECT participant_id FROM participants.contact WHERE participant_id = pid('e1')
	UNION ALL SELECT participant_id FROM participants.participant_consent WHERE participant_id = pid('e1')
	UNION ALL SELECT participant_id FROM participants.consent_history WHERE participant_id = pid('e1')
	UNION ALL SELECT participant_id FROM participants.incentive WHERE participant_id = pid('e1')
	UNION ALL SELECT person_id FROM participants.import_row WHERE person_id = pid('e1')
	UNION ALL SELECT person_id FROM participants.audit WHERE person_id = pid('e1')
	UNION ALL SELECT person_id FROM participants.event WHERE person_id = pid('e1') AND event_type <> 'person.erased') x;
SELECT count(*) AS deliveries_left FROM participants.webhook_delivery WHERE project_id = pid('lc');
-- the audit rows keep their action and date, and nothing else
SELECT action, person_id IS NULL AS no_person, changed_keys IS NULL AS no_keys, actor_role IS NULL AS no_actor
FROM participants.audit WHERE project_id = pid('lc') AND person_id IS NULL ORDER BY audit_date, action;
-- the event, with no personal data
SELECT (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(e.payload) k) AS keys, e.payload ->> 'erasureID' = lcr1.r ->> 'erasureID' AS receipt
FROM participants.event e, lcr1 WHERE e.project_id = pid('lc') AND e.event_type = 'person.erased';
-- the tombstone: keyed hashes only
SELECT email_hmac IS NOT NULL AND length(email_hmac) = 32 AS email_hash, phone_hmac IS NOT NULL AS phone_hash,
       email_hmac <> sha256(convert_to('erin.erased@example.com', 'UTF8')) AS keyed
FROM participants.erasure WHERE project_id = pid('lc');
-- it refuses the email (in any case) and the phone, from every path
SELECT serr($$SELECT participants.upsert_participant(pid('lc'), '{"demographics": {"email": "ERIN.erased@example.com"}}')$$) AS upsert;
SELECT serr($$SELECT participants.upsert_participants(pid('lc'), '[{"participantIdentifier": "X-1"}, {"participantIdentifier": "X-2", "demographics": {"mobilePhone": "+1 555 010 9999"}}]')$$) AS bulk;
SELECT serr($$SELECT participants.upsert_participant(pid('lc'), '{"participantIdentifier": "C-3", "demographics": {"email": "erin.erased@example.com"}}')$$) AS update_to_it;
SELECT i -> 'errors' AS import FROM participants.import_participants(pid('lc'), E'email\nErin.Erased@example.com\n') AS i;
SELECT serr(format($$INSERT INTO participants.participant (project_id, id, participant_identifier, email) VALUES (%L, gen_random_uuid(), 'RAW-1', 'erin.erased@example.com')$$, pid('lc'))) AS raw_insert;
SELECT serr(format($$UPDATE participants.participant SET mobile_phone = '+15550109999' WHERE project_id = %L AND participant_identifier = 'C-3'$$, pid('lc'))) AS raw_update;
SELECT count(*) AS nobody_added FROM participants.participant WHERE project_id = pid('lc') AND (lower(email) = 'erin.erased@example.com' OR mobile_phone = '+15550109999');
-- allowReaddAfterErasure lets it in; forget_erasure removes the tombstone
SELECT participants.update_project(pid('lc'), settings => '{"allowReaddAfterErasure": true}') -> 'settings' -> 'allowReaddAfterErasure' AS readd;
SELECT participants.upsert_participant(pid('lc'), '{"participantIdentifier": "RE-1", "demographics": {"email": "erin.erased@example.com"}}') ->> 'actionTaken' AS readded;
SELECT participants.delete_participant(pid('lc'), 'RE-1') ->> 'actionTaken' AS deleted;
SELECT participants.update_project(pid('lc'), settings => '{"allowReaddAfterErasure": false}') -> 'settings' -> 'allowReaddAfterErasure' AS readd_off;
SELECT serr($$SELECT participants.upsert_participant(pid('lc'), '{"demographics": {"email": "erin.erased@example.com"}}')$$) AS refused_again;
SELECT participants.forget_erasure(pid('lc'), (r ->> 'erasureID')::uuid) -> 'removed' = r -> 'removed' AS forgotten FROM lcr1;
SELECT participants.upsert_participant(pid('lc'), '{"participantIdentifier": "RE-2", "demographics": {"email": "erin.erased@example.com", "mobilePhone": "+15550109999"}}') ->> 'actionTaken' AS added_after_forget;
SELECT l -> 'totalErasures' AS total, l -> 'erasures' -> 0 -> 'removed' -> 'participant' AS listed FROM participants.erasures(pid('lc')) l;
SELECT serr($$SELECT participants.forget_erasure(pid('lc'), gen_random_uuid())$$) AS no_erasure;
SELECT serr($$SELECT participants.erase_participant(pid('lc'), 'NOBODY')$$) AS no_participant;
SELECT serr($$SELECT participants.erase_participant(pid('lc'), 'C-1', 'name')$$) AS bad_by;
SELECT serr($$SELECT participants.erasures(pid('lc'), page_size => 1001)$$) AS bad_page;
SELECT serr(format($$UPDATE participants.erasure SET email_hmac = NULL WHERE project_id = %L$$, pid('lc'))) AS raw_forget;
SELECT serr(format($$INSERT INTO participants.project_secret VALUES (%L, '\x00')$$, pid('lc'))) AS raw_secret;
-- a receipt is kept: it goes only with its project
SELECT serr(format($$DELETE FROM participants.erasure WHERE project_id = %L$$, pid('lc'))) AS raw_delete_receipt;
-- an erasure removes the reports that name the person, not those whose
-- messages merely contain its identifier's letters
INSERT INTO t SELECT 'lc2', participants.create_project('Short names');
SELECT participants.upsert_participants(pid('lc2'), '[{"participantIdentifier": "V", "demographics": {"email": "v@example.com"}},
  {"participantIdentifier": "e", "demographics": {"email": "e@example.com"}}]') ->> 'totalAdded' AS added;
SELECT i -> 'counts' AS counts FROM participants.import_participants(pid('lc2'), E'participantIdentifier,email\nQ-1,invalid\nQ-2,v@example.com\n', '{"onError": "skip"}') AS i;
SELECT participants.erase_participant(pid('lc2'), 'V') -> 'removed' -> 'participant' AS erased_v;
SELECT participants.erase_participant(pid('lc2'), 'e') -> 'removed' -> 'participant' AS erased_e;
SELECT r.row_number, r.action, r.errors -> 0 ->> 'message' AS message FROM participants.import_row r WHERE r.project_id = pid('lc2') ORDER BY 1;
SELECT x ->> 'row' AS row, x ->> 'message' AS message FROM participants.import i, jsonb_array_elements(i.errors) x WHERE i.project_id = pid('lc2') ORDER BY 1;
-- a project with receipts can still be deleted, its receipts with it
BEGIN;
SET LOCAL citus.multi_shard_modify_mode TO 'sequential';
DELETE FROM participants.participant WHERE project_id = pid('lc2');
DELETE FROM participants.project WHERE id = pid('lc2');
SELECT count(*) AS receipts_left FROM participants.erasure WHERE project_id = pid('lc2');
ROLLBACK;

------------------------------------------------------------------------------
-- Retention
------------------------------------------------------------------------------
INSERT INTO t SELECT 'ret', participants.create_project('Retention');
SELECT participants.upsert_participants(pid('ret'), '[
  {"participantIdentifier": "R-1", "demographics": {"email": "lcr1@example.com"}},
  {"participantIdentifier": "R-2", "demographics": {"email": "r2@example.com"}},
  {"participantIdentifier": "R-3", "demographics": {"email": "r3@example.com"}}]') ->> 'totalAdded' AS added;
INSERT INTO t SELECT 'ret_study', (participants.create_study(pid('ret'), 'Kept history') ->> 'studyID')::uuid;
SELECT participants.add_study_participants(pid('ret'), pid('ret_study'), '["R-1"]') ->> 'added' AS in_study;
SELECT participants.set_participant_status(pid('ret'), pid('ret_study'), 'R-1', 'INVITE_SENT') ->> 'status' AS invited;
SELECT participants.set_participant_status(pid('ret'), pid('ret_study'), 'R-1', 'SCREENER_STARTED') ->> 'status' AS started;
SELECT participants.withdraw_participant(pid('ret'), 'R-3') ->> 'actionTaken' AS withdrawn_now;
CREATE TABLE lch1 AS SELECT participants.status_history(pid('ret'), pid('ret_study'), 'R-1') AS h;
SELECT jsonb_agg(x ->> 'status') AS history_before FROM lch1, jsonb_array_elements(h) x;
-- age what is there as a restore loads it: the events (and their dates),
-- a participant withdrawn long ago, old audit rows and delivery records
BEGIN;
SET LOCAL citus.propagate_set_commands = 'local';
SET LOCAL row_security = off;
CREATE TEMP TABLE old_events ON COMMIT DROP AS SELECT * FROM participants.event WHERE project_id = pid('ret');
DELETE FROM participants.event WHERE project_id = pid('ret');
INSERT INTO participants.event SELECT project_id, id, event_type, person_id, study_id, study_participant_id, completion_code, payload, created_date - interval '100 days' FROM old_events;
INSERT INTO participants.participant (project_id, id, participant_identifier, email, withdraw_date, inserted_date)
VALUES (pid('ret'), gen_random_uuid(), 'R-OLD', 'rold@example.com', now() - interval '40 days', now() - interval '400 days');
INSERT INTO participants.audit (project_id, id, audit_date, action, person_id)
VALUES (pid('ret'), gen_random_uuid(), now() - interval '800 days', 'update', NULL), (pid('ret'), gen_random_uuid(), now() - interval '10 days', 'update', NULL);
COMMIT;
-- a webhook still has to deliver the latest event: that one stays
INSERT INTO t SELECT 'ret_hook', (participants.create_webhook(pid('ret'), 'http://192.0.2.1/r') ->> 'webhookID')::uuid;
BEGIN;
SET LOCAL row_security = off;
UPDATE participants.webhook SET last_delivered_event_id = (SELECT max(id) - 1 FROM participants.event WHERE project_id = pid('ret')) WHERE project_id = pid('ret');
INSERT INTO participants.webhook_delivery (project_id, webhook_id, number, event_id, event_type, attempt, attempted_date, http_status, duration_ms)
VALUES (pid('ret'), pid('ret_hook'), 1, 1, 'participant.status_changed', 1, now() - interval '60 days', 200, 3),
       (pid('ret'), pid('ret_hook'), 2, 2, 'participant.status_changed', 1, now(), 200, 3);
COMMIT;
SELECT count(*) AS events_before FROM participants.event WHERE project_id = pid('ret');
-- no setting: nothing happens
SELECT participants.apply_retention(pid('ret')) AS without_setting;
SELECT participants.update_project(pid('ret'), settings => '{"retention": {"withdrawnDays": 30, "eventDays": 90, "deliveryDays": 30, "auditDays": 365}}') -> 'settings' -> 'retention' AS retention;
SELECT participants.apply_retention(pid('ret')) AS applied;
SELECT count(*) FILTER (WHERE e.created_date < now() - interval '90 days') AS old_events_left,
       bool_and(e.id > w.last_delivered_event_id) FILTER (WHERE e.created_date < now() - interval '90 days') AS each_undelivered,
       array_agg(e.event_type) FILTER (WHERE e.created_date > now() - interval '1 day') AS new_events
FROM participants.event e JOIN participants.webhook w ON w.project_id = e.project_id WHERE e.project_id = pid('ret');
SELECT participants.status_history(pid('ret'), pid('ret_study'), 'R-1') = h AS history_complete FROM lch1;
SELECT serr($$SELECT participants.get_participant(pid('ret'), 'R-OLD')$$) AS withdrawn_long_ago_erased,
       participants.get_participant(pid('ret'), 'R-3') ->> 'participantIdentifier' AS withdrawn_lately_kept;
SELECT reason FROM participants.erasure WHERE project_id = pid('ret');
SELECT count(*) AS deliveries_left FROM participants.webhook_delivery WHERE project_id = pid('ret');
SELECT count(*) FILTER (WHERE audit_date < now() - interval '365 days') AS old_audit_left, count(*) > 0 AS newer_audit_kept FROM participants.audit WHERE project_id = pid('ret');
SELECT participants.apply_retention(pid('ret')) AS again_nothing;
-- every project the caller may use
SELECT participants.apply_retention() ? 'participantsErased' AS all_projects;
SELECT serr($$SELECT participants.apply_retention(gen_random_uuid())$$) AS no_project;
SELECT serr(format($$INSERT INTO participants.status_archive VALUES (%L, gen_random_uuid(), gen_random_uuid(), 1, 'INVITE_SENT', NULL, 'x')$$, pid('ret'))) AS raw_archive;

------------------------------------------------------------------------------
-- The audit log
------------------------------------------------------------------------------
INSERT INTO t SELECT 'aud', participants.create_project('Audit');
CREATE FUNCTION audit_of(ident text) RETURNS TABLE (action text, keys text, reason text) LANGUAGE sql AS $$
	SELECT e ->> 'action', (SELECT string_agg(regexp_replace(k, '[0-9a-f-]{36}', '<uuid>'), ',' ORDER BY k) FROM jsonb_array_elements_text(e -> 'changedKeys') k), e ->> 'reason'
	FROM jsonb_array_elements(participants.audit_log(pid('aud'), ident, page_size => 100) -> 'entries') WITH ORDINALITY x(e, n)
	ORDER BY n DESC
$$;
SELECT participants.upsert_participant(pid('aud'), '{"participantIdentifier": "U-1", "demographics": {"email": "u1@example.com", "firstName": "Una"}, "customFields": {"Tier": "gold"}}') ->> 'actionTaken' AS added;
SELECT participants.upsert_participant(pid('aud'), '{"participantIdentifier": "U-1", "demographics": {"lastName": "Ux", "firstName": "Una"}, "customFields": {"Tier": "silver", "New": 1}}') ->> 'actionTaken' AS updated;
SELECT participants.upsert_participant(pid('aud'), '{"participantIdentifier": "U-1", "demographics": {"firstName": "Una"}}') ->> 'actionTaken' AS unchanged;
SELECT participants.enroll_participant(pid('aud'), 'U-1') ->> 'actionTaken' AS enrolled;
SELECT participants.set_opted_out(pid('aud'), 'U-1', true) ->> 'actionTaken' AS opted_out;
SELECT participants.set_opted_out(pid('aud'), 'U-1', false) ->> 'actionTaken' AS opted_in;
INSERT INTO t SELECT 'aud_static', (participants.create_segment(pid('aud'), 'By hand') ->> 'segmentID')::uuid;
INSERT INTO t SELECT 'aud_dynamic', (participants.create_segment(pid('aud'), 'Gold', filter => '{"custom_fields": {"Tier": "silver"}}') ->> 'segmentID')::uuid;
SELECT count(*) AS dynamic_members FROM participants.segment_membership WHERE project_id = pid('aud') AND segment_id = pid('aud_dynamic') AND remove_date IS NULL;
SELECT participants.add_segment_members(pid('aud'), pid('aud_static'), '["U-1"]') ->> 'added' AS member;
SELECT participants.remove_segment_members(pid('aud'), pid('aud_static'), '["U-1"]') ->> 'removed' AS removed;
SELECT participants.define_consent(pid('aud'), 'main', '{contact,data}') ->> 'version' AS consent;
SELECT participants.record_consent(pid('aud'), 'U-1', 'main') ->> 'name' AS granted;
SELECT participants.withdraw_consent(pid('aud'), 'U-1', 'main', '{data}') ->> 'name' AS withdrew;
INSERT INTO t SELECT 'aud_study', (participants.create_study(pid('aud'), 'Audited') ->> 'studyID')::uuid;
SELECT participants.add_study_participants(pid('aud'), pid('aud_study'), '["U-1"]') ->> 'added' AS in_study;
INSERT INTO t SELECT 'aud_study2', (participants.create_study(pid('aud'), 'Audited too') ->> 'studyID')::uuid;
SELECT participants.add_study_participants(pid('aud'), pid('aud_study2'), '["U-1"]') ->> 'added' AS in_study2;
SELECT participants.set_contact_rules(pid('aud'), '[{"maxContacts": 1, "windowDays": 30}]') IS NOT NULL AS rules;
SELECT participants.set_participant_status(pid('aud'), pid('aud_study2'), 'U-1', 'INVITE_SENT') ->> 'status' AS first_contact;
SELECT participants.set_participant_status(pid('aud'), pid('aud_study'), 'U-1', 'INVITE_SENT', override_reason => 'PI approved') ->> 'status' AS contact_overridden;
SELECT participants.update_project(pid('aud'), settings => '{"incentiveYearlyLimit": {"amount": 10, "currency": "USD"}}') IS NOT NULL AS limit;
SELECT participants.record_incentive(pid('aud'), 'U-1', pid('aud_study'), 50, 'USD', 'sent', override_reason => 'travel costs') ->> 'status' AS incentive_over_limit;
SELECT participants.withdraw_participant(pid('aud'), 'U-1') ->> 'actionTaken' AS withdrawn;
SELECT * FROM audit_of('U-1');
-- a raw UPDATE is audited too, in the name of the role that ran it
CREATE ROLE regress_auditor LOGIN;
SELECT participants.grant_access('regress_auditor', 'raw') IS NOT NULL AS granted_raw,
       participants.grant_access('regress_auditor', 'app') IS NOT NULL AS granted_app;
GRANT SELECT ON t TO regress_auditor;
SELECT participants.upsert_participant(pid('aud'), '{"participantIdentifier": "U-2", "demographics": {"email": "u2@example.com"}}') ->> 'actionTaken' AS added_u2;
INSERT INTO participants.project_access (project_id, role_name) VALUES (pid('aud'), 'regress_auditor');
SET ROLE regress_auditor;
UPDATE participants.participant SET city = 'Oslo' WHERE project_id = pid('aud') AND participant_identifier = 'U-2';
-- a PostgREST request: the JWT's sub claim
SELECT set_config('request.jwt.claims', '{"role": "regress_auditor", "sub": "user-42"}', false) IS NOT NULL AS claims;
SELECT participants.upsert_participant(pid('aud'), '{"participantIdentifier": "U-2", "demographics": {"state": "NO"}}') ->> 'actionTaken' AS via_api;
SELECT set_config('request.jwt.claims', '', false) IS NOT NULL AS no_claims;
SELECT e ->> 'action' AS action, e -> 'changedKeys' AS keys, e -> 'actor' AS actor
FROM jsonb_array_elements(participants.audit_log(pid('aud'), 'u2@example.com', by => 'email') -> 'entries') e;
RESET ROLE;
SELECT participants.delete_participant(pid('aud'), 'U-2') ->> 'actionTaken' AS deleted;
-- a deleted participant's rows, by its id
INSERT INTO t SELECT 'u2', person_id FROM participants.audit WHERE project_id = pid('aud') AND action = 'delete';
SELECT array_agg(e ->> 'action') AS deleted_u2 FROM jsonb_array_elements(participants.audit_log(pid('aud'), pid('u2')::text, by => 'id') -> 'entries') e;
-- the log: newest first, paged, from a date
SELECT l -> 'totalEntries' AS total, jsonb_array_length(l -> 'entries') AS page, l -> 'entries' -> 0 ->> 'action' AS newest,
       (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(l -> 'entries' -> 0) k) AS keys
FROM participants.audit_log(pid('aud'), page_size => 2) l;
SELECT participants.audit_log(pid('aud'), since => now() + interval '1 hour') -> 'totalEntries' AS none_since;
SELECT serr($$SELECT participants.audit_log(pid('aud'), 'NOBODY')$$) AS no_participant;
SELECT serr($$SELECT participants.audit_log(pid('aud'), page_number => -1)$$) AS bad_page;
-- append-only for every role, the owner and superusers included
SELECT serr(format($$UPDATE participants.audit SET reason = 'edited' WHERE project_id = %L$$, pid('aud'))) AS owner_update;
SELECT serr(format($$DELETE FROM participants.audit WHERE project_id = %L$$, pid('aud'))) AS owner_delete;
SELECT serr($$TRUNCATE participants.audit$$) AS owner_truncate;
SELECT serr(format($$INSERT INTO participants.audit (project_id, id, audit_date, action) VALUES (%L, gen_random_uuid(), now(), 'add')$$, pid('aud'))) AS forged;
SET ROLE regress_auditor;
SELECT serr(format($$DELETE FROM participants.audit WHERE project_id = %L$$, pid('aud'))) AS raw_writer_delete;
RESET ROLE;
DELETE FROM participants.project_access WHERE role_name = 'regress_auditor';
REVOKE SELECT ON t FROM regress_auditor;
DROP OWNED BY regress_auditor;
DROP ROLE regress_auditor;

------------------------------------------------------------------------------
-- Found by review
------------------------------------------------------------------------------
INSERT INTO t SELECT 'rv', participants.create_project('Review');
SELECT participants.upsert_participant(pid('rv'), '{"participantIdentifier": "Q-1", "demographics": {"email": "q1@example.com"}}') ->> 'actionTaken' AS added;
-- opt_out_people with a null opted_out opts no one out
SELECT serr($$SELECT participants.opt_out_people(pid('rv'), '["q1@example.com"]', NULL)$$) AS null_opted_out;
SELECT participants.get_opted_out(pid('rv'), 'Q-1') -> 'optedOut' AS still_in;
-- the audit log refuses changes with session_replication_role = replica too
BEGIN;
SET LOCAL session_replication_role = replica;
SELECT serr(format($$UPDATE participants.audit SET reason = 'x' WHERE project_id = %L$$, pid('rv'))) AS replica_update;
ROLLBACK;
BEGIN;
SET LOCAL session_replication_role = replica;
SELECT serr(format($$DELETE FROM participants.audit WHERE project_id = %L$$, pid('rv'))) AS replica_delete;
ROLLBACK;
-- a dry run does not claim its idempotency key; it returns an import that did
SELECT i ->> 'status' AS dry FROM participants.import_participants(pid('rv'), E'participantIdentifier\nK-1\n', '{"idempotencyKey": "nightly", "dryRun": true}') AS i;
SELECT i ->> 'status' AS real, i -> 'counts' ->> 'added' AS added FROM participants.import_participants(pid('rv'), E'participantIdentifier\nK-1\n', '{"idempotencyKey": "nightly"}') AS i;
SELECT i ->> 'status' AS dry_again FROM participants.import_participants(pid('rv'), E'participantIdentifier\nK-2\n', '{"idempotencyKey": "nightly", "dryRun": true}') AS i;
-- empty id and identifier cells select no one, even with emptyAsNull
SELECT i -> 'counts' AS counts FROM participants.import_participants(pid('rv'), E'id,participantIdentifier,email,firstName\n,,e1@example.com,\n', '{"emptyAsNull": true}') AS i;
-- an undeclared custom field named twice in two cases refuses the file
SELECT serr($$SELECT participants.import_participants(pid('rv'), E'customFields.zed,customFields.ZED\n1,2\n')$$) AS duplicate_field;
-- a JSON file with a byte order mark
SELECT i -> 'counts' AS counts FROM participants.import_participants(pid('rv'), E'\xEF\xBB\xBF[{"participantIdentifier": "J-9"}]') AS i;
-- a refusal that names no key says what it was about
SELECT i -> 'errors' -> 0 ->> 'message' AS message FROM participants.import_participants(pid('rv'), E'participantIdentifier,firstName\nQ-1,Z\n', '{"allowUpdate": false}') AS i;
-- a dry run names no participant it never wrote, even one a later row updated
CREATE TABLE rvd AS SELECT participants.import_participants(pid('rv'), E'participantIdentifier,email,firstName\nD-1,d1@example.com,a\nD-1,,b\nQ-1,,c\n', '{"dryRun": true}') AS i;
SELECT (x ->> 'row')::int AS row, x ->> 'actionTaken' AS action, x ->> 'personId' IS NOT NULL AS names_someone
FROM rvd, jsonb_array_elements(participants.import_rows(pid('rv'), (i ->> 'importID')::uuid, false) -> 'rows') x ORDER BY 1;
-- someone added again over a tombstone may send their email in another case
SELECT participants.erase_participant(pid('rv'), 'Q-1') -> 'removed' -> 'participant' AS erased;
SELECT participants.update_project(pid('rv'), settings => '{"allowReaddAfterErasure": true}') IS NOT NULL AS readd_on;
SELECT participants.upsert_participant(pid('rv'), '{"participantIdentifier": "Q-2", "demographics": {"email": "q1@example.com"}}') ->> 'actionTaken' AS readded;
SELECT participants.update_project(pid('rv'), settings => '{"allowReaddAfterErasure": null}') IS NOT NULL AS readd_off;
SELECT participants.upsert_participant(pid('rv'), '{"participantIdentifier": "Q-2", "demographics": {"email": "Q1@Example.com"}}') ->> 'actionTaken' AS same_email_other_case;
SELECT serr(format($$UPDATE participants.participant SET email = 'Q1@EXAMPLE.COM' WHERE project_id = %L AND participant_identifier = 'Q-2'$$, pid('rv'))) AS raw_same_email;
-- a number too long for a numeric field is that row's error, not a crash
SELECT participants.define_custom_field(pid('rv'), 'Score', 'number') IS NOT NULL AS score;
SELECT i -> 'counts' ->> 'failed' AS failed, i -> 'errors' -> 0 ->> 'key' AS key
FROM participants.import_participants(pid('rv'), E'participantIdentifier,customFields.Score\nN-1,' || repeat('9', 101) || E'\nN-2,1e999999\n', '{"onError": "skip"}') AS i;
-- lines that end with a lone CR
SELECT i -> 'counts' AS counts FROM participants.import_participants(pid('rv'), E'participantIdentifier,firstName\rCR-1,Ann\rCR-2,"Bo"\r\rCR-3,Cy\r') AS i;
SELECT array_agg(participant_identifier || '=' || first_name ORDER BY participant_identifier) AS lone_cr FROM participants.participant WHERE project_id = pid('rv') AND participant_identifier LIKE 'CR-%';
-- an INSERT that ON CONFLICT turns away is no add in the log
SELECT count(*) AS adds_before FROM participants.audit WHERE project_id = pid('rv') AND action = 'add';
INSERT INTO participants.participant (project_id, id, participant_identifier) VALUES (pid('rv'), gen_random_uuid(), 'CR-1')
ON CONFLICT DO NOTHING;
SELECT count(*) AS adds_after FROM participants.audit WHERE project_id = pid('rv') AND action = 'add';
-- secondaryIdentifier is audited under its own name
SELECT participants.upsert_participant(pid('rv'), '{"participantIdentifier": "CR-1", "secondaryIdentifier": "sec-1"}') ->> 'actionTaken' AS updated;
SELECT participants.audit_log(pid('rv'), 'CR-1') -> 'entries' -> 0 -> 'changedKeys' AS keys;
-- retention keeps opt-out events: get_opted_out's date stays right
SELECT participants.set_opted_out(pid('rv'), 'CR-2', true) ->> 'actionTaken' AS opted_out;
BEGIN;
SET LOCAL citus.propagate_set_commands = 'local';
SET LOCAL row_security = off;
CREATE TEMP TABLE rv_events ON COMMIT DROP AS SELECT * FROM participants.event WHERE project_id = pid('rv');
DELETE FROM participants.event WHERE project_id = pid('rv');
INSERT INTO participants.event SELECT project_id, id, event_type, person_id, study_id, study_participant_id, completion_code, payload, created_date - interval '10 days' FROM rv_events;
COMMIT;
SELECT participants.update_project(pid('rv'), settings => '{"retention": {"eventDays": 1}}') IS NOT NULL AS retention;
SELECT (participants.apply_retention(pid('rv')) ->> 'eventsDeleted')::int > 0 AS pruned;
SELECT array_agg(DISTINCT event_type) AS events_left FROM participants.event WHERE project_id = pid('rv');
SELECT (participants.get_opted_out(pid('rv'), 'CR-2') ->> 'updatedAt')::timestamptz > now() - interval '20 days' AS opt_out_date_kept;
-- an erased identifier that JSON escapes is found in the import's messages too
SELECT participants.upsert_participant(pid('rv'), '{"participantIdentifier": "Q\"7", "demographics": {"email": "q7@example.com"}}') ->> 'actionTaken' AS added_quoted;
SELECT i -> 'counts' ->> 'failed' AS failed FROM participants.import_participants(pid('rv'), E'participantIdentifier\n"Q""7"\n', '{"onError": "skip", "allowUpdate": false}') AS i;
SELECT count(*) AS reports_naming_it_before FROM participants.import_row r, jsonb_array_elements(r.errors) e WHERE r.project_id = pid('rv') AND e ->> 'message' LIKE '%"Q"7"%';
SELECT participants.erase_participant(pid('rv'), 'Q"7') -> 'removed' -> 'participant' AS erased_quoted;
SELECT count(*) AS reports_naming_it FROM participants.import_row r, jsonb_array_elements(r.errors) e WHERE r.project_id = pid('rv') AND e ->> 'message' LIKE '%"Q"7"%';
