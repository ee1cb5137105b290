#!/usr/bin/env bash
# bench/webhooks.sh — webhook delivery benchmark of the participants extension.
#
# On a throwaway cluster with shared_preload_libraries = 'participants' and a
# receiver on 127.0.0.1 that answers at once (bench/receiver.c, compiled here:
# a small C server, so that the receiver takes little of the machine's cores
# from what is measured), prints in one run on this machine:
#  1. throughput: EVENTS events made while the webhook is paused, then the time
#     from update_webhook(active => true) to the arrival of the last one, REPS
#     times (replay_webhook to the same start before each later run); events delivered per
#     second by the one worker, next to the baseline: the same number of POSTs
#     of the same body, with the same headers, by the curl program (libcurl, as
#     the worker), one at a time over one kept-alive connection (what a
#     webhook's order allows), to the same receiver, with no database.
#  2. latency from commit to arrival (the event's created_date, taken in its
#     one-statement transaction, to the receiver's clock): under a steady
#     RATE status changes a second for LATENCY_SECONDS, and for IDLE events
#     each made after the worker stopped for lack of work (it stops after 2 s).
#  3. status changes per second (pgbench, as bench/statuses.sh) with one active
#     webhook receiving every event, next to the same with the webhook paused,
#     alternating REPS times; medians and their ratio; with 2 writers (on a
#     2-core machine: the writers alone fill both cores, and the worker and
#     the receiver take their share from them) and with 1 writer (a core left
#     for delivery, as when the receiver runs elsewhere).
#     The receiver runs on the same two cores and takes its share from the
#     writers too: a third side, without an active webhook but with curl
#     keeping the receiver as busy, shows what the receiver alone costs.
# Needs root, a C compiler, curl and the extension installed (sudo bash test/dev.sh bench).
#
#   EVENTS=20000 REPS=3 PGBENCH_SECONDS=15 sudo -E bash bench/webhooks.sh
# PARTS="1 2 3" chooses the parts; RECEIVER_NICE=N runs the receiver at that nice
# level (the default, 0, lets it compete with the server for this machine's cores)
set -euo pipefail
EVENTS=${EVENTS:-20000}
REPS=${REPS:-3}
SECS=${PGBENCH_SECONDS:-15}
RATE=${RATE:-50}
LATENCY_SECONDS=${LATENCY_SECONDS:-10}
IDLE=${IDLE:-5}
SIZE=${SIZE:-20000}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_SERVER_OPTS="-c shared_preload_libraries=participants -c participants.webhook_allowed_hosts=127.0.0.1"
. "$HERE/lib.sh"
RPORT=${RECEIVER_PORT:-4610}
LOG=$DIR/received.log
cc -O2 -o "$DIR/receiver" "$HERE/receiver.c"
nice -n "${RECEIVER_NICE:-0}" "$DIR/receiver" "$RPORT" "$LOG" >"$DIR/receiver.out" 2>&1 &
RECEIVER=$!
trap 'kill $RECEIVER 2>/dev/null || true; cleanup' EXIT
for _ in $(seq 1 50); do grep -q listening "$DIR/receiver.out" 2>/dev/null && break; sleep 0.1; done

"${PSQL[@]}" -c "CREATE EXTENSION participants CASCADE"
echo "participants webhook benchmark: $EVENTS events, $REPS runs, $(nproc) cores"
P=$("${PSQL[@]}" -c "SELECT participants.create_project('webhooks')")
S=$("${PSQL[@]}" -c "SELECT participants.create_study('$P', 'bench study')->>'studyID'")
"${PSQL[@]}" >/dev/null <<SQL
INSERT INTO participants.participant (project_id, id, participant_identifier)
SELECT '$P', gen_random_uuid(), 'P' || i FROM generate_series(1, $SIZE) i;
SET row_security = off;
INSERT INTO participants.study_participant (project_id, id, study_id, participant_id, status, last_event_id)
SELECT '$P', gen_random_uuid(), '$S', id, 'INTERVIEW_SCHEDULED', 0 FROM participants.participant WHERE project_id = '$P';
RESET row_security;
-- participants in no study, for the opt-outs after idle
INSERT INTO participants.participant (project_id, id, participant_identifier)
SELECT '$P', gen_random_uuid(), 'Q' || i FROM generate_series(1, 100) i;
VACUUM ANALYZE;
SQL
W=$("${PSQL[@]}" -c "SELECT participants.create_webhook('$P', 'http://127.0.0.1:$RPORT/bench') ->> 'webhookID'")
"${PSQL[@]}" -c "SELECT participants.update_webhook('$P', '$W', active => false)" >/dev/null
# a delivery's body, for the baselines: a status event's payload
"${PSQL[@]}" -c "SELECT participants.set_participant_status('$P', '$S', 'P1', 'INTERVIEW_CANCELLED')" >"$DIR/body.json"
"${PSQL[@]}" -c "UPDATE participants.study_participant SET status = 'INTERVIEW_SCHEDULED' WHERE project_id = '$P' AND status = 'INTERVIEW_CANCELLED'" >/dev/null
"${PSQL[@]}" -c "SELECT participants.replay_webhook('$P', '$W', (SELECT last_event_id FROM participants.project_counter WHERE project_id = '$P'))" >/dev/null
# delay from each event's created_date to its arrival, as "median p95 max count" (ms)
"${PSQL[@]}" -c "CREATE TABLE arrivals (webhook_id text, at_ms bigint)"
delays() {
    "${PSQL[@]}" -c "TRUNCATE arrivals" -c "\\copy arrivals FROM '$LOG' WITH (DELIMITER ' ')" >/dev/null
    "${PSQL[@]}" -F ' ' -c "SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1),
        round(percentile_cont(0.95) WITHIN GROUP (ORDER BY ms)::numeric, 1), round(max(ms)::numeric, 1), count(*)
      FROM (SELECT DISTINCT ON (e.id) a.at_ms - extract(epoch FROM e.created_date) * 1000 AS ms
            FROM arrivals a JOIN participants.event e
              ON e.project_id = '$P' AND e.id = split_part(a.webhook_id, '_', 3)::bigint
            ORDER BY e.id, a.at_ms) d"
}
last_id() { "${PSQL[@]}" -c "SELECT last_event_id FROM participants.project_counter WHERE project_id = '$P'"; }
delivered() { "${PSQL[@]}" -c "SELECT last_delivered_event_id FROM participants.webhook WHERE id = '$W'"; }
received() { [ -f "$LOG" ] && wc -l <"$LOG" || echo 0; }
# wait until the receiver has N lines; print the time of the last arrival (s)
wait_lines() {
    local n=$1 i
    for i in $(seq 1 6000); do
        [ "$(received)" -ge "$n" ] && break
        sleep 0.02
    done
    tail -n 1 "$LOG" | awk '{printf "%.3f", $2 / 1000}'
}

