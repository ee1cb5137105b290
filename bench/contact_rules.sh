#!/usr/bin/env bash
# bench/contact_rules.sh — what the contact rules cost a status change.
#
# On a throwaway cluster, prints in one run on this machine: status changes per
# second through set_participant_status when the project has contact rules
# ({"maxContacts": 3, "windowDays": 90}, {"cooldownDaysAfterCompletion": 30},
# {"maxActiveStudies": 5}: each contact locks the person's row and reads its
# own recent contacts, last completion and studies in progress through their
# indexes) next to the same changes with no rules (the baseline), alternating
# REPS times from the same starting state; medians and their ratio (target
# >= 0.9). SIZE participants are each in 3 studies (one of them completed, 60
# days ago) and have 2 earlier contacts (45 and 100 days ago), so the rules
# have rows to read and none refuses. Each pgbench transaction (2 clients,
# -M prepared) makes one change of a participant in the benchmark study, walking
# the participants in order: NOT_STARTED -> INVITE_SENT (a contact) on one pass,
# INVITE_SENT -> NOT_STARTED (a transition added to the project's graph for
# the benchmark; not a contact) on the next, so half of all changes are
# contacts; "contacts only" times one pass of contacts (SIZE transactions).
# Needs root and the extension installed (sudo bash test/dev.sh bench does both).
#
#   SIZE=100000 REPS=3 PGBENCH_SECONDS=15 sudo -E bash bench/contact_rules.sh
set -euo pipefail
SIZE=${SIZE:-100000}
REPS=${REPS:-3}
SECS=${PGBENCH_SECONDS:-15}
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"${PSQL[@]}" -c "CREATE EXTENSION participants CASCADE"
echo "participants contact rules benchmark: $SIZE participants, $REPS x ${SECS}s per side, $(nproc) cores"

P=$("${PSQL[@]}" -c "SELECT participants.create_project('contact rules')")
S=$("${PSQL[@]}" -c "SELECT participants.create_study('$P', 'bench study')->>'studyID'")
S2=$("${PSQL[@]}" -c "SELECT participants.create_study('$P', 'other study')->>'studyID'")
S3=$("${PSQL[@]}" -c "SELECT participants.create_study('$P', 'done study')->>'studyID'")
"${PSQL[@]}" >/dev/null <<SQL
INSERT INTO participants.participant (project_id, id, participant_identifier, email)
SELECT '$P', gen_random_uuid(), 'P' || i, 'p' || i || '@example.org' FROM generate_series(1, $SIZE) i;
-- history, loaded as a restore loads it (row_security off): each participant
-- in the benchmark study at NOT_STARTED, in progress in another study, done
-- in a third 60 days ago, and contacted 45 and 100 days ago
SET row_security = off;
INSERT INTO participants.study_participant (project_id, id, study_id, participant_id, status, last_event_id)
SELECT '$P', gen_random_uuid(), '$S', id, 'NOT_STARTED', 0 FROM participants.participant WHERE project_id = '$P';
INSERT INTO participants.study_participant (project_id, id, study_id, participant_id, status, last_event_id)
SELECT '$P', gen_random_uuid(), '$S2', id, 'SURVEY_STARTED', 0 FROM participants.participant WHERE project_id = '$P';
INSERT INTO participants.study_participant (project_id, id, study_id, participant_id, status, last_event_id, updated_date)
SELECT '$P', gen_random_uuid(), '$S3', id, 'COMPLETED_STUDY', 0, now() - interval '60 days' FROM participants.participant WHERE project_id = '$P';
INSERT INTO participants.contact (project_id, participant_id, contact_date, study_id, status, event_id)
SELECT '$P', id, now() - d * interval '1 day', '$S2', 'INVITE_SENT', 0
FROM participants.participant, unnest(ARRAY[45, 100]) d WHERE project_id = '$P';
RESET row_security;
-- the way back, for the benchmark only
INSERT INTO participants.status_transition VALUES ('$P', 'INVITE_SENT', 'NOT_STARTED');
VACUUM ANALYZE;
SQL
RULES='[{"maxContacts": 3, "windowDays": 90}, {"cooldownDaysAfterCompletion": 30}, {"maxActiveStudies": 5}]'

