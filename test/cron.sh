#!/usr/bin/env bash
# test/cron.sh [PORT]
#
# Retention run by pg_cron, as a nightly job would run it: Debian's
# postgresql-15-cron (pg_cron 1.4, minute granularity) calls
# participants.apply_retention() on its own, and the old rows go.
#
# Starts its own throwaway cluster (as user postgres, Unix socket only, on
# port PORT, default 5444: test/dev.sh's test port + 4) with
# shared_preload_libraries = 'participants,pg_cron' and cron.database_name =
# pt_cron, and stops it at the end. In pt_cron it creates both extensions and
# a project with the setting retention {"eventDays": 1, "auditDays": 1,
# "withdrawnDays": 1}, and gives it data old enough to go. Old rows can only
# come the way a restore loads them (one transaction with SET LOCAL
# row_security = off, as a superuser): K-1's three status changes, made
# through the API, are loaded again with created_date 10 days back (events
# are never updated: deleted and inserted with their ids and payloads), W-1
# is a participant withdrawn 10 days ago, and two audit rows are 10 days
# old. New rows sit next to them: N-1's status event, R-1 withdrawn minutes
# ago, the audit rows of the API calls.
#
# Then the job is scheduled as a nightly one would be ('0 3 * * *'), but
# every minute ('* * * * *', so as not to wait a day), and the test waits
# (up to PT_CRON_WAIT seconds, default 150) for cron.job_run_details to show
# a run that succeeded, unschedules it and checks: the old events are gone
# and K-1's status_history is still complete (status_archive holds what they
# carried); the old audit rows are gone; W-1 was erased (a receipt with
# reason "retention", a tombstone that refuses its email and phone); every
# new row is still there.
#
# Output: one "ok - ..." or "not ok - ..." line per check (details on "# "
# lines); the exit status is non-zero when any check fails. Run as root (the
# server runs as postgres), after the extension is installed and
# postgresql-15-cron; up to a minute and a half (pg_cron starts jobs on the
# minute).
set -euo pipefail
PORT=${1:-5444}
WAIT=${PT_CRON_WAIT:-150}
BIN=/usr/lib/postgresql/15/bin
WORK=$(mktemp -d /tmp/participants-cron.XXXXXX)
chmod 755 "$WORK"
chown postgres:postgres "$WORK"
FAILED=0

