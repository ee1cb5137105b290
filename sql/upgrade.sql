-- upgrade: from the first release (0.1.0) to the current one,
-- ALTER EXTENSION participants UPDATE keeps every row and gives the same
-- surface (functions, tables, columns, indexes, constraints, triggers,
-- policies, views, comments, privileges, dump registration) as a fresh install.
CREATE FUNCTION surface() RETURNS TABLE (kind text, item text) LANGUAGE sql AS $$
	SELECT 'function', p.oid::regprocedure::text || ' -> ' || pg_get_function_result(p.oid)
		|| ' ' || p.provolatile::text || p.proparallel::text || p.prosecdef::text || p.proisstrict::text
		|| ' ' || coalesce(p.proconfig::text, '') || ' ' || coalesce(p.proacl::text, '')
		|| ' ' || md5(coalesce(obj_description(p.oid, 'pg_proc'), ''))
	FROM pg_proc p WHERE p.pronamespace = 'participants'::regnamespace
	UNION ALL
	SELECT 'relation', c.relname || ' ' || c.relkind::text || ' ' || c.relrowsecurity::text || c.relforcerowsecurity::text
		|| ' ' || coalesce(c.reloptions::text, '') || ' ' || coalesce(c.relacl::text, '')
		|| ' ' || md5(coalesce(obj_description(c.oid, 'pg_class'), ''))
		|| ' ' || CASE WHEN c.relkind = 'v' THEN md5(pg_get_viewdef(c.oid)) ELSE '' END
	FROM pg_class c WHERE c.relnamespace = 'participants'::regnamespace
	UNION ALL
	SELECT 'column', c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
		|| ' ' || a.attnotnull::text || ' ' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
	FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
	LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
	WHERE c.relnamespace = 'participants'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
	  AND c.relkind IN ('r', 'v')
	UNION ALL
	SELECT 'index', pg_get_indexdef(i.indexrelid)
	FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid WHERE c.relnamespace = 'participants'::regnamespace
	UNION ALL
	SELECT 'constraint', conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
	FROM pg_constraint WHERE connamespace = 'participants'::regnamespace
	UNION ALL
	SELECT 'trigger', pg_get_triggerdef(t.oid)
	FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
	WHERE c.relnamespace = 'participants'::regnamespace AND NOT t.tgisinternal
	UNION ALL
	SELECT 'policy', polrelid::regclass::text || ' ' || polname || ' ' || polcmd::text || ' '
		|| coalesce(pg_get_expr(polqual, polrelid), '') || ' ' || coalesce(pg_get_expr(polwithcheck, polrelid), '')
	FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid WHERE c.relnamespace = 'participants'::regnamespace
	UNION ALL
	SELECT 'dump', x::regclass::text FROM pg_extension e, unnest(e.extconfig) x WHERE e.extname = 'participants'
	UNION ALL
	SELECT 'schema', md5(coalesce(obj_description('participants'::regnamespace, 'pg_namespace'), ''))
		|| ' ' || coalesce(nspacl::text, '') FROM pg_namespace WHERE nspname = 'participants'
$$;

-- the surface of a fresh install of the current version
SELECT extversion AS fresh FROM pg_extension WHERE extname = 'participants';
CREATE TABLE fresh_surface AS SELECT * FROM surface();