# client c takes every second participant from its own counter k: pass 0
# contacts each (NOT_STARTED -> INVITE_SENT), pass 1 moves it back
cat >"$DIR/cycle.sql" <<SQL
\set n :k * 2 + :client_id
\set k :k + 1
\set i 1 + :n % $SIZE
\if (:n / $SIZE) % 2 = 0
SELECT participants.set_participant_status('$P', '$S', 'P' || :i, 'INVITE_SENT');
\else
SELECT participants.set_participant_status('$P', '$S', 'P' || :i, 'NOT_STARTED');
\endif
SQL
cat >"$DIR/contact.sql" <<SQL
\set n :k * 2 + :client_id
\set k :k + 1
\set i 1 + :n % $SIZE
SELECT participants.set_participant_status('$P', '$S', 'P' || :i, 'INVITE_SENT');
SQL
chmod 644 "$DIR"/*.sql

# every run starts with everyone at NOT_STARTED in the benchmark study, and
# only the two earlier contacts each
reset() {
    "${PSQL[@]}" -c "UPDATE participants.study_participant SET status = 'NOT_STARTED' WHERE study_id = '$S' AND status = 'INVITE_SENT'" \
        -c "DELETE FROM participants.contact WHERE study_id = '$S'" \
        -c "SELECT participants.set_contact_rules('$P', '$1') IS NOT NULL" >/dev/null
    "${PSQL[@]}" -c "VACUUM ANALYZE participants.study_participant, participants.contact, participants.event, participants.participant" -c "CHECKPOINT"
}

# pgbt SCRIPT: transactions per second of SIZE transactions of SCRIPT (2 clients)
pgbt() {
    local log=$DIR/pgbench.t.$RANDOM.log tps
    as_pg $PGBIN/pgbench -n -h "$DIR" -p "$PORT" -U postgres -c 2 -j 2 -M prepared -t $((SIZE / 2)) -D k=0 -f "$1" bench >"$log" 2>&1 || true
    tps=$(awk '/^tps/ {printf "%.0f", $3}' "$log")
    if [ -z "$tps" ] || grep -q "aborted" "$log"; then
        echo "pgbench failed for $1:" >&2
        cat "$log" >&2
        exit 1
    fi
    echo "$tps"
}

# warm both paths once
reset "$RULES"; pgb "$DIR/cycle.sql" 3 -D k=0 >/dev/null
reset '[]'; pgb "$DIR/cycle.sql" 3 -D k=0 >/dev/null
with=() without=() cwith=() cwithout=()
for r in $(seq 1 "$REPS"); do
    reset "$RULES"; w=$(pgb "$DIR/cycle.sql" "$SECS" -D k=0)
    reset '[]'; o=$(pgb "$DIR/cycle.sql" "$SECS" -D k=0)
    # contacts only: each participant once (SIZE transactions)
    reset "$RULES"; cw=$(pgbt "$DIR/contact.sql")
    reset '[]'; co=$(pgbt "$DIR/contact.sql")
    with+=("$w"); without+=("$o"); cwith+=("$cw"); cwithout+=("$co")
    echo "  run $r: with rules $w changes/s, without $o; contacts only: with rules $cw/s, without $co/s"
done
wm=$(printf '%s\n' "${with[@]}" | median); om=$(printf '%s\n' "${without[@]}" | median)
cwm=$(printf '%s\n' "${cwith[@]}" | median); com=$(printf '%s\n' "${cwithout[@]}" | median)
# the rules were checked: a fourth contact in the window is refused
reset "$RULES"
refused=$("${PSQL[@]}" -c "SET row_security = off" \
    -c "INSERT INTO participants.contact (project_id, participant_id, contact_date, study_id, status, event_id) SELECT '$P', id, now() - d * interval '1 day', '$S2', 'INVITE_SENT', 0 FROM participants.participant, unnest(ARRAY[1, 2]) d WHERE project_id = '$P' AND participant_identifier = 'P1'" \
    -c "RESET row_security" \
    -c "DO \$\$ BEGIN PERFORM participants.set_participant_status('$P', '$S', 'P1', 'INVITE_SENT'); RAISE NOTICE 'not refused'; EXCEPTION WHEN sqlstate 'PT409' THEN NULL; END \$\$" 2>&1 | grep -c 'not refused' || true)
echo "status changes/s (median of $REPS), half of them contacts: with rules $wm, without $om, ratio $(ratio "$wm" "$om") (target >= 0.9)"
echo "contacts only: with rules $cwm/s, without $com/s, ratio $(ratio "$cwm" "$com")"
echo "a contact past the rules refused after the runs: $([ "$refused" = 0 ] && echo yes || echo NO)"
