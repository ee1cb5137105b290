-- tenant_limits: what one project may do to the table all projects share.
-- Sort indexes (CREATE INDEX / DROP INDEX on participant) are added and
-- dropped only by roles not confined to projects, through the function and
-- raw SQL alike, and at most participants.max_sortable_fields per project;
-- a participant holds at most participants.max_custom_fields custom fields.
INSERT INTO t SELECT 'lim', participants.create_project('Limits');
CREATE FUNCTION lim_sort_indexes() RETURNS bigint LANGUAGE sql STABLE AS $$
	SELECT count(*) FROM pg_indexes WHERE schemaname = 'participants' AND indexname LIKE 'participant_sort_%'
$$;
SELECT lim_sort_indexes() AS indexes_before;

CREATE ROLE regress_lim LOGIN;
SELECT participants.grant_access('regress_lim', 'app') ->> 'access' AS app_granted;
SELECT participants.grant_access('regress_lim', 'raw') ->> 'access' AS raw_granted;
GRANT SELECT ON t TO regress_lim;
INSERT INTO participants.project_access (project_id, role_name) VALUES (pid('lim'), 'regress_lim');
-- an operator's sortable field, for the confined role to try to drop
SELECT participants.define_custom_field(pid('lim'), 'Rank', 'integer', '{"sortable": true}') -> 'options' AS operator_sortable;
SELECT lim_sort_indexes() AS indexes_operator;

SET ROLE regress_lim;
-- a confined role defines fields, but cannot make one sortable or not ...
SELECT participants.define_custom_field(pid('lim'), 'Score', 'integer', '{"description": "plain"}') ->> 'name' AS confined_plain;
SELECT serr($$SELECT participants.define_custom_field(pid('lim'), 'Score', 'integer', '{"sortable": true}')$$) AS confined_sortable;
SELECT serr($$SELECT participants.define_custom_field(pid('lim'), 'Other', 'text', '{"sortable": true}')$$) AS confined_new_sortable;
SELECT serr($$SELECT participants.define_custom_field(pid('lim'), 'Rank', 'integer', '{"description": "no sortable key"}')$$) AS confined_unsortable;
SELECT participants.define_custom_field(pid('lim'), 'Rank', 'integer', '{"sortable": true, "description": "kept"}') -> 'options' AS confined_keeps_sortable;
SELECT serr($$SELECT participants.drop_custom_field(pid('lim'), 'Rank')$$) AS confined_drop_sortable;
SELECT participants.drop_custom_field(pid('lim'), 'Score') ->> 'name' AS confined_drop_plain;
-- ... nor through raw SQL
SELECT serr(format($$INSERT INTO participants.custom_field (project_id, name, type, options) VALUES (%L, 'RawSort', 'text', '{"sortable": true}')$$, pid('lim'))) AS raw_insert_sortable;
SELECT serr(format($$UPDATE participants.custom_field SET options = '{}' WHERE project_id = %L AND name = 'Rank'$$, pid('lim'))) AS raw_update_unsortable;
SELECT serr(format($$DELETE FROM participants.custom_field WHERE project_id = %L AND name = 'Rank'$$, pid('lim'))) AS raw_delete_sortable;
RESET ROLE;
SELECT lim_sort_indexes() AS indexes_unchanged;

-- at most participants.max_sortable_fields sortable fields per project (a
-- superuser setting), for operators too
SHOW participants.max_sortable_fields;
SET participants.max_sortable_fields = 2;
SELECT participants.define_custom_field(pid('lim'), 'Second', 'text', '{"sortable": true}') -> 'options' AS second_sortable;
SELECT serr($$SELECT participants.define_custom_field(pid('lim'), 'Third', 'date', '{"sortable": true}')$$) AS third_sortable;
SELECT participants.define_custom_field(pid('lim'), 'Second', 'text', '{}') -> 'options' AS second_unsortable;
SELECT participants.define_custom_field(pid('lim'), 'Third', 'date', '{"sortable": true}') -> 'options' AS third_after_room;
RESET participants.max_sortable_fields;
SET ROLE regress_lim;
SELECT serr($$SET participants.max_sortable_fields = 50$$) AS confined_raise_limit;
RESET ROLE;
SELECT lim_sort_indexes() AS indexes_two_fields;

-- at most participants.max_custom_fields custom fields per participant
SHOW participants.max_custom_fields;
SET participants.max_custom_fields = 3;
SELECT participants.upsert_participant(pid('lim'), '{"participantIdentifier": "L-1", "customFields": {"a": 1, "b": 2, "c": 3}}') ->> 'actionTaken' AS three_fields;
SELECT serr($$SELECT participants.upsert_participant(pid('lim'), '{"participantIdentifier": "L-1", "customFields": {"d": 4}}')$$) AS fourth_by_merge;
SELECT serr($$SELECT participants.upsert_participant(pid('lim'), '{"participantIdentifier": "L-2", "customFields": {"a": 1, "b": 2, "c": 3, "d": 4}}')$$) AS four_in_body;
SELECT serr($$SELECT participants.upsert_participants(pid('lim'), '[{"participantIdentifier": "L-3"}, {"participantIdentifier": "L-4", "customFields": {"a": 1, "b": 2, "c": 3, "d": 4}}]')$$) AS four_in_bulk;
SELECT participants.upsert_participant(pid('lim'), '{"participantIdentifier": "L-1", "customFields": {"a": null, "d": 4}}') ->> 'actionTaken' AS replace_one;
-- (raw SQL with the setting for one transaction, SET LOCAL, which a cluster
-- passes on to the workers where the triggers run: doc/scaling-out.md)
BEGIN;
SET LOCAL citus.propagate_set_commands = 'local';
SET LOCAL participants.max_custom_fields = 3;
SELECT serr(format($$UPDATE participants.participant SET custom_fields = custom_fields || '{"e": 5}' WHERE project_id = %L AND participant_identifier = 'L-1'$$, pid('lim'))) AS raw_fourth;
SELECT serr(format($$INSERT INTO participants.participant (project_id, id, participant_identifier, custom_fields) VALUES (%L, gen_random_uuid(), 'L-5', '{"a": 1, "b": 2, "c": 3, "d": 4}')$$, pid('lim'))) AS raw_insert_four;
COMMIT;
RESET participants.max_custom_fields;
-- the default limit stops 10,000 keys long before they cost a merge of 10,000 x 10,000
SELECT serr(format($$SELECT participants.upsert_participant(%L, %L)$$, pid('lim'),
	jsonb_build_object('participantIdentifier', 'L-6', 'customFields', (SELECT jsonb_object_agg('k' || i, i) FROM generate_series(1, 10000) i)))) AS ten_thousand_keys;
SELECT count(*) AS limited_participants FROM participants.participant WHERE project_id = pid('lim');

-- an operator drops the sortable fields, and their indexes go
SELECT participants.drop_custom_field(pid('lim'), 'Rank') ->> 'name' AS dropped, participants.drop_custom_field(pid('lim'), 'Third') ->> 'name' AS dropped;
SELECT lim_sort_indexes() AS indexes_after_drop;
DELETE FROM participants.project_access WHERE role_name = 'regress_lim';
DROP OWNED BY regress_lim;
DROP ROLE regress_lim;
