-- test/dump/snapshot.sql: one deterministic JSON document of everything a
-- database of test/dump.sh holds, read through the API (as a superuser):
-- per project (by name) its custom fields, every participant (search pages,
-- get_participant, participant_segments), segments (list, get, history, a
-- search by segment), studies (get, participants, eligible, each status
-- history), events_since, webhooks, consents, contacts, incentives, imports
-- (get_import, import_rows), erasures and the audit log, and the views; then,
-- outside the API, the lifecycle tables row by row (import, import_row,
-- erasure, status_archive, audit; project_secret by the md5 of each key),
-- every table's row count and content hash, the sequences' state, the
-- sortable fields' indexes and the grants. Nothing is stripped: ids and
-- timestamps are copied by a dump, so a restored database must print the
-- same document.
\set ON_ERROR_STOP 1
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = 'postgres';
SET extra_float_digits = 1;

WITH projects AS (
    SELECT p.id, p.name FROM participants.project p
),
per_project AS (
    SELECT p.name, jsonb_build_object(
        'id', p.id,
        'name', p.name,
        'custom_fields', participants.custom_fields(p.id),
        'query_participants', participants.query_participants(p.id, page_size => 1000),
        'query_participants_desc', participants.query_participants(p.id, sort_by => 'ParticipantIdentifier',
                                                                   sort_ascending => false, page_size => 1000),
        'participants', (
            SELECT jsonb_agg(jsonb_build_object(
                       'get_participant', participants.get_participant(p.id, x ->> 'participantIdentifier'),
                       'get_participant_by_id', participants.get_participant(p.id, x ->> 'id', query_by_id => true),
                       'participant_segments', participants.participant_segments(p.id, x ->> 'participantIdentifier'))
                   ORDER BY x ->> 'participantIdentifier')
            FROM jsonb_array_elements(participants.query_participants(p.id, page_size => 1000) -> 'participants') x),
        'list_segments', participants.list_segments(p.id, page_size => 1000),
        'segments', (
            SELECT jsonb_agg(jsonb_build_object(
                       'get_segment', participants.get_segment(p.id, (g ->> 'segmentID')::uuid),
                       'segment_history', participants.segment_history(p.id, (g ->> 'segmentID')::uuid),
                       'members', participants.query_participants(p.id, segment_id => (g ->> 'segmentID')::uuid,
                                                                  page_size => 1000))
                   ORDER BY g ->> 'segmentName')
            FROM jsonb_array_elements(participants.list_segments(p.id, page_size => 1000) -> 'segments') g),
        'studies', (
            SELECT jsonb_agg(jsonb_build_object(
                       'get_study', participants.get_study(p.id, s.id),
                       'study_participants', participants.study_participants(p.id, s.id, page_size => 1000),
                       'eligible_participants', participants.eligible_participants(p.id, s.id, page_size => 1000),
                       'status_history', (
                           SELECT jsonb_object_agg(sp ->> 'participantIdentifier',
                                                   participants.status_history(p.id, s.id, sp ->> 'participantIdentifier'))
                           FROM jsonb_array_elements(participants.study_participants(p.id, s.id, page_size => 1000)
                                                     -> 'participants') sp))
                   ORDER BY s.name, s.id)
            FROM participants.study s WHERE s.project_id = p.id),
        'events_since', participants.events_since(p.id, 0, 1000),
        'webhooks', participants.list_webhooks(p.id),
        'contact_rules', participants.contact_rules(p.id),
        'consents_and_contacts', (
            SELECT jsonb_object_agg(x ->> 'participantIdentifier', jsonb_build_object(
                       'participant_consents', participants.participant_consents(p.id, x ->> 'participantIdentifier'),
                       'contacts', participants.contact_history(p.id, x ->> 'participantIdentifier') -> 'contacts'))
            FROM jsonb_array_elements(participants.query_participants(p.id, page_size => 1000) -> 'participants') x),
        'incentives', participants.list_incentives(p.id, page_size => 1000),
        'incentive_totals', participants.incentive_totals(p.id, extract(year FROM now() AT TIME ZONE 'UTC')::int),
        'imports', (
            SELECT jsonb_agg(jsonb_build_object(
                       'get_import', participants.get_import(p.id, i.id),
                       'import_rows', participants.import_rows(p.id, i.id, failed_only => false, page_size => 1000))
                   ORDER BY i.created_date, i.id)
            FROM participants.import i WHERE i.project_id = p.id),
        'erasures', participants.erasures(p.id, page_size => 1000),
        'audit_log', participants.audit_log(p.id, page_size => 1000)) AS doc
    FROM projects p
),
tables AS (
    SELECT c.relname,
           (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM participants.%I', c.relname),
                                                false, true, '')))[1]::text::bigint AS n,
           (xpath('/row/h/text()', query_to_xml(format(
               'SELECT md5(coalesce(string_agg(t::text, E''\n'' ORDER BY t::text), '''')) AS h FROM participants.%I t',
               c.relname), false, true, '')))[1]::text AS h
    FROM pg_class c
    WHERE c.relnamespace = 'participants'::regnamespace AND c.relkind = 'r'
),
views AS (
    SELECT c.relname,
           (xpath('/row/j/text()', query_to_xml(format(
               'SELECT coalesce(jsonb_agg(to_jsonb(v) ORDER BY to_jsonb(v)::text), ''[]'') AS j FROM participants.%I v',
               c.relname), false, true, '')))[1]::text::jsonb AS j
    FROM pg_class c
    WHERE c.relnamespace = 'participants'::regnamespace AND c.relkind = 'v'
)
SELECT jsonb_pretty(jsonb_build_object(
    'projects', (SELECT jsonb_agg(doc ORDER BY name) FROM per_project),
    'views', (SELECT jsonb_object_agg(relname, j) FROM views),
    'tables', (SELECT jsonb_object_agg(relname, jsonb_build_object('rows', n, 'md5', h)) FROM tables),
    'project_access', (SELECT jsonb_agg(to_jsonb(a) ORDER BY a.project_id, a.role_name) FROM participants.project_access a),
    -- the lifecycle tables row by row (the erasure keys by their md5 only)
    'lifecycle', jsonb_build_object(
        'import', (SELECT jsonb_agg(to_jsonb(t) ORDER BY t.project_id, t.created_date, t.id) FROM participants.import t),
        'import_row', (SELECT jsonb_agg(to_jsonb(t) ORDER BY t.project_id, t.import_id, t.row_number) FROM participants.import_row t),
        'erasure', (SELECT jsonb_agg(to_jsonb(t) ORDER BY t.project_id, t.erased_date, t.id) FROM participants.erasure t),
        'project_secret', (SELECT jsonb_agg(jsonb_build_object('project_id', t.project_id, 'erasure_key_md5', md5(t.erasure_key))
                                            ORDER BY t.project_id) FROM participants.project_secret t),
        'status_archive', (SELECT jsonb_agg(to_jsonb(t) ORDER BY t.project_id, t.participant_id, t.study_id, t.event_id)
                           FROM participants.status_archive t),
        'audit', (SELECT jsonb_agg(to_jsonb(t) ORDER BY t.project_id, t.audit_date, t.id) FROM participants.audit t)),
    'sequences', (SELECT jsonb_object_agg(sequencename, jsonb_build_object('last_value', last_value))
                  FROM pg_sequences WHERE schemaname = 'participants'),
    'participant_indexes', (SELECT jsonb_agg(indexname || ': ' || regexp_replace(indexdef, '^.* USING ', '') ORDER BY indexname)
                            FROM pg_indexes WHERE schemaname = 'participants' AND tablename = 'participant'),
    'grants', (SELECT jsonb_agg(format('%s %s %s', p.proname, a.grantee::regrole, a.privilege_type)
                         ORDER BY p.proname, a.grantee::regrole::text, a.privilege_type)
               FROM pg_proc p, aclexplode(p.proacl) a
               WHERE p.pronamespace = 'participants'::regnamespace
                 AND a.grantee <> 0 AND a.grantee <> p.proowner)
)) AS snapshot;
