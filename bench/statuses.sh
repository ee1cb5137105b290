#!/usr/bin/env bash
# bench/statuses.sh — status change benchmark of the participants extension.
#
# On a throwaway cluster, prints in one run on this machine: status changes per
# second through set_participant_status (the transition trigger, an event row and
# a NOTIFY per change) next to a plain UPDATE of the same column of a copy of the
# study_participant table with the same indexes and no trigger, both naming the
# participant by its participantIdentifier. Each pgbench transaction (2 clients,
# -M prepared) moves one of SIZE study participants
# INTERVIEW_SCHEDULED <-> INTERVIEW_CANCELLED (both allowed by the default graph),
# one change per transaction: each client walks its own half of the participants
# in order, so it knows where each one is. Runs alternate (function, confined,
# plain) REPS times from the same starting state; medians and their ratios.
# "confined" is the same function called by a role confined to the project
# (participants.project_access), which pays for the access check; "no retry" the
# same function with participants.deadlock_retries = 0, which runs it without the
# subtransaction that lets a deadlock's victim start over.
# Needs root and the extension installed (sudo bash test/dev.sh bench does both).
#
#   SIZE=100000 REPS=3 PGBENCH_SECONDS=15 sudo -E bash bench/statuses.sh
set -euo pipefail
SIZE=${SIZE:-100000}
REPS=${REPS:-3}
SECS=${PGBENCH_SECONDS:-15}
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"${PSQL[@]}" -c "CREATE EXTENSION participants CASCADE"
echo "participants status benchmark: $SIZE study participants, $REPS x ${SECS}s per side, $(nproc) cores"

P=$("${PSQL[@]}" -c "SELECT participants.create_project('statuses')")
S=$("${PSQL[@]}" -c "SELECT participants.create_study('$P', 'bench study')->>'studyID'")
"${PSQL[@]}" >/dev/null <<SQL
INSERT INTO participants.participant (project_id, id, participant_identifier, email)
SELECT '$P', gen_random_uuid(), 'P' || i, 'p' || i || '@example.org' FROM generate_series(1, $SIZE) i;
-- placed at INTERVIEW_SCHEDULED by the restore path (a row with its last_event_id,
-- in a restore session: row_security off, as pg_dump's output sets it)
SET row_security = off;
INSERT INTO participants.study_participant (project_id, id, study_id, participant_id, status, last_event_id)
SELECT '$P', gen_random_uuid(), '$S', id, 'INTERVIEW_SCHEDULED', 0
FROM participants.participant WHERE project_id = '$P';
RESET row_security;
-- the baseline: the same rows and indexes, no trigger
CREATE TABLE plain_sp (LIKE participants.study_participant INCLUDING ALL);
INSERT INTO plain_sp SELECT * FROM participants.study_participant;
VACUUM ANALYZE;
DROP ROLE IF EXISTS bench_confined;
CREATE ROLE bench_confined LOGIN;
GRANT USAGE ON SCHEMA participants TO bench_confined;
GRANT EXECUTE ON FUNCTION participants.set_participant_status TO bench_confined;
INSERT INTO participants.project_access (project_id, role_name) VALUES ('$P', 'bench_confined');
SQL

# Each client walks its own participants in turn (client c takes every second
# one, from its own counter k): pass 0 moves each to INTERVIEW_CANCELLED, pass 1
# back to INTERVIEW_SCHEDULED, and so on; one change per transaction.
for side in function plain; do
    if [ $side = function ]; then
        cancel="SELECT participants.set_participant_status('$P', '$S', 'P' || :i, 'INTERVIEW_CANCELLED');"
        schedule="SELECT participants.set_participant_status('$P', '$S', 'P' || :i, 'INTERVIEW_SCHEDULED');"
    else
        cancel="UPDATE plain_sp sp SET status = 'INTERVIEW_CANCELLED', updated_date = now() FROM participants.participant p WHERE p.project_id = '$P' AND p.participant_identifier = 'P' || :i AND sp.project_id = '$P' AND sp.study_id = '$S' AND sp.participant_id = p.id;"
        schedule="UPDATE plain_sp sp SET status = 'INTERVIEW_SCHEDULED', updated_date = now() FROM participants.participant p WHERE p.project_id = '$P' AND p.participant_identifier = 'P' || :i AND sp.project_id = '$P' AND sp.study_id = '$S' AND sp.participant_id = p.id;"
    fi
    cat >"$DIR/$side.sql" <<SQL
\set n :k * 2 + :client_id
\set k :k + 1
\set i 1 + :n % $SIZE
\if (:n / $SIZE) % 2 = 0
$cancel
\else
$schedule
\endif
SQL
done
chmod 644 "$DIR"/*.sql

# every run starts with everyone at INTERVIEW_SCHEDULED (raw UPDATEs, along the graph)
reset() {
    "${PSQL[@]}" -c "UPDATE participants.study_participant SET status = 'INTERVIEW_SCHEDULED' WHERE status = 'INTERVIEW_CANCELLED'" \
        -c "UPDATE plain_sp SET status = 'INTERVIEW_SCHEDULED' WHERE status = 'INTERVIEW_CANCELLED'" \
        -c "VACUUM ANALYZE participants.study_participant, plain_sp, participants.event" -c "CHECKPOINT"
}

# warm both paths once
pgb "$DIR/function.sql" 3 -D k=0 >/dev/null
pgb "$DIR/plain.sql" 3 -D k=0 >/dev/null
fn=() plain=() conf=() noretry=()
for r in $(seq 1 "$REPS"); do
    reset; f=$(pgb "$DIR/function.sql" "$SECS" -D k=0)
    reset; c=$(pgb "$DIR/function.sql" "$SECS" -D k=0 -U bench_confined)
    reset; n=$(PGOPTIONS="-c participants.deadlock_retries=0" pgb "$DIR/function.sql" "$SECS" -D k=0)
    reset; p=$(pgb "$DIR/plain.sql" "$SECS" -D k=0)
    fn+=("$f"); conf+=("$c"); noretry+=("$n"); plain+=("$p")
    echo "  run $r: set_participant_status $f changes/s (confined role $c, no retry $n), plain UPDATE $p changes/s"
done
fm=$(printf '%s\n' "${fn[@]}" | median); pm=$(printf '%s\n' "${plain[@]}" | median)
cm=$(printf '%s\n' "${conf[@]}" | median); nm=$(printf '%s\n' "${noretry[@]}" | median)
reset
events=$("${PSQL[@]}" -c "SELECT count(*) FROM participants.event")
bad=$("${PSQL[@]}" -c "SELECT count(*) FROM participants.study_participant WHERE status <> 'INTERVIEW_SCHEDULED'")
echo "status changes/s (median of $REPS): set_participant_status $fm, plain UPDATE $pm, ratio $(ratio "$fm" "$pm") (target >= 0.7)"
echo "confined role: $cm changes/s, $(ratio "$cm" "$fm") of the unconfined calls"
echo "no retry (participants.deadlock_retries = 0): $nm changes/s; with the retry's subtransaction, $(ratio "$fm" "$nm") of that"
echo "events written: $events; study participants away from INTERVIEW_SCHEDULED at the end: $bad"