PARTS=${PARTS:-1 2 3}
part() { [[ " $PARTS " == *" $1 "* ]]; }

# curl_cfg FILE COUNT: COUNT POSTs of the body as curl's config (the baselines)
curl_cfg() {
    {
        echo 'header = "Content-Type: application/json"'
        echo 'header = "webhook-id: msg_baseline_1"'
        echo "header = \"webhook-timestamp: $(date +%s)\""
        echo 'header = "webhook-signature: v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="'
        echo 'header = "Expect:"'
        echo "data-binary = \"@$DIR/body.json\""
        for _ in $(seq 1 "$2"); do echo "url = \"http://127.0.0.1:$RPORT/baseline\""; done
    } >"$1"
}

if part 1; then
# 1. throughput: EVENTS status changes (INTERVIEW_SCHEDULED <-> CANCELLED) made while paused
"${PSQL[@]}" >/dev/null <<SQL
UPDATE participants.study_participant SET status = 'INTERVIEW_CANCELLED'
WHERE project_id = '$P' AND participant_id IN (SELECT id FROM participants.participant WHERE project_id = '$P' LIMIT $EVENTS);
SQL
START=$(delivered)
N=$(( $(last_id) - START ))
[ "$N" -ge "$EVENTS" ] || { echo "expected $EVENTS events" >&2; exit 1; }
curl_cfg "$DIR/curl.cfg" "$N"
ours=() base=()
for r in $(seq 1 "$REPS"); do
    : >"$LOG"
    [ "$r" -gt 1 ] && "${PSQL[@]}" -c "SELECT participants.replay_webhook('$P', '$W', $START)" >/dev/null
    t0=$(now)
    "${PSQL[@]}" -c "SELECT participants.update_webhook('$P', '$W', active => true)" >/dev/null
    t1=$(wait_lines "$N")
    "${PSQL[@]}" -c "SELECT participants.update_webhook('$P', '$W', active => false)" >/dev/null
    o=$(rate "$N" "$(elapsed "$t0" "$t1")")
    : >"$LOG"
    t0=$(now)
    curl -s --fail -K "$DIR/curl.cfg" >/dev/null
    b=$(rate "$N" "$(elapsed "$t0" "$(now)")")
    ours+=("$o"); base+=("$b")
    echo "  run $r: delivered $o events/s; baseline (one client, one request at a time) $b POSTs/s"
done
om=$(printf '%s\n' "${ours[@]}" | median); bm=$(printf '%s\n' "${base[@]}" | median)
echo "throughput (median of $REPS): $om events/s delivered by one worker (goal >= 1000), baseline $bm POSTs/s, ratio $(ratio "$om" "$bm")"
sleep 0.5
dups=$("${PSQL[@]}" -c "SELECT count(*) - count(DISTINCT event_id) FROM participants.webhook_delivery WHERE webhook_id = '$W' AND error IS NULL")
echo "  attempts recorded: $("${PSQL[@]}" -c "SELECT count(*) FROM participants.webhook_delivery WHERE webhook_id = '$W'"), failed: $("${PSQL[@]}" -c "SELECT count(*) FROM participants.webhook_delivery WHERE webhook_id = '$W' AND error IS NOT NULL"), cursor at $(delivered), the last event $(last_id)"

fi

