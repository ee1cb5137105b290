-- pgTAP: the extension's surface: functions, volatility, keys, dump registration, privileges
BEGIN;
SELECT plan(52);

SELECT has_schema('participants');
SELECT has_table('participants', 'project', 'project table');
SELECT has_table('participants', 'participant', 'participant table');
SELECT has_table('participants', 'custom_field', 'custom_field table');
SELECT has_view('participants', 'participant_directory', 'directory view');

SELECT has_function('participants', 'create_project', ARRAY['text', 'jsonb']);
SELECT has_function('participants', 'upsert_participant', ARRAY['uuid', 'jsonb']);
SELECT has_function('participants', 'upsert_participants', ARRAY['uuid', 'jsonb', 'boolean']);
SELECT has_function('participants', 'get_participant', ARRAY['uuid', 'text', 'boolean']);
SELECT has_function('participants', 'enroll_participant', ARRAY['uuid', 'text', 'boolean']);
SELECT has_function('participants', 'withdraw_participant', ARRAY['uuid', 'text', 'boolean']);
SELECT has_function('participants', 'delete_participant', ARRAY['uuid', 'text', 'boolean']);
SELECT has_function('participants', 'define_custom_field', ARRAY['uuid', 'text', 'text', 'jsonb']);
SELECT has_function('participants', 'custom_fields', ARRAY['uuid']);
SELECT has_function('participants', 'drop_custom_field', ARRAY['uuid', 'text']);

SELECT volatility_is('participants', 'get_participant', ARRAY['uuid', 'text', 'boolean'], 'stable');
SELECT volatility_is('participants', 'custom_fields', ARRAY['uuid'], 'stable');
SELECT volatility_is('participants', 'upsert_participant', ARRAY['uuid', 'jsonb'], 'volatile');
SELECT volatility_is('participants', 'upsert_participants', ARRAY['uuid', 'jsonb', 'boolean'], 'volatile');
SELECT volatility_is('participants', 'delete_participant', ARRAY['uuid', 'text', 'boolean'], 'volatile');

SELECT col_is_pk('participants', 'participant', ARRAY['project_id', 'id'], 'participant key starts with project_id');
SELECT col_is_pk('participants', 'custom_field', ARRAY['project_id', 'name'], 'custom_field key starts with project_id');
SELECT is_indexed('participants', 'participant', ARRAY['project_id', 'participant_identifier'], 'identifier index');
SELECT index_is_unique('participants', 'participant', 'participant_email_key', 'email unique per project');
SELECT index_is_unique('participants', 'participant', 'participant_mobile_phone_key', 'phone unique per project');
SELECT trigger_is('participants', 'participant', 'participant_guard', 'participants', 'participant_guard', 'guard trigger in C');
SELECT has_function('participants', 'query_participants', ARRAY['uuid', 'text', 'uuid', 'jsonb', 'jsonb', 'text', 'boolean', 'integer', 'integer']);
SELECT volatility_is('participants', 'query_participants', ARRAY['uuid', 'text', 'uuid', 'jsonb', 'jsonb', 'text', 'boolean', 'integer', 'integer'], 'stable');
SELECT index_is_type('participants', 'participant', 'participant_search_idx', 'gin', 'trigram search index is GIN');
SELECT index_is_type('participants', 'participant', 'participant_custom_fields_idx', 'gin', 'custom fields index is GIN');
SELECT is_indexed('participants', 'participant', ARRAY['project_id', 'inserted_date', 'id'], 'default order index');
SELECT trigger_is('participants', 'custom_field', 'custom_field_indexes', 'participants', 'custom_field_indexes', 'sortable field indexes kept by a trigger');
SELECT set_eq(
	$$SELECT r.extname::text FROM pg_depend d JOIN pg_extension e ON e.oid = d.objid JOIN pg_extension r ON r.oid = d.refobjid
	  WHERE e.extname = 'participants' AND d.classid = 'pg_extension'::regclass AND d.refclassid = 'pg_extension'::regclass$$,
	ARRAY['pg_trgm', 'btree_gin'],
	'requires pg_trgm and btree_gin');

