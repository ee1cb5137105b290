-- confinement: a role confined to some projects gets 42501 for any other
-- project from every function, and reads and writes no other project's rows
-- by raw SQL or the views; JWT claims (PostgREST) confine the same way.
INSERT INTO t SELECT 'conf_a', participants.create_project('Confined A');
INSERT INTO t SELECT 'conf_b', participants.create_project('Confined B');
DO $$
DECLARE
	n text;
	seg uuid;
	st uuid;
	hook uuid;
	inc uuid;
BEGIN
	FOREACH n IN ARRAY ARRAY['conf_a', 'conf_b'] LOOP
		PERFORM participants.upsert_participant(pid(n), '{"participantIdentifier": "P-1", "demographics": {"email": "p1@example.com"}}');
		PERFORM participants.define_custom_field(pid(n), 'Score', 'integer');
		seg := (participants.create_segment(pid(n), 'Group') ->> 'segmentID')::uuid;
		PERFORM participants.add_segment_members(pid(n), seg, '["P-1"]');
		st := (participants.create_study(pid(n), 'Study') ->> 'studyID')::uuid;
		PERFORM participants.add_study_participants(pid(n), st, '["P-1"]');
		-- a webhook to a reserved address (TEST-NET-1): refused, never sent
		hook := (participants.create_webhook(pid(n), 'http://192.0.2.1/hooks') ->> 'webhookID')::uuid;
		PERFORM participants.define_consent(pid(n), 'main', '{contact}');
		PERFORM participants.record_consent(pid(n), 'P-1', 'main');
		inc := (participants.record_incentive(pid(n), 'P-1', st, 10, 'USD', 'pending') ->> 'incentiveID')::uuid;
		INSERT INTO t VALUES (n || '_seg', seg), (n || '_study', st), (n || '_hook', hook), (n || '_inc', inc);
	END LOOP;
END $$;