# back to INTERVIEW_SCHEDULED, and the webhook up to date
"${PSQL[@]}" -c "UPDATE participants.study_participant SET status = 'INTERVIEW_SCHEDULED' WHERE project_id = '$P' AND status = 'INTERVIEW_CANCELLED'" >/dev/null
"${PSQL[@]}" -c "SELECT participants.replay_webhook('$P', '$W', $(last_id))" >/dev/null
"${PSQL[@]}" -c "SELECT participants.update_webhook('$P', '$W', active => true)" >/dev/null

# pgbench script: each client walks its own participants, one change per transaction
cat >"$DIR/status.sql" <<SQL
\set n :k * 2 + :client_id
\set k :k + 1
\set i 1 + :n % $SIZE
\if (:n / $SIZE) % 2 = 0
SELECT participants.set_participant_status('$P', '$S', 'P' || :i, 'INTERVIEW_CANCELLED');
\else
SELECT participants.set_participant_status('$P', '$S', 'P' || :i, 'INTERVIEW_SCHEDULED');
\endif
SQL
chmod 644 "$DIR"/*.sql
reset() {
    "${PSQL[@]}" -c "UPDATE participants.study_participant SET status = 'INTERVIEW_SCHEDULED' WHERE project_id = '$P' AND status = 'INTERVIEW_CANCELLED'" \
        -c "SELECT participants.replay_webhook('$P', '$W', (SELECT last_event_id FROM participants.project_counter WHERE project_id = '$P'))" \
        -c "VACUUM ANALYZE participants.study_participant, participants.event, participants.webhook, participants.webhook_delivery" -c "CHECKPOINT" >/dev/null
}

if part 2; then
# 2. latency, steady: RATE changes a second, one client
: >"$LOG"
reset
as_pg $PGBIN/pgbench -n -h "$DIR" -p "$PORT" -U postgres -c 1 -M prepared -R "$RATE" -T "$LATENCY_SECONDS" -D k=0 -f "$DIR/status.sql" bench >"$DIR/latency.log" 2>&1
sent=$("${PSQL[@]}" -c "SELECT last_event_id FROM participants.project_counter WHERE project_id = '$P'")
sleep 1
read -r med p95_ max n < <(delays)
echo "latency commit -> arrival at $RATE changes/s for ${LATENCY_SECONDS}s: $n events, median $med ms, p95 $p95_ ms, max $max ms (goal: median < 100 ms)"

# latency after idle: the worker has stopped; each event wakes the launcher, which starts it
: >"$LOG"
for i in $(seq 1 "$IDLE"); do
    sleep 3
    "${PSQL[@]}" -c "SELECT participants.set_opted_out('$P', 'Q$i', true)" >/dev/null
done
sleep 1
read -r med p95_ max n < <(delays)
echo "latency commit -> arrival after 3 s idle (worker started by the commit): $n events, median $med ms, max $max ms (goal: never over 1000 ms)"
fi

if part 3; then
# 3. status changes/s with one active webhook vs. paused, with 2 writers (the
# machine's two cores busy with writers alone) and with 1 (a core to spare)
for clients in ${CLIENTS_LIST:-2}; do
reset
pgb "$DIR/status.sql" 3 -D k=0 -c "$clients" -j "$clients" >/dev/null
on=() off=() loaded=()
curl_cfg "$DIR/curl-load.cfg" 200000
for r in $(seq 1 "$REPS"); do
    reset
    "${PSQL[@]}" -c "SELECT participants.update_webhook('$P', '$W', active => false)" >/dev/null
    a=$(pgb "$DIR/status.sql" "$SECS" -D k=0 -c "$clients" -j "$clients")
    reset
    "${PSQL[@]}" -c "SELECT participants.update_webhook('$P', '$W', active => true)" >/dev/null
    : >"$LOG"
    b=$(pgb "$DIR/status.sql" "$SECS" -D k=0 -c "$clients" -j "$clients")
    got=$(received)
    reset
    "${PSQL[@]}" -c "SELECT participants.update_webhook('$P', '$W', active => false)" >/dev/null
    : >"$LOG"
    curl -s -K "$DIR/curl-load.cfg" >/dev/null 2>&1 &
    CURL=$!
    c=$(pgb "$DIR/status.sql" "$SECS" -D k=0 -c "$clients" -j "$clients")
    kill "$CURL" 2>/dev/null || true; wait "$CURL" 2>/dev/null || true
    load=$(received)
    off+=("$a"); on+=("$b"); loaded+=("$c")
    echo "  $clients writer(s), run $r: no active webhook $a changes/s; one active webhook $b changes/s ($got delivered during the run); none, the receiver kept busy by curl $c changes/s ($load POSTs)"
done
am=$(printf '%s\n' "${off[@]}" | median); bm=$(printf '%s\n' "${on[@]}" | median); cm=$(printf '%s\n' "${loaded[@]}" | median)
echo "status changes/s, $clients writer(s) (median of $REPS): without an active webhook $am, with one $bm: ratio $(ratio "$bm" "$am") (goal >= 0.9)"
echo "  the receiver's own share of the cores: without a webhook but the receiver as busy (curl) $cm; with one ÷ that: $(ratio "$bm" "$cm")"
done
fi
