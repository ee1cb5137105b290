-- pgTAP: the status graph, walked edge by edge. Every transition of the
-- default graph succeeds through set_participant_status and through a raw
-- UPDATE, each writing one event with its prior status; every other pair of
-- the 22 statuses (doc/studies.md) is refused with PT409; unknown statuses
-- are 22023. Study participants are placed at a status by the restore path
-- (an INSERT with last_event_id in a restore session, row_security off as
-- pg_dump's output sets it: it writes no event).
BEGIN;

CREATE TEMP TABLE spec_status (name text PRIMARY KEY, n int);
INSERT INTO spec_status SELECT s, n FROM unnest(ARRAY[
	'NOT_STARTED', 'INVITE_SENT', 'NOT_ELIGIBLE', 'SCREENER_STARTED', 'SCREENER_COMPLETED',
	'SCREENER_QUALIFIED', 'SCREENER_DISQUALIFIED', 'INTERVIEW_INVITE_SENT', 'INTERVIEW_SCHEDULED',
	'INTERVIEW_COMPLETED', 'INTERVIEW_CANCELLED', 'INTERVIEW_NO_SHOWED', 'SURVEY_STARTED',
	'SURVEY_COMPLETED', 'INCENTIVE_SENT', 'INCENTIVE_CLAIMED', 'UNMODERATED_TEST_INVITE_SENT',
	'UNMODERATED_TEST_STARTED', 'UNMODERATED_TEST_COMPLETED', 'COMPLETED_STUDY', 'CANCELLED',
	'OPTED_OUT']) WITH ORDINALITY AS x(s, n);
CREATE TEMP TABLE edge AS
	SELECT row_number() OVER (ORDER BY f.n, t.n)::int AS n, d.from_status, d.to_status
	FROM participants.default_status_transitions() d
	JOIN spec_status f ON f.name = d.from_status JOIN spec_status t ON t.name = d.to_status;
CREATE TEMP TABLE forbidden AS
	SELECT row_number() OVER (ORDER BY f.n, t.n)::int AS n, f.name AS from_status, t.name AS to_status
	FROM spec_status f CROSS JOIN spec_status t
	WHERE f.name <> t.name
	  AND NOT EXISTS (SELECT 1 FROM edge e WHERE e.from_status = f.name AND e.to_status = t.name);

SELECT plan(15 + 2 * (SELECT count(*)::int FROM edge) + (SELECT count(*)::int FROM forbidden)
	+ (SELECT count(*)::int FROM forbidden WHERE n % 10 = 0));

-- the graph itself
SELECT is((SELECT count(*)::int FROM participants.default_status_transitions()), (SELECT count(*)::int FROM edge),
	'every transition of the default graph joins two documented statuses');
SELECT is((SELECT count(*)::int FROM edge WHERE from_status IN ('COMPLETED_STUDY', 'CANCELLED', 'OPTED_OUT')), 0,
	'no transition leaves COMPLETED_STUDY, CANCELLED or OPTED_OUT');
SELECT set_eq($$SELECT name, x FROM spec_status, unnest(ARRAY['CANCELLED', 'OPTED_OUT']) x
               WHERE name NOT IN ('COMPLETED_STUDY', 'CANCELLED', 'OPTED_OUT')$$,
              $$SELECT from_status, to_status FROM edge WHERE to_status IN ('CANCELLED', 'OPTED_OUT')$$,
              'CANCELLED and OPTED_OUT are reachable from every non-final status, and only from those');
SELECT set_has($$SELECT from_status, to_status FROM edge$$,
	$$VALUES ('INVITE_SENT', 'SCREENER_STARTED'), ('SCREENER_STARTED', 'SCREENER_COMPLETED'),
	         ('SCREENER_COMPLETED', 'SCREENER_QUALIFIED'), ('SCREENER_QUALIFIED', 'INTERVIEW_INVITE_SENT'),
	         ('SCREENER_QUALIFIED', 'SURVEY_STARTED'), ('SCREENER_QUALIFIED', 'UNMODERATED_TEST_INVITE_SENT'),
	         ('INTERVIEW_INVITE_SENT', 'INTERVIEW_SCHEDULED'), ('INTERVIEW_SCHEDULED', 'INTERVIEW_COMPLETED'),
	         ('SURVEY_STARTED', 'SURVEY_COMPLETED'), ('UNMODERATED_TEST_INVITE_SENT', 'UNMODERATED_TEST_STARTED'),
	         ('UNMODERATED_TEST_STARTED', 'UNMODERATED_TEST_COMPLETED'),
	         ('INTERVIEW_COMPLETED', 'INCENTIVE_SENT'), ('SURVEY_COMPLETED', 'INCENTIVE_SENT'),
	         ('UNMODERATED_TEST_COMPLETED', 'INCENTIVE_SENT'), ('INCENTIVE_SENT', 'INCENTIVE_CLAIMED'),
	         ('INTERVIEW_COMPLETED', 'COMPLETED_STUDY'), ('SURVEY_COMPLETED', 'COMPLETED_STUDY'),
	         ('UNMODERATED_TEST_COMPLETED', 'COMPLETED_STUDY'), ('INCENTIVE_SENT', 'COMPLETED_STUDY'),
	         ('INCENTIVE_CLAIMED', 'COMPLETED_STUDY')$$,
	'each path in its natural order, incentives after completed paths, COMPLETED_STUDY after them');

-- a project, three studies, a participant per edge and per status
SELECT participants.create_project('pgtap statuses') AS p \gset
SELECT set_eq(format('SELECT from_status, to_status FROM participants.status_transition WHERE project_id = %L', :'p'),
	'SELECT from_status, to_status FROM edge', 'a new project holds the default graph');
SELECT is((participants.upsert_participants(:'p', (SELECT jsonb_agg(jsonb_build_object('participantIdentifier', 'E' || n)) FROM edge)))->>'totalAdded',
	(SELECT count(*)::text FROM edge), 'a participant per edge');
SELECT is((participants.upsert_participants(:'p', (SELECT jsonb_agg(jsonb_build_object('participantIdentifier', 'F' || n)) FROM spec_status)))->>'totalAdded',
	'22', 'a participant per status');
SELECT participants.create_study(:'p', 'function path')->>'studyID' AS s1 \gset
SELECT participants.create_study(:'p', 'raw path')->>'studyID' AS s2 \gset
SELECT participants.create_study(:'p', 'forbidden')->>'studyID' AS s3 \gset
SELECT coalesce(max(id), 0) AS before FROM participants.event WHERE project_id = :'p' \gset
-- (SET LOCAL, which a cluster passes on to its workers: doc/scaling-out.md)
SET LOCAL citus.propagate_set_commands = 'local';
SET LOCAL row_security = off;
INSERT INTO participants.study_participant (project_id, id, study_id, participant_id, status, last_event_id)
SELECT :'p', gen_random_uuid(), s.study, p.id, e.from_status, 0
FROM edge e JOIN participants.participant p ON p.project_id = :'p' AND p.participant_identifier = 'E' || e.n,
     (VALUES (:'s1'::uuid), (:'s2'::uuid)) s(study);
INSERT INTO participants.study_participant (project_id, id, study_id, participant_id, status, last_event_id)
SELECT :'p', gen_random_uuid(), :'s3', p.id, s.name, 0
FROM spec_status s JOIN participants.participant p ON p.project_id = :'p' AND p.participant_identifier = 'F' || s.n;
RESET row_security;
-- (counts are read by results_eq, which runs its query on its own: on a
-- cluster a read of a distributed table inside is() would carry is() to a worker)
SELECT results_eq(format('SELECT count(*)::int FROM participants.event WHERE project_id = %L AND id > %s', :'p', :before), ARRAY[0],
	'rows placed with their last_event_id (the restore path) write no event');

-- every allowed edge, through the function
SELECT lives_ok(format('SELECT participants.set_participant_status(%L, %L, %L, %L)', :'p', :'s1', 'E' || n, to_status),
	format('set_participant_status %s -> %s', from_status, to_status))
FROM edge ORDER BY n;
-- ... and through a raw UPDATE
SELECT lives_ok(format($$UPDATE participants.study_participant sp SET status = %L FROM participants.participant p
	WHERE sp.project_id = %L AND sp.study_id = %L AND p.project_id = sp.project_id AND p.id = sp.participant_id
	AND p.participant_identifier = %L$$, to_status, :'p', :'s2', 'E' || n),
	format('raw UPDATE %s -> %s', from_status, to_status))
FROM edge ORDER BY n;
SELECT bag_eq(format($$SELECT e.study_id, e.payload->>'priorStatus' AS prior, e.payload->>'status' AS status
	FROM participants.event e WHERE e.project_id = %L AND e.id > %s$$, :'p', :before),
	format($$SELECT s::uuid, from_status, to_status FROM edge, unnest(ARRAY[%L, %L]) s$$, :'s1', :'s2'),
	'each move wrote exactly one event, with its prior status');
SELECT results_eq(format($$SELECT count(*)::int FROM participants.event e JOIN participants.study_participant sp
	ON sp.project_id = e.project_id AND sp.id = e.study_participant_id
	WHERE e.project_id = %L AND e.id > %s
	  AND (sp.last_event_id <> e.id OR sp.status <> e.payload->>'status'
	       OR e.payload->>'personId' <> sp.participant_id::text OR e.payload->>'participantId' <> sp.id::text)$$, :'p', :before),
	ARRAY[0], 'each event names its study participant, person and status, and is the row''s last event');

-- every other pair is refused, through the function ...
SELECT throws_ok(format('SELECT participants.set_participant_status(%L, %L, %L, %L)', :'p', :'s3',
	'F' || (SELECT n FROM spec_status WHERE name = f.from_status), f.to_status),
	'PT409', format('status transition from %s to %s is not allowed', f.from_status, f.to_status),
	format('%s -> %s refused', f.from_status, f.to_status))
FROM forbidden f ORDER BY n;
-- ... and a sample through a raw UPDATE
SELECT throws_ok(format($$UPDATE participants.study_participant sp SET status = %L FROM participants.participant p
	WHERE sp.project_id = %L AND sp.study_id = %L AND p.project_id = sp.project_id AND p.id = sp.participant_id
	AND p.participant_identifier = %L$$, f.to_status, :'p', :'s3', 'F' || (SELECT n FROM spec_status WHERE name = f.from_status)),
	'PT409', format('status transition from %s to %s is not allowed', f.from_status, f.to_status),
	format('raw UPDATE %s -> %s refused', f.from_status, f.to_status))
FROM forbidden f WHERE n % 10 = 0 ORDER BY n;
SELECT results_eq(format($$SELECT count(*)::int FROM participants.study_participant sp JOIN participants.participant p
	ON p.project_id = sp.project_id AND p.id = sp.participant_id JOIN spec_status s ON 'F' || s.n = p.participant_identifier
	WHERE sp.project_id = %L AND sp.study_id = %L AND sp.status = s.name$$, :'p', :'s3'), ARRAY[22], 'refused moves changed nothing');

-- unknown statuses
SELECT throws_ok(format('SELECT participants.set_participant_status(%L, %L, %L, %L)', :'p', :'s3', 'F1', 'STARTED'),
	'22023', NULL, 'an unknown status is 22023 (function)');
SELECT throws_ok(format($$UPDATE participants.study_participant SET status = 'invite_sent' WHERE study_id = %L$$, :'s3'),
	'22023', NULL, 'an unknown status is 22023 (raw UPDATE)');
SELECT throws_ok(format($$INSERT INTO participants.status_transition VALUES (%L, 'NOT_STARTED', 'DONE')$$, :'p'),
	'22023', NULL, 'the graph names only the 22 statuses');
SELECT throws_ok(format($$INSERT INTO participants.status_transition VALUES (%L, 'OPTED_OUT', 'NOT_STARTED')$$, :'p'),
	'PT409', NULL, 'no transition may leave a final status');

SELECT * FROM finish();
ROLLBACK;