-- every API function with a project, as format() templates:
-- %1$s project, %2$s segment, %3$s study, %4$s webhook, %5$s incentive
CREATE TABLE calls (n int PRIMARY KEY, fn text, sql text);
INSERT INTO calls VALUES
 (1, 'upsert_participant', $$SELECT participants.upsert_participant('%1$s', '{"participantIdentifier": "P-2", "demographics": {"email": "p2@example.com"}}')$$),
 (2, 'upsert_participants', $$SELECT participants.upsert_participants('%1$s', '[{"participantIdentifier": "P-3"}]')$$),
 (3, 'get_participant', $$SELECT participants.get_participant('%1$s', 'P-1')$$),
 (4, 'enroll_participant', $$SELECT participants.enroll_participant('%1$s', 'P-2')$$),
 (5, 'withdraw_participant', $$SELECT participants.withdraw_participant('%1$s', 'P-3')$$),
 (6, 'set_opted_out', $$SELECT participants.set_opted_out('%1$s', 'P-2', true)$$),
 (7, 'define_custom_field', $$SELECT participants.define_custom_field('%1$s', 'Note', 'text')$$),
 (8, 'custom_fields', $$SELECT participants.custom_fields('%1$s')$$),
 (9, 'drop_custom_field', $$SELECT participants.drop_custom_field('%1$s', 'Note')$$),
 (10, 'query_participants', $$SELECT participants.query_participants('%1$s', query => 'p1')$$),
 (11, 'create_segment', $$SELECT participants.create_segment('%1$s', 'Group 2', filter => '{"enrolled": true}')$$),
 (12, 'update_segment', $$SELECT participants.update_segment('%1$s', '%2$s', description => 'd')$$),
 (13, 'get_segment', $$SELECT participants.get_segment('%1$s', '%2$s')$$),
 (14, 'list_segments', $$SELECT participants.list_segments('%1$s')$$),
 (15, 'add_segment_members', $$SELECT participants.add_segment_members('%1$s', '%2$s', '["P-2"]')$$),
 (16, 'remove_segment_members', $$SELECT participants.remove_segment_members('%1$s', '%2$s', '["P-2"]')$$),
 (17, 'segment_history', $$SELECT participants.segment_history('%1$s', '%2$s')$$),
 (18, 'participant_segments', $$SELECT participants.participant_segments('%1$s', 'P-1')$$),
 (19, 'create_study', $$SELECT participants.create_study('%1$s', 'Study 2')$$),
 (20, 'update_study', $$SELECT participants.update_study('%1$s', '%3$s', name => 'Study 1')$$),
 (21, 'get_study', $$SELECT participants.get_study('%1$s', '%3$s')$$),
 (22, 'add_study_participants', $$SELECT participants.add_study_participants('%1$s', '%3$s', '["P-2"]')$$),
 (23, 'set_participant_status', $$SELECT participants.set_participant_status('%1$s', '%3$s', 'P-1', 'INVITE_SENT')$$),
 (24, 'study_participants', $$SELECT participants.study_participants('%1$s', '%3$s')$$),
 (25, 'status_history', $$SELECT participants.status_history('%1$s', '%3$s', 'P-1')$$),
 (26, 'eligible_participants', $$SELECT participants.eligible_participants('%1$s', '%3$s')$$),
 (27, 'events_since', $$SELECT participants.events_since('%1$s')$$),
 (28, 'delete_segment', $$SELECT participants.delete_segment('%1$s', '%2$s')$$),
 (29, 'delete_participant', $$SELECT participants.delete_participant('%1$s', 'P-3')$$),
 (30, 'event_channel', $$SELECT participants.event_channel('%1$s') IS NOT NULL$$),
 -- internal: what a coordinator forwards to a worker (only the owner may call it)
 (31, 'forwarded_call', $$SELECT participants.forwarded_call('%1$s', 'participants.get_participant(uuid,text,boolean)', 'postgres', ARRAY['%1$s', 'P-1', 'false'], ARRAY['', '', '', ''])$$),
 (32, 'create_webhook', $$SELECT participants.create_webhook('%1$s', 'http://192.0.2.1/other') ? 'secret'$$),
 (33, 'update_webhook', $$SELECT participants.update_webhook('%1$s', '%4$s', description => 'd')$$),
 (34, 'list_webhooks', $$SELECT participants.list_webhooks('%1$s')$$),
 (35, 'rotate_webhook_secret', $$SELECT participants.rotate_webhook_secret('%1$s', '%4$s') ? 'secret'$$),
 (36, 'webhook_deliveries', $$SELECT participants.webhook_deliveries('%1$s', '%4$s')$$),
 (37, 'replay_webhook', $$SELECT participants.replay_webhook('%1$s', '%4$s', 0)$$),
 (38, 'delete_webhook', $$SELECT participants.delete_webhook('%1$s', '%4$s')$$),
 (39, 'get_project', $$SELECT participants.get_project('%1$s')$$),
 (40, 'update_project', $$SELECT participants.update_project('%1$s', settings => '{"linkIdentifiers": true}')$$),
 (41, 'list_studies', $$SELECT participants.list_studies('%1$s')$$),
 (42, 'define_consent', $$SELECT participants.define_consent('%1$s', 'main', '{contact,data}')$$),
 (43, 'record_consent', $$SELECT participants.record_consent('%1$s', 'P-1', 'main')$$),
 (44, 'withdraw_consent', $$SELECT participants.withdraw_consent('%1$s', 'P-1', 'main', '{data}')$$),
 (45, 'participant_consents', $$SELECT participants.participant_consents('%1$s', 'P-1')$$),
 (46, 'set_contact_rules', $$SELECT participants.set_contact_rules('%1$s', '[{"maxContacts": 5, "windowDays": 30}]')$$),
 (47, 'contact_rules', $$SELECT participants.contact_rules('%1$s')$$),
 (48, 'contact_history', $$SELECT participants.contact_history('%1$s', 'p1@example.com', 'email')$$),
 (49, 'record_incentive', $$SELECT participants.record_incentive('%1$s', 'P-1', '%3$s', 5, 'EUR', external_id => 'x-1')$$),
 (50, 'update_incentive', $$SELECT participants.update_incentive('%1$s', '%5$s', 'sent')$$),
 (51, 'list_incentives', $$SELECT participants.list_incentives('%1$s')$$),
 (52, 'incentive_totals', $$SELECT participants.incentive_totals('%1$s', 2026)$$),
 (53, 'get_opted_out', $$SELECT participants.get_opted_out('%1$s', 'p1@example.com', 'email')$$),
 (54, 'opt_out_people', $$SELECT participants.opt_out_people('%1$s', '["p1@example.com", "nobody@example.com"]', false)$$),
 (55, 'delete_people', $$SELECT participants.delete_people('%1$s', '["nobody@example.com"]')$$),
 (56, 'set_segment_members', $$SELECT participants.set_segment_members('%1$s', (participants.create_segment('%1$s', 'Set') ->> 'segmentID')::uuid, '["P-1"]')$$),
 (57, 'import_participants', $$SELECT participants.import_participants('%1$s', E'email\ncsv@example.com\n') ->> 'status'$$),
 (58, 'import_participants', $$SELECT participants.import_participants(x.j) ->> 'status' FROM (SELECT pg_catalog.set_config('request.headers', '{"x-project-id": "%1$s"}', true), '[{"email": "csv2@example.com"}]'::jsonb) x(s, j)$$),
 (59, 'get_import', $$SELECT participants.get_import('%1$s', '00000000-0000-4000-8000-000000000000')$$),
 (60, 'import_rows', $$SELECT participants.import_rows('%1$s', '00000000-0000-4000-8000-000000000000')$$),
 (61, 'erase_participant', $$SELECT participants.erase_participant('%1$s', 'csv@example.com', 'email') -> 'removed'$$),
 (62, 'forget_erasure', $$SELECT participants.forget_erasure('%1$s', '00000000-0000-4000-8000-000000000000')$$),
 (63, 'erasures', $$SELECT participants.erasures('%1$s') -> 'totalErasures'$$),
 (64, 'apply_retention', $$SELECT participants.apply_retention('%1$s')$$),
 (65, 'audit_log', $$SELECT participants.audit_log('%1$s', page_size => 1) -> 'pageSize'$$);