-- install the first release and give it data through its API
DROP EXTENSION participants CASCADE;
CREATE EXTENSION participants VERSION '0.1.0';
SELECT extversion AS installed FROM pg_extension WHERE extname = 'participants';
-- (the comparison below can fail: 0.1.0's surface differs from the current one)
SELECT count(*) AS differences_before_update FROM (
	(SELECT * FROM fresh_surface EXCEPT SELECT * FROM surface())
	UNION ALL (SELECT * FROM surface() EXCEPT SELECT * FROM fresh_surface)) d;
CREATE TABLE up AS SELECT participants.create_project('Upgrade', '{"participantIdentifierPrefix": "U-"}') AS p;
SELECT participants.define_custom_field((SELECT p FROM up), 'Score', 'integer') IS NOT NULL AS defined;
SELECT participants.upsert_participants((SELECT p FROM up), '[
  {"participantIdentifier": "U-1", "demographics": {"email": "u1@example.com", "lastName": "One"}, "customFields": {"Score": 3}},
  {"demographics": {"email": "u2@example.com", "lastName": "Two"}},
  {"participantIdentifier": "U-3", "demographics": {"email": "u3@example.com"}}
]') ->> 'totalAdded' AS added;
SELECT participants.enroll_participant((SELECT p FROM up), 'U-1') ->> 'actionTaken' AS enrolled;
ALTER TABLE up ADD seg uuid, ADD dyn uuid, ADD study uuid;
UPDATE up SET seg = (participants.create_segment(p, 'Group') ->> 'segmentID')::uuid;
UPDATE up SET dyn = (participants.create_segment(p, 'Enrolled', filter => '{"enrolled": true}') ->> 'segmentID')::uuid;
SELECT participants.add_segment_members(p, seg, '["U-1", "U-3"]') IS NOT NULL AS members FROM up;
SELECT participants.remove_segment_members(p, seg, '["U-3"]') IS NOT NULL AS removed FROM up;
UPDATE up SET study = (participants.create_study(p, 'Trial', allowlist => ARRAY[seg]) ->> 'studyID')::uuid;
SELECT participants.add_study_participants(p, study, '["U-1"]') ->> 'added' AS in_study FROM up;
SELECT participants.set_participant_status(p, study, 'U-1', 'INVITE_SENT') ->> 'status' AS status FROM up;

-- everything the API says about the data, before the update
CREATE FUNCTION api_snapshot() RETURNS jsonb LANGUAGE sql AS $$
	SELECT jsonb_build_object(
		'fields', participants.custom_fields(p),
		'query', participants.query_participants(p, page_size => 100),
		'segments', participants.list_segments(p),
		'history', participants.segment_history(p, seg),
		'dynamic', participants.query_participants(p, segment_id => dyn),
		'study', participants.get_study(p, study),
		'study_participants', participants.study_participants(p, study),
		'status_history', participants.status_history(p, study, 'U-1'),
		'events', participants.events_since(p))
	FROM up
$$;
-- until the update, the 0.1.0 functions on the current library behave as in
-- 0.1.0: nobody is confined, and they run with the caller's rights (their
-- declarations do not pin search_path, so they never run as the owner)
CREATE ROLE regress_window_app LOGIN;
CREATE ROLE regress_window_exec LOGIN;
GRANT USAGE ON SCHEMA participants TO regress_window_app, regress_window_exec;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA participants TO regress_window_app, regress_window_exec;
GRANT SELECT ON ALL TABLES IN SCHEMA participants TO regress_window_app;
GRANT SELECT ON up TO regress_window_app, regress_window_exec;
SET ROLE regress_window_app;
SELECT participants.get_participant((SELECT p FROM up), 'U-1') ->> 'participantIdentifier' AS window_app;
SET ROLE regress_window_exec;
SELECT err($$SELECT participants.get_participant((SELECT p FROM up), 'U-1')$$) AS window_exec_only;
RESET ROLE;
DROP OWNED BY regress_window_app, regress_window_exec;
DROP ROLE regress_window_app, regress_window_exec;

-- the second release, with data of its own: numbers drawn from its shared
-- sequences by its functions on the current library
ALTER EXTENSION participants UPDATE TO '0.2.0';
SELECT extversion AS step FROM pg_extension WHERE extname = 'participants';
SELECT participants.upsert_participant(p, '{"demographics": {"email": "u5@example.com"}}') -> 'result' ->> 'participantIdentifier' AS generated_in_0_2 FROM up;
SELECT participants.set_participant_status(p, study, 'U-1', 'SCREENER_STARTED') ->> 'status' AS status_in_0_2 FROM up;
CREATE TABLE seq_before AS
SELECT (SELECT last_value FROM participants.participant_identifier_seq) AS identifiers,
       (SELECT last_value FROM participants.event_id_seq) AS events,
       (SELECT last_value FROM participants.segment_membership_id_seq) AS memberships,
       (SELECT max(id) FROM participants.event) AS max_event,
       (SELECT max(id) FROM participants.segment_membership) AS max_membership;