SELECT set_eq(
	$$SELECT unnest(extconfig)::regclass::text FROM pg_extension WHERE extname = 'participants'$$,
	ARRAY['participants.project', 'participants.participant', 'participants.custom_field', 'participants.project_counter',
	      'participants.segment', 'participants.segment_membership',
	      'participants.study', 'participants.study_segment', 'participants.completion_code', 'participants.completion_action',
	      'participants.status_transition', 'participants.study_participant', 'participants.event',
	      'participants.project_access', 'participants.webhook', 'participants.webhook_secret', 'participants.webhook_delivery',
	      'participants.consent', 'participants.participant_consent', 'participants.consent_history', 'participants.study_consent',
	      'participants.contact_rule', 'participants.contact', 'participants.incentive',
	      'participants.import', 'participants.import_row', 'participants.project_secret', 'participants.erasure',
	      'participants.status_archive', 'participants.audit'],
	'every user-data table and sequence is registered for pg_dump');

SELECT is_empty(
	$$SELECT p.oid::regprocedure::text FROM pg_proc p WHERE p.pronamespace = 'participants'::regnamespace
	  AND has_function_privilege('public', p.oid, 'EXECUTE')$$,
	'PUBLIC may execute no function');
SELECT is_empty(
	$$SELECT c.oid::regclass::text FROM pg_class c WHERE c.relnamespace = 'participants'::regnamespace
	  AND c.relkind IN ('r', 'v', 'S') AND EXISTS (SELECT 1 FROM aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a WHERE a.grantee = 0)$$,
	'PUBLIC holds no privilege on any table, view or sequence');
SELECT is_empty(
	$$SELECT p.proname FROM pg_proc p WHERE p.pronamespace = 'participants'::regnamespace
	  AND p.prokind = 'f' AND p.prorettype <> 'trigger'::regtype AND obj_description(p.oid, 'pg_proc') IS NULL$$,
	'every function has a comment');
SELECT is_empty(
	$$SELECT p.proname FROM pg_proc p WHERE p.pronamespace = 'participants'::regnamespace AND p.prosecdef
	  AND NOT coalesce(p.proconfig::text[] @> ARRAY['search_path=pg_catalog, pg_temp'], false)$$,
	'every SECURITY DEFINER function pins search_path');


-- confinement: every table has row-level security with the project policy
SELECT policies_are('participants', 'project', ARRAY['project_confinement'], 'project: the project confinement policy');
SELECT policies_are('participants', 'participant', ARRAY['project_confinement'], 'participant: the project confinement policy');
SELECT policies_are('participants', 'custom_field', ARRAY['project_confinement'], 'custom_field: the project confinement policy');
SELECT policies_are('participants', 'segment', ARRAY['project_confinement'], 'segment: the project confinement policy');
SELECT policies_are('participants', 'segment_membership', ARRAY['project_confinement'], 'segment_membership: the project confinement policy');
SELECT policies_are('participants', 'study', ARRAY['project_confinement'], 'study: the project confinement policy');
SELECT policies_are('participants', 'study_segment', ARRAY['project_confinement'], 'study_segment: the project confinement policy');
SELECT policies_are('participants', 'completion_code', ARRAY['project_confinement'], 'completion_code: the project confinement policy');
SELECT policies_are('participants', 'completion_action', ARRAY['project_confinement'], 'completion_action: the project confinement policy');
SELECT policies_are('participants', 'status_transition', ARRAY['project_confinement'], 'status_transition: the project confinement policy');
SELECT policies_are('participants', 'study_participant', ARRAY['project_confinement'], 'study_participant: the project confinement policy');
SELECT policies_are('participants', 'event', ARRAY['project_confinement'], 'event: the project confinement policy');
SELECT policies_are('participants', 'project_access', ARRAY['project_confinement'], 'project_access: the project confinement policy');
SELECT is((SELECT count(*)::int FROM pg_class WHERE relnamespace = 'participants'::regnamespace AND relkind = 'r' AND NOT relrowsecurity), 0, 'row-level security is enabled on every table');

SELECT * FROM finish();
ROLLBACK;