GRANT SELECT ON calls TO PUBLIC;
-- every API function that takes a project is in the matrix
SELECT p.proname FROM pg_proc p
WHERE p.pronamespace = 'participants'::regnamespace AND p.proargnames[1] = 'project_id'
  AND p.proname NOT IN (SELECT fn FROM calls) ORDER BY 1;

-- a row count per table and project: what "nothing changed" compares
CREATE FUNCTION project_rows(p uuid) RETURNS text LANGUAGE plpgsql AS $$ BEGIN RETURN (
	SELECT concat_ws(' ',
		(SELECT count(*) FROM participants.participant WHERE project_id = p),
		(SELECT count(*) FROM participants.custom_field WHERE project_id = p),
		(SELECT count(*) FROM participants.segment WHERE project_id = p),
		(SELECT count(*) FROM participants.segment_membership WHERE project_id = p),
		(SELECT count(*) FROM participants.study WHERE project_id = p),
		(SELECT count(*) FROM participants.study_participant WHERE project_id = p),
		(SELECT count(*) FROM participants.event WHERE project_id = p),
		(SELECT string_agg(url || ':' || coalesce(description, ''), ',' ORDER BY url) FROM participants.webhook WHERE project_id = p),
		(SELECT count(*) FROM participants.webhook_secret s WHERE s.project_id = p),
		(SELECT string_agg(name || ':' || coalesce(description, ''), ',' ORDER BY name) FROM participants.segment WHERE project_id = p),
		(SELECT string_agg(name, ',' ORDER BY name) FROM participants.study WHERE project_id = p),
		(SELECT count(*) FROM participants.consent WHERE project_id = p),
		(SELECT string_agg(name || ':' || array_to_string(scopes, '+'), ',' ORDER BY name) FROM participants.participant_consent WHERE project_id = p),
		(SELECT count(*) FROM participants.consent_history WHERE project_id = p),
		(SELECT count(*) FROM participants.contact_rule WHERE project_id = p),
		(SELECT count(*) FROM participants.contact WHERE project_id = p),
		(SELECT string_agg(status || ':' || amount, ',' ORDER BY amount) FROM participants.incentive WHERE project_id = p)));
