#!/usr/bin/env bash
# bench/feed.sh — status changes while the event feed is read.
#
# On a throwaway cluster, three pgbench clients change statuses (one change per
# transaction, each client moving its own study participants between
# INTERVIEW_SCHEDULED and INTERVIEW_CANCELLED), in two settings, alternating,
# REPS times each, PGBENCH_SECONDS each:
#   - alone: the baseline
#   - disturbed: meanwhile one other transaction holds a status change of the
#     same project open for the whole run, and one consumer polls events_since
#     from its cursor (kept in a table) every POLL_MS milliseconds
# It prints the medians, the ratio disturbed / alone, the worst latency, and
# how far the consumer got. Needs root (for runuser) and the extension
# installed (sudo bash test/dev.sh bench does both).
#
#   SIZE=30000 REPS=3 PGBENCH_SECONDS=10 POLL_MS=10 sudo -E bash bench/feed.sh
set -euo pipefail
SIZE=${SIZE:-30000}	# a multiple of 3: each writer owns every third participant
REPS=${REPS:-3}
SECS=${PGBENCH_SECONDS:-10}
POLL_MS=${POLL_MS:-10}
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"${PSQL[@]}" -c "CREATE EXTENSION participants CASCADE"
echo "participants feed benchmark: $SIZE study participants, 3 writers, $REPS x ${SECS}s per setting, $(nproc) cores"
P=$("${PSQL[@]}" -c "SELECT participants.create_project('feed')")
S=$("${PSQL[@]}" -c "SELECT participants.create_study('$P', 'feed study')->>'studyID'")
"${PSQL[@]}" >/dev/null <<SQL
INSERT INTO participants.participant (project_id, id, participant_identifier, email)
SELECT '$P', gen_random_uuid(), 'P' || i, 'p' || i || '@example.org' FROM generate_series(0, $SIZE) i;
-- placed at INTERVIEW_SCHEDULED in a restore session (row_security off)
SET row_security = off;
INSERT INTO participants.study_participant (project_id, id, study_id, participant_id, status, last_event_id)
SELECT '$P', gen_random_uuid(), '$S', id, 'INTERVIEW_SCHEDULED', 0
FROM participants.participant WHERE project_id = '$P';
RESET row_security;
CREATE TABLE feed_cursor (id int PRIMARY KEY, after_id bigint NOT NULL, polls bigint NOT NULL);
INSERT INTO feed_cursor VALUES (1, 0, 0);
VACUUM ANALYZE;
SQL

# each writer walks its own participants (client c takes every third one from
# its own counter k; P0 is left to the open transaction): pass 0 moves each
# to INTERVIEW_CANCELLED, pass 1 back to INTERVIEW_SCHEDULED, and so on
cat >"$DIR/writer.sql" <<SQL
\\set n :k * 3 + :client_id
\\set k :k + 1
\\set i 1 + :n % $SIZE
\\if (:n / $SIZE) % 2 = 0
SELECT participants.set_participant_status('$P', '$S', 'P' || :i, 'INTERVIEW_CANCELLED');
\\else
SELECT participants.set_participant_status('$P', '$S', 'P' || :i, 'INTERVIEW_SCHEDULED');
\\endif
SQL
chmod 644 "$DIR/writer.sql"
# the consumer: read after the cursor, move it to the last id read, every
# POLL_MS milliseconds (a consumer that polls, rather than waiting for NOTIFY)
cat >"$DIR/consumer.sql" <<SQL
\\sleep $POLL_MS ms
UPDATE feed_cursor SET polls = polls + 1,
       after_id = coalesce((SELECT max((e ->> 'eventID')::bigint)
                            FROM jsonb_array_elements(participants.events_since('$P', after_id, 1000)) e), after_id)
WHERE id = 1;
SQL
chmod 644 "$DIR/consumer.sql"

# run SETTING: "tps maxlatency_ms" of the three writers
run() {
    local setting=$1 log=$DIR/pgbench.$1.$RANDOM.log holder= consumer= t lat
    "${PSQL[@]}" -c "UPDATE participants.study_participant SET status = 'INTERVIEW_SCHEDULED' WHERE status = 'INTERVIEW_CANCELLED' AND project_id = '$P'" \
        -c "VACUUM ANALYZE participants.study_participant, participants.event" >/dev/null
    if [ "$setting" = disturbed ]; then
        # the open transaction: a status change of P0, held for the whole run
        "${PSQL[@]}" -c "BEGIN" \
            -c "SELECT participants.set_participant_status('$P', '$S', 'P0', 'INTERVIEW_CANCELLED') IS NOT NULL" \
            -c "SELECT pg_sleep($SECS + 3)" -c "ROLLBACK" >/dev/null &
        holder=$!
        sleep 1
        as_pg $PGBIN/pgbench -n -h "$DIR" -p "$PORT" -U postgres -c 1 -T "$((SECS + 1))" -f "$DIR/consumer.sql" bench \
            >"$DIR/consumer.log" 2>&1 &
        consumer=$!
    fi
    as_pg $PGBIN/pgbench -n -h "$DIR" -p "$PORT" -U postgres -c 3 -j 3 -M prepared -T "$SECS" -D k=0 \
        -f "$DIR/writer.sql" bench >"$log" 2>&1 || true
    t=$(awk '/^tps/ {printf "%.0f", $3}' "$log")
    lat=$(awk '/latency average/ {print $4}' "$log")
    if [ -z "$t" ] || grep -q "aborted" "$log"; then cat "$log" >&2; exit 1; fi
    [ -n "$consumer" ] && wait "$consumer" || true
    [ -n "$holder" ] && wait "$holder" || true
    echo "$t $lat"
}

alone=() disturbed=()
for r in $(seq 1 "$REPS"); do
    read -r t l < <(run alone); alone+=("$t"); echo "  run $r: alone $t tps (avg latency $l ms)"
    read -r t l < <(run disturbed); disturbed+=("$t")
    polls=$("${PSQL[@]}" -c "SELECT polls FROM feed_cursor")
    echo "  run $r: disturbed $t tps (avg latency $l ms); consumer polls so far: $polls"
done
a=$(printf '%s\n' "${alone[@]}" | median)
d=$(printf '%s\n' "${disturbed[@]}" | median)
echo "status changes/s (median of $REPS): alone $a, with an open status change and a polling consumer $d, ratio $(ratio "$d" "$a") (target >= 0.8)"
"${PSQL[@]}" -c "SELECT 'consumer: ' || polls || ' polls, cursor at event ' || after_id || ' of ' || (SELECT max(id) FROM participants.event WHERE project_id = '$P') FROM feed_cursor"