# from /, which the postgres user can always enter (a checkout in a private
# home directory would make pg_ctl and initdb complain about the working directory)
as_pg() { (cd / && runuser -u postgres -- "$@"); }
cleanup() {
    as_pg $BIN/pg_ctl -D "$WORK/db" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

ok() { echo "ok - $1"; }
not_ok() {
    echo "not ok - $1"
    FAILED=$((FAILED + 1))
    shift
    local d
    for d in "$@"; do
        [ -n "$d" ] && printf '%s\n' "$d" | awk 'NR <= 40 { print "#   " $0 }'
    done
    return 0
}
check() { # check WHAT EXPECTED ACTUAL
    if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "expected: $2" "got:      $3"; fi
}
# the script stops here, saying why, rather than going on from a wrong state
give_up() {
    not_ok "$@" "$(tail -15 "$WORK/server.log" 2>/dev/null)"
    echo "# $FAILED check(s) failed"
    exit 1
}
P() { "$BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$WORK/sock" -p "$PORT" -U postgres -d pt_cron "$@"; }
# sqlstate SQL: the SQLSTATE the statement fails with, or "none"
sqlstate() {
    local out
    out=$("$BIN/psql" -X -q -h "$WORK/sock" -p "$PORT" -U postgres -d pt_cron -v VERBOSITY=sqlstate -c "$1" 2>&1 >/dev/null || true)
    out=$(printf '%s\n' "$out" | awk '/^ERROR:/ && !n++ { sub(/^ERROR: +/, ""); print }')
    echo "${out:-none}"
}

# -- the cluster ------------------------------------------------------------------

if [ ! -f "$($BIN/pg_config --pkglibdir)/pg_cron.so" ]; then
    give_up "pg_cron is installed (Debian package postgresql-15-cron)"
fi
as_pg mkdir -p "$WORK/sock"
as_pg $BIN/initdb -D "$WORK/db" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
# pg_cron runs each job over a libpq connection to cron.host: the socket here
if ! as_pg $BIN/pg_ctl -D "$WORK/db" -l "$WORK/server.log" -w -t 60 start \
        -o "-p $PORT -k $WORK/sock -c listen_addresses='' -c shared_preload_libraries=participants,pg_cron -c cron.database_name=pt_cron -c cron.host=$WORK/sock" >/dev/null; then
    give_up "a cluster with shared_preload_libraries = 'participants,pg_cron' starts on port $PORT"
fi
# (pg_cron's launcher retries until the database it is given exists)
"$BIN/createdb" -h "$WORK/sock" -p "$PORT" -U postgres pt_cron
if out=$(P -c "SET client_min_messages = warning" -c "CREATE EXTENSION participants CASCADE" -c "CREATE EXTENSION pg_cron" 2>&1); then
    ok "a cluster with shared_preload_libraries = 'participants,pg_cron' and cron.database_name = pt_cron runs both extensions"
else
    give_up "a cluster with shared_preload_libraries = 'participants,pg_cron' and cron.database_name = pt_cron runs both extensions" "$out"
fi

# -- a project with retention, and data old enough to go --------------------------

if ! out=$(P 2>&1 <<'SQL'
SET client_min_messages = warning;
SELECT participants.create_project('Cron retention',
    '{"retention": {"eventDays": 1, "auditDays": 1, "withdrawnDays": 1}}') AS p \gset
SELECT participants.create_study(:'p', 'Sleep study') ->> 'studyID' AS s \gset
SELECT participants.upsert_participants(:'p', '[
  {"participantIdentifier": "K-1", "demographics": {"email": "kept@example.com"}},
  {"participantIdentifier": "N-1", "demographics": {"email": "new@example.com"}},
  {"participantIdentifier": "R-1", "demographics": {"email": "recent@example.com"}}]') IS NULL;
-- K-1's status changes, through the API (events 1 to 3)
SELECT participants.add_study_participants(:'p', :'s', '["K-1"]') IS NULL;
SELECT participants.set_participant_status(:'p', :'s', 'K-1', 'INVITE_SENT') IS NULL;
SELECT participants.set_participant_status(:'p', :'s', 'K-1', 'SCREENER_STARTED') IS NULL;
SELECT id AS k FROM participants.participant WHERE project_id = :'p' AND participant_identifier = 'K-1' \gset

-- the old rows, loaded as a restore loads rows
BEGIN;
SET LOCAL row_security = off;
-- K-1's events as a dump of 10 days ago holds them: same ids and payloads
CREATE TEMP TABLE k_events ON COMMIT DROP AS
    SELECT * FROM participants.event WHERE project_id = :'p' AND person_id = :'k';
DELETE FROM participants.event WHERE project_id = :'p' AND person_id = :'k';
INSERT INTO participants.event (project_id, id, event_type, person_id, study_id, study_participant_id,
                                completion_code, payload, created_date)
SELECT project_id, id, event_type, person_id, study_id, study_participant_id,
       completion_code, payload, created_date - interval '10 days'
FROM k_events;
-- W-1, enrolled 30 days ago, withdrawn 10 days ago
INSERT INTO participants.participant (project_id, id, participant_identifier, email, mobile_phone, first_name,
                                      enrollment_date, withdraw_date, inserted_date, updated_date)
VALUES (:'p', gen_random_uuid(), 'W-1', 'Walt.Withdrawn@example.com', '+16155550198', 'Walt',
        now() - interval '30 days', now() - interval '10 days', now() - interval '40 days', now() - interval '10 days');
-- audit rows of 10 days ago
INSERT INTO participants.audit (project_id, id, audit_date, action, person_id, changed_keys, actor_role)
SELECT :'p'::uuid, gen_random_uuid(), now() - interval '10 days', 'update', :'k'::uuid, '{demographics.city}'::text[], 'postgres'
UNION ALL
SELECT :'p'::uuid, gen_random_uuid(), now() - interval '10 days', 'withdraw', id, '{withdrawDate}'::text[], 'postgres'
FROM participants.participant WHERE project_id = :'p' AND participant_identifier = 'W-1';
COMMIT;

-- new rows: N-1's first status, R-1 withdrawn now
SELECT participants.add_study_participants(:'p', :'s', '["N-1"]') IS NULL;
SELECT participants.withdraw_participant(:'p', 'R-1') IS NULL;
SQL
); then
    give_up "the project and its old and new rows load" "$out"
fi

PROJECT=$(P -c "SELECT id FROM participants.project WHERE name = 'Cron retention'")
STUDY=$(P -c "SELECT id FROM participants.study WHERE project_id = '$PROJECT'")
W=$(P -c "SELECT id FROM participants.participant WHERE project_id = '$PROJECT' AND participant_identifier = 'W-1'")
OLD="now() - interval '1 day'"
K_HISTORY=$(P -c "SELECT participants.status_history('$PROJECT', '$STUDY', 'K-1')")
NEW_EVENTS=$(P -c "SELECT string_agg(id::text, ' ' ORDER BY id) FROM participants.event WHERE project_id = '$PROJECT' AND created_date >= $OLD")
NEW_AUDIT=$(P -c "SELECT string_agg(id::text, ' ' ORDER BY id) FROM participants.audit WHERE project_id = '$PROJECT' AND audit_date >= $OLD")
check "the project holds 3 old events and 1 new, 2 old audit rows, W-1 withdrawn 10 days ago and R-1 withdrawn now; K-1 has 3 status changes" \
    "3|1|2|W-1 R-1|3" \
    "$(P -c "SELECT (SELECT count(*) FROM participants.event WHERE project_id = '$PROJECT' AND created_date < $OLD),
                    (SELECT count(*) FROM participants.event WHERE project_id = '$PROJECT' AND created_date >= $OLD),
                    (SELECT count(*) FROM participants.audit WHERE project_id = '$PROJECT' AND audit_date < $OLD),
                    (SELECT string_agg(participant_identifier, ' ' ORDER BY withdraw_date) FROM participants.participant
                     WHERE project_id = '$PROJECT' AND withdraw_date IS NOT NULL),
                    jsonb_array_length('$K_HISTORY'::jsonb)")"

# -- the job ----------------------------------------------------------------------

JOB=$(P -c "SELECT cron.schedule('participants-retention', '* * * * *', 'SELECT participants.apply_retention()')")
check "cron.schedule makes the job (every minute, in pt_cron, as postgres)" \
    "* * * * *|SELECT participants.apply_retention()|pt_cron|postgres|t" \
    "$(P -c "SELECT schedule, command, database, username, active FROM cron.job WHERE jobid = $JOB")"

START=$SECONDS
RUN=
while [ $((SECONDS - START)) -lt "$WAIT" ]; do
    RUN=$(P -c "SELECT status || '|' || coalesce(return_message, '') || '|' || database || '|' || username
                FROM cron.job_run_details WHERE jobid = $JOB AND status IN ('succeeded', 'failed')
                ORDER BY runid LIMIT 1")
    [ -n "$RUN" ] && break
    sleep 2
done
TOOK=$((SECONDS - START))
# no second run while the checks read
UNSCHEDULED=$(P -c "SELECT cron.unschedule('participants-retention')")
if [ -z "$RUN" ]; then
    give_up "pg_cron ran SELECT participants.apply_retention() within $WAIT s" \
        "cron.job_run_details: $(P -c "SELECT string_agg(status || ' ' || coalesce(return_message, ''), '; ') FROM cron.job_run_details")"
fi
check "pg_cron ran SELECT participants.apply_retention() and it succeeded (after $TOOK s)" \
    "succeeded|1 row|pt_cron|postgres" "$RUN"
check "cron.unschedule removes the job" "t|0" "$UNSCHEDULED|$(P -c "SELECT count(*) FROM cron.job")"

# -- what the run did -------------------------------------------------------------

check "the old events are gone" 0 \
    "$(P -c "SELECT count(*) FROM participants.event WHERE project_id = '$PROJECT' AND created_date < $OLD")"
check "the new events are still there (ids $NEW_EVENTS)" "$NEW_EVENTS" \
    "$(P -c "SELECT string_agg(id::text, ' ' ORDER BY id) FROM participants.event WHERE project_id = '$PROJECT' AND id IN (${NEW_EVENTS// /, })")"
check "K-1's status_history is complete after its events were pruned" "$K_HISTORY" \
    "$(P -c "SELECT participants.status_history('$PROJECT', '$STUDY', 'K-1')")"
check "status_archive holds the 3 status changes the pruned events carried" 3 \
    "$(P -c "SELECT count(*) FROM participants.status_archive WHERE project_id = '$PROJECT'")"
check "the old audit rows are gone" 0 \
    "$(P -c "SELECT count(*) FROM participants.audit WHERE project_id = '$PROJECT' AND audit_date < $OLD")"
check "the new audit rows are still there" "$NEW_AUDIT" \
    "$(P -c "SELECT string_agg(a.id::text, ' ' ORDER BY a.id) FROM participants.audit a
             WHERE a.project_id = '$PROJECT' AND a.id = ANY (string_to_array('$NEW_AUDIT', ' ')::uuid[])")"
check "W-1, withdrawn 10 days ago, was erased" 0 \
    "$(P -c "SELECT count(*) FROM participants.participant WHERE project_id = '$PROJECT' AND id = '$W'")"
check "its erasure receipt names it, with reason retention" "1|$W|retention|1" \
    "$(P -c "SELECT r ->> 'totalErasures', e ->> 'personId', e ->> 'reason', e -> 'removed' ->> 'participant'
             FROM participants.erasures('$PROJECT') r, jsonb_array_elements(r -> 'erasures') e")"
check "the erasure wrote a person.erased event and an erase audit row" "1|1" \
    "$(P -c "SELECT (SELECT count(*) FROM participants.event WHERE project_id = '$PROJECT' AND event_type = 'person.erased'
                     AND payload ->> 'personId' = '$W'),
                    (SELECT count(*) FROM participants.audit WHERE project_id = '$PROJECT' AND action = 'erase' AND reason = 'retention')")"
check "its tombstone refuses its email again (PT409)" PT409 \
    "$(sqlstate "SELECT participants.upsert_participant('$PROJECT', '{\"participantIdentifier\": \"W-2\", \"demographics\": {\"email\": \"walt.withdrawn@example.com\"}}')")"
check "its tombstone refuses its phone again (PT409)" PT409 \
    "$(sqlstate "SELECT participants.upsert_participant('$PROJECT', '{\"participantIdentifier\": \"W-3\", \"demographics\": {\"mobilePhone\": \"+1 615 555 0198\"}}')")"
check "K-1, N-1 and R-1 (withdrawn minutes ago) are still there" "K-1 N-1 R-1" \
    "$(P -c "SELECT string_agg(participant_identifier, ' ' ORDER BY participant_identifier) FROM participants.participant WHERE project_id = '$PROJECT'")"

if [ "$FAILED" -gt 0 ]; then
    echo "# $FAILED check(s) failed"
    exit 1
fi