END $$;
SELECT project_rows(pid('conf_b')) AS b_before \gset
CREATE TABLE b_secret AS SELECT secret FROM participants.webhook_secret WHERE project_id = pid('conf_b');

-- a role confined to project A through a group role it belongs to
CREATE ROLE regress_clinic_group;
CREATE ROLE regress_clinic LOGIN IN ROLE regress_clinic_group;
GRANT USAGE ON SCHEMA participants TO regress_clinic_group;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA participants TO regress_clinic_group;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA participants TO regress_clinic_group;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA participants TO regress_clinic_group;
GRANT SELECT ON t TO regress_clinic_group;
INSERT INTO participants.project_access (project_id, role_name) VALUES (pid('conf_a'), 'regress_clinic_group');

SET ROLE regress_clinic;
SELECT participants.allowed_projects() = ARRAY[pid('conf_a')] AS allowed_a;
-- project B: 42501 from every function, and nothing written
SELECT c.fn, serr(format(c.sql, pid('conf_b'), pid('conf_b_seg'), pid('conf_b_study'), pid('conf_b_hook'), pid('conf_b_inc'))) AS project_b
FROM calls c ORDER BY c.n;
SELECT serr($$SELECT participants.create_project('Clinic project')$$) AS create_project;
-- list_projects: project A only
SELECT array_agg(p ->> 'name') AS listed_projects FROM jsonb_array_elements(participants.list_projects()) p;
-- project A: every function works
SELECT c.fn, err(format(c.sql, pid('conf_a'), pid('conf_a_seg'), pid('conf_a_study'), pid('conf_a_hook'), pid('conf_a_inc'))) AS project_a
FROM calls c ORDER BY c.n;
RESET ROLE;
SELECT project_rows(pid('conf_b')) = :'b_before' AS b_unchanged, project_rows(pid('conf_a')) AS a_after;
SELECT (SELECT secret FROM b_secret) = (SELECT secret FROM participants.webhook_secret WHERE project_id = pid('conf_b')) AS b_secret_unchanged;