CREATE TABLE before_update AS SELECT api_snapshot() AS s;
CREATE TABLE rows_before AS
SELECT 'participant' AS t, count(*) AS n FROM participants.participant
UNION ALL SELECT 'segment_membership', count(*) FROM participants.segment_membership
UNION ALL SELECT 'study_participant', count(*) FROM participants.study_participant
UNION ALL SELECT 'event', count(*) FROM participants.event
UNION ALL SELECT 'status_transition', count(*) FROM participants.status_transition;

ALTER EXTENSION participants UPDATE;
SELECT extversion AS updated FROM pg_extension WHERE extname = 'participants';

-- the same surface as a fresh install: nothing missing, nothing extra
SELECT 'missing after update' AS problem, * FROM (SELECT * FROM fresh_surface EXCEPT SELECT * FROM surface()) m
UNION ALL
SELECT 'extra after update', * FROM (SELECT * FROM surface() EXCEPT SELECT * FROM fresh_surface) x
ORDER BY 1, 2, 3;
SELECT count(*) > 200 AS surface_compared FROM fresh_surface;

-- the same data, read through the API
SELECT api_snapshot() = (SELECT s FROM before_update) AS same_api_output;
SELECT t, n, (SELECT count(*) FROM participants.participant) AS participants_now FROM rows_before WHERE t = 'participant';
SELECT b.t, b.n = CASE b.t
		WHEN 'participant' THEN (SELECT count(*) FROM participants.participant)
		WHEN 'segment_membership' THEN (SELECT count(*) FROM participants.segment_membership)
		WHEN 'study_participant' THEN (SELECT count(*) FROM participants.study_participant)
		WHEN 'event' THEN (SELECT count(*) FROM participants.event)
		WHEN 'status_transition' THEN (SELECT count(*) FROM participants.status_transition) END AS same_rows
FROM rows_before b ORDER BY 1;
-- each project's counters start after the shared sequences' last numbers, and
-- its channel is made; the sequences are gone
SELECT c.last_participant_number = b.identifiers AS identifiers_continue, c.last_event_id = b.events AS events_continue,
       c.last_membership_id = b.memberships AS memberships_continue, c.event_channel ~ '^participants_events_[0-9a-f]{32}$' AS channel