-- raw SQL: only project A's rows, in every table and view
SET ROLE regress_clinic;
SELECT 'project' AS rel, count(*) AS visible, count(*) FILTER (WHERE id <> pid('conf_a')) AS other FROM participants.project
UNION ALL SELECT 'participant', count(*), count(*) FILTER (WHERE project_id <> pid('conf_a')) FROM participants.participant
UNION ALL SELECT 'custom_field', count(*), count(*) FILTER (WHERE project_id <> pid('conf_a')) FROM participants.custom_field
UNION ALL SELECT 'segment', count(*), count(*) FILTER (WHERE project_id <> pid('conf_a')) FROM participants.segment
UNION ALL SELECT 'segment_membership', count(*), count(*) FILTER (WHERE project_id <> pid('conf_a')) FROM participants.segment_membership
UNION ALL SELECT 'study', count(*), count(*) FILTER (WHERE project_id <> pid('conf_a')) FROM participants.study
UNION ALL SELECT 'study_segment', count(*), count(*) FILTER (WHERE project_id <> pid('conf_a')) FROM participants.study_segment
UNION ALL SELECT 'completion_code', count(*), count(*) FILTER (WHERE project_id <> pid('conf_a')) FROM participants.completion_code
UNION ALL SELECT 'completion_action', count(*), count(*) FILTER (WHERE project_id <> pid('conf_a')) FROM participants.completion_action
UNION ALL SELECT 'status_transition', count(*) / 69, count(*) FILTER (WHERE project_id <> pid('conf_a')) FROM participants.status_transition
UNION ALL SELECT 'study_participant', count(*), count(*) FILTER (WHERE project_id <> pid('conf_a')) FROM participants.study_participant
UNION ALL SELECT 'event', count(*), count(*) FILTER (WHERE project_id <> pid('conf_a')) FROM participants.event
UNION ALL SELECT 'project_access', count(*), count(*) FILTER (WHERE project_id <> pid('conf_a')) FROM participants.project_access
UNION ALL SELECT 'webhook', count(*), count(*) FILTER (WHERE project_id <> pid('conf_a')) FROM participants.webhook
UNION ALL SELECT 'webhook_secret', count(*), count(*) FILTER (WHERE project_id <> pid('conf_a')) FROM participants.webhook_secret
UNION ALL SELECT 'consent', count(*), count(*) FILTER (WHERE project_id <> pid('conf_a')) FROM participants.consent
UNION ALL SELECT 'participant_consent', count(*), count(*) FILTER (WHERE project_id <> pid('conf_a')) FROM participants.participant_consent
UNION ALL SELECT 'consent_history', count(*), count(*) FILTER (WHERE project_id <> pid('conf_a')) FROM participants.consent_history
UNION ALL SELECT 'contact_rule', count(*), count(*) FILTER (WHERE project_id <> pid('conf_a')) FROM participants.contact_rule
UNION ALL SELECT 'contact', count(*), count(*) FILTER (WHERE project_id <> pid('conf_a')) FROM participants.contact
UNION ALL SELECT 'incentive', count(*), count(*) FILTER (WHERE project_id <> pid('conf_a')) FROM participants.incentive
UNION ALL SELECT 'participant_directory', count(*), count(*) FILTER (WHERE project_id <> pid('conf_a')) FROM participants.participant_directory
UNION ALL SELECT 'segment_summary', count(*), count(*) FILTER (WHERE project_id <> pid('conf_a')) FROM participants.segment_summary
UNION ALL SELECT 'study_funnel', count(*), count(*) FILTER (WHERE project_id <> pid('conf_a')) FROM participants.study_funnel
UNION ALL SELECT 'study_summary', count(*), count(*) FILTER (WHERE project_id <> pid('conf_a')) FROM participants.study_summary;
SELECT count(*) FILTER (WHERE project_id <> pid('conf_a')) AS other_deliveries FROM participants.webhook_delivery;
-- no secret, even with SELECT granted on the table
SELECT count(*) AS secrets_visible FROM participants.webhook_secret;
-- writes into project B are refused or touch nothing
SELECT serr(format($$INSERT INTO participants.participant (project_id, id, participant_identifier) VALUES ('%s', gen_random_uuid(), 'RAW-1')$$, pid('conf_b'))) AS raw_insert_b;
WITH u AS (UPDATE participants.participant SET first_name = 'X' WHERE project_id = pid('conf_b') RETURNING 1) SELECT count(*) AS raw_update_b FROM u;
WITH d AS (DELETE FROM participants.event WHERE project_id = pid('conf_b') RETURNING 1) SELECT count(*) AS raw_delete_b FROM d;
SELECT serr(format($$UPDATE participants.participant SET project_id = '%s' WHERE project_id = '%s'$$, pid('conf_b'), pid('conf_a'))) AS raw_move_to_b;
-- nor can the role grant itself project B
SELECT serr(format($$INSERT INTO participants.project_access (project_id, role_name) VALUES ('%s', 'regress_clinic')$$, pid('conf_b'))) AS grant_self_b;
-- a raw write in project A still runs the triggers (opt-out cascade, events)
UPDATE participants.participant SET opted_out = true WHERE project_id = pid('conf_a') AND participant_identifier = 'P-1';
SELECT status FROM participants.study_participant WHERE project_id = pid('conf_a') ORDER BY 1;
RESET ROLE;
SELECT project_rows(pid('conf_b')) = :'b_before' AS b_unchanged;