FROM participants.project_counter c, up, seq_before b WHERE c.project_id = up.p;
SELECT count(*) AS shared_sequences FROM pg_sequences WHERE schemaname = 'participants';
-- and it keeps working: numbering continues (nothing handed out twice), rules hold, confinement applies
SELECT participants.upsert_participant(p, '{"demographics": {"email": "u4@example.com"}}') -> 'result' ->> 'participantIdentifier' AS generated FROM up;
SELECT participants.set_participant_status(p, study, 'U-1', 'SCREENER_COMPLETED') ->> 'status' AS status FROM up;
SELECT (e ->> 'eventID')::bigint > b.max_event AS new_event_after_old
FROM up, seq_before b, jsonb_array_elements(participants.events_since(up.p)) e
ORDER BY (e ->> 'eventID')::bigint DESC LIMIT 1;
SELECT participants.event_channel(p) ~ '^participants_events_[0-9a-f]{32}$' AS event_channel FROM up;
SELECT participants.add_segment_members(p, seg, '["U-3"]') ->> 'added' AS readded FROM up;
SELECT (SELECT max(m.id) FROM participants.segment_membership m WHERE m.project_id = up.p) > b.max_membership AS new_episode_after_old
FROM up, seq_before b;
SELECT err(format($$SELECT participants.set_participant_status(%L, %L, 'U-1', 'NOT_STARTED')$$, p, study)) AS refused FROM up;
CREATE ROLE regress_upgrade LOGIN;
GRANT USAGE ON SCHEMA participants TO regress_upgrade;
GRANT EXECUTE ON FUNCTION participants.get_participant TO regress_upgrade;
GRANT SELECT ON up TO regress_upgrade;
SET ROLE regress_upgrade;
SELECT serr($$SELECT participants.get_participant((SELECT p FROM up), 'U-1')$$) AS confined;
RESET ROLE;
DROP OWNED BY regress_upgrade;
DROP ROLE regress_upgrade;
-- 0.5.0's governance on the updated data: the study made in 0.1.0 takes a
-- required consent; a contact without it, and one past a contact rule, are
-- refused; with the consent and an override it goes through
SELECT participants.define_consent(p, 'main', '{contact}') -> 'version' AS consent_version FROM up;
SELECT participants.update_study(p, study, required_consents => '[{"name": "main", "scopes": ["contact"]}]') -> 'requiredConsents' AS required FROM up;
SELECT participants.add_study_participants(p, study, '["U-3"]') -> 'skipped' -> 0 ->> 'reason' AS skipped FROM up;
SELECT participants.record_consent(p, 'u3@example.com', 'main', by => 'email') -> 'scopes' AS granted FROM up;
SELECT participants.add_study_participants(p, study, '["U-3"]') ->> 'added' AS added FROM up;
SELECT participants.set_contact_rules(p, '[{"maxContacts": 1, "windowDays": 7}]') IS NOT NULL AS rules_set FROM up;
SELECT participants.set_participant_status(p, study, 'U-3', 'INVITE_SENT') ->> 'status' AS first_contact FROM up;
SELECT participants.create_study(p, 'After update') ->> 'studyID' AS study2 FROM up \gset
SELECT participants.add_study_participants(p, :'study2', '["U-3"]') ->> 'added' AS added2 FROM up;
SELECT serr(format($$SELECT participants.set_participant_status(%L, %L, 'U-3', 'INVITE_SENT')$$, p, :'study2')) ~ '^PT409: contact rule' AS second_refused FROM up;
SELECT participants.set_participant_status(p, :'study2', 'U-3', 'INVITE_SENT', override_reason => 'after the update') ? 'override' AS overridden FROM up;
-- 0.6.0's lifecycle on the updated data: changes are audited, a file
-- imports, a person from 0.1.0 is erased and stays out, and retention
-- prunes the old events while the 0.1.0 study's status history stays whole
SELECT participants.upsert_participant(p, '{"participantIdentifier": "U-3", "demographics": {"firstName": "Three"}}') ->> 'actionTaken' AS changed FROM up;
SELECT participants.audit_log(p, 'U-3') -> 'entries' -> 0 -> 'changedKeys' AS audited FROM up;
SELECT participants.import_participants(p, E'participantIdentifier,email\nU-6,u6@example.com\n') -> 'counts' AS imported FROM up;
SELECT participants.erase_participant(p, 'u2@example.com', 'email') -> 'removed' -> 'participant' AS erased FROM up;
SELECT serr(format($$SELECT participants.upsert_participant(%L, '{"demographics": {"email": "u2@example.com"}}')$$, p)) AS tombstone FROM up;
CREATE TABLE history_before AS SELECT participants.status_history(p, study, 'U-1') AS h FROM up;
BEGIN;
SET LOCAL row_security = off;
CREATE TEMP TABLE aged ON COMMIT DROP AS SELECT * FROM participants.event WHERE project_id = (SELECT p FROM up);
DELETE FROM participants.event WHERE project_id = (SELECT p FROM up);
INSERT INTO participants.event SELECT project_id, id, event_type, person_id, study_id, study_participant_id, completion_code, payload, created_date - interval '30 days' FROM aged;
COMMIT;
SELECT participants.update_project(p, settings => '{"retention": {"eventDays": 7}}') -> 'settings' -> 'retention' AS retention FROM up;
SELECT (participants.apply_retention(p) ->> 'eventsDeleted')::int > 0 AS pruned FROM up;
SELECT participants.status_history(p, study, 'U-1') = h AS history_kept, jsonb_array_length(h) AS statuses FROM up, history_before;