-- a grant takes effect at once, and a rolled-back grant is forgotten
BEGIN;
INSERT INTO participants.project_access (project_id, role_name) VALUES (pid('conf_b'), 'regress_clinic');
SET LOCAL ROLE regress_clinic;
SELECT participants.get_participant(pid('conf_b'), 'P-1') ->> 'participantIdentifier' AS granted_b;
ROLLBACK;
SET ROLE regress_clinic;
SELECT serr($$SELECT participants.get_participant(pid('conf_b'), 'P-1')$$) AS after_rollback;
RESET ROLE;

-- JWT claims, as PostgREST sets them: a role with EXECUTE and nothing else
CREATE ROLE regress_web LOGIN;
GRANT USAGE ON SCHEMA participants TO regress_web;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA participants TO regress_web;
GRANT SELECT ON t TO regress_web;
CREATE FUNCTION claims(VARIADIC projects uuid[]) RETURNS text LANGUAGE sql AS $$
	SELECT set_config('request.jwt.claims', json_build_object('role', current_user, 'project_ids', projects)::text, false)
$$;
-- the claim counts only where a superuser named it (ALTER ROLE for PostgREST's login role)
SET ROLE regress_web;
SELECT claims(pid('conf_a')) IS NOT NULL AS claims_set;
SELECT serr($$SELECT participants.get_participant(pid('conf_a'), 'P-1')$$) AS claim_not_trusted;
SELECT err($$SET participants.jwt_project_claim = 'project_ids'$$) AS set_claim_setting;
RESET ROLE;
SET participants.jwt_project_claim = 'project_ids';
SET ROLE regress_web;
SELECT participants.allowed_projects() = ARRAY[pid('conf_a')] AS allowed_a;
SELECT c.fn, serr(format(c.sql, pid('conf_b'), pid('conf_b_seg'), pid('conf_b_study'), pid('conf_b_hook'), pid('conf_b_inc'))) AS token_a_project_b
FROM calls c ORDER BY c.n;
SELECT participants.get_participant(pid('conf_a'), 'P-1') ->> 'participantIdentifier' AS token_a_project_a;
SELECT claims(pid('conf_a'), pid('conf_b')) IS NOT NULL AS claims_set;
SELECT participants.get_participant(pid('conf_b'), 'P-1') ->> 'participantIdentifier' AS token_ab_project_b;
-- malformed claims grant nothing
SELECT set_config('request.jwt.claims', json_build_object('project_ids', pid('conf_b'))::text, false) IS NOT NULL AS not_an_array;
SELECT serr($$SELECT participants.get_participant(pid('conf_b'), 'P-1')$$) AS claim_not_array;
SELECT set_config('request.jwt.claims', '{"project_ids": ["CONF-B", 42, null]}', false) IS NOT NULL AS not_ids;
SELECT serr($$SELECT participants.get_participant(pid('conf_b'), 'P-1')$$) AS claim_not_ids;
SELECT set_config('request.jwt.claims', '', false) IS NOT NULL AS no_claims;
SELECT serr($$SELECT participants.get_participant(pid('conf_a'), 'P-1')$$) AS no_token;
SELECT serr($$SELECT count(*) FROM participants.participant$$) AS web_table;
RESET ROLE;
-- in its own session (no superuser set the claim setting), a confined role
-- cannot use claims to widen its projects
RESET participants.jwt_project_claim;
SET ROLE regress_clinic;
SELECT claims(pid('conf_b')) IS NOT NULL AS claims_set;
SELECT participants.allowed_projects() = ARRAY[pid('conf_a')] AS clinic_allowed_a_only;
SELECT serr($$SELECT participants.get_participant(pid('conf_b'), 'P-1')$$) AS clinic_claim_untrusted;
RESET ROLE;
SELECT set_config('request.jwt.claims', '', false) IS NOT NULL AS reset_claims;

DELETE FROM participants.project_access WHERE role_name LIKE 'regress_%';
DROP OWNED BY regress_clinic_group, regress_clinic, regress_web;
DROP ROLE regress_clinic, regress_clinic_group, regress_web;
DROP FUNCTION claims(uuid[]);
