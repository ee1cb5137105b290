#!/usr/bin/env bash
# bench/audit.sh — what the audit log costs a single upsert.
#
# On a throwaway cluster, prints in one run on this machine: upsert_participant
# calls per second under pgbench (2 clients, -M prepared, synchronous_commit=off)
# with the audit triggers on participants.participant (participant_audit,
# participant_audit_change) enabled, next
# to the same calls with it disabled (ALTER TABLE ... DISABLE TRIGGER
# on both: the baseline), alternating REPS times from the same
# starting state; medians and their ratio (target >= 0.85). The project has
# SIZE participants A1..A<SIZE>. Each transaction is, at random half and half,
# an update of an existing participant (a new random firstName, so every update
# changes a key and is audited; client 0 takes the odd ones, client 1 the even
# ones) or the add of a new one (N<client>-<k>, k counting the client's
# transactions), so the mix does not depend on the rate. Before each run the
# participants added by the previous one are deleted (with the trigger off),
# and the tables vacuumed and checkpointed; the audit rows written by the runs
# stay, as they would.
# After the runs it prints the audit rows written per transaction in each mode
# (about 1 with the trigger, 0 without), to show what was measured, and the
# server's CPU time per transaction (user + system time of the server's exited
# children over each run, from the postmaster's cutime and cstime: the two
# pgbench backends, and any autovacuum worker the run called for), medians and
# their ratio: a figure less moved than TPS by other work on a busy machine.
# Needs root and the extension installed (sudo bash test/dev.sh bench does both).
#
#   SIZE=100000 REPS=3 PGBENCH_SECONDS=15 sudo -E bash bench/audit.sh
set -euo pipefail
SIZE=${SIZE:-100000}
REPS=${REPS:-3}
SECS=${PGBENCH_SECONDS:-15}
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"${PSQL[@]}" -c "CREATE EXTENSION participants CASCADE"
echo "participants audit benchmark: $SIZE participants, $REPS x ${SECS}s per side, $(nproc) cores"

P=$("${PSQL[@]}" -c "SELECT participants.create_project('audit')")
"${PSQL[@]}" >/dev/null <<SQL
INSERT INTO participants.participant (project_id, id, participant_identifier, email, first_name, last_name)
SELECT '$P', gen_random_uuid(), 'A' || i, 'a' || i || '@example.org', 'F' || i, 'L' || i FROM generate_series(1, $SIZE) i;
VACUUM ANALYZE;
SQL

cat >"$DIR/upsert.sql" <<SQL
\set k :k + 1
\if random(0, 1) = 1
SELECT participants.upsert_participant('$P', ('{"participantIdentifier": "N' || :client_id || '-' || :k || '", "demographics": {"firstName": "F", "email": "n' || :client_id || '-' || :k || '@example.org"}}')::jsonb);
\else
\set n 2 * random(0, $SIZE / 2 - 1) + 1 + :client_id
\set f random(1, 1000000000)
SELECT participants.upsert_participant('$P', ('{"participantIdentifier": "A' || :n || '", "demographics": {"firstName": "F' || :f || '", "email": "a' || :n || '@example.org"}}')::jsonb);
\endif
SQL
chmod 644 "$DIR"/*.sql

# reset ENABLE|DISABLE: back to the SIZE participants, then the trigger as asked
reset() {
    "${PSQL[@]}" -c "ALTER TABLE participants.participant DISABLE TRIGGER participant_audit" \
        -c "ALTER TABLE participants.participant DISABLE TRIGGER participant_audit_change" \
        -c "DELETE FROM participants.participant WHERE project_id = '$P' AND participant_identifier LIKE 'N%'" \
        -c "ALTER TABLE participants.participant $1 TRIGGER participant_audit" \
        -c "ALTER TABLE participants.participant $1 TRIGGER participant_audit_change" >/dev/null
    "${PSQL[@]}" -c "VACUUM ANALYZE participants.participant, participants.audit" -c "CHECKPOINT"
}
audit_rows() { "${PSQL[@]}" -c "SELECT count(*) FROM participants.audit"; }
# cpu: CPU ticks of the server's exited (and reaped) children so far
pm=$(head -n 1 "$DIR/db/postmaster.pid")
cpu() { sleep 0.5; awk '{print $16 + $17}' "/proc/$pm/stat"; }
# cpt TICKS TPS: CPU milliseconds per transaction of a run
cpt() { awk -v c="$1" -v t="$2" -v s="$SECS" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.3f", c * 1000 / hz / (t * s)}'; }

# warm both paths once
reset ENABLE; pgb "$DIR/upsert.sql" 3 -D k=0 >/dev/null
reset DISABLE; pgb "$DIR/upsert.sql" 3 -D k=0 >/dev/null
since=$("${PSQL[@]}" -c "SELECT now()")
with=() without=() wcpu=() ocpu=() wrows=0 wtx=0 orows=0 otx=0
for r in $(seq 1 "$REPS"); do
    reset ENABLE; a0=$(audit_rows); c0=$(cpu); w=$(pgb "$DIR/upsert.sql" "$SECS" -D k=0); c1=$(cpu); a1=$(audit_rows)
    wrows=$((wrows + a1 - a0)); wtx=$((wtx + w * SECS)); wcpu+=("$(cpt $((c1 - c0)) "$w")")
    reset DISABLE; a0=$(audit_rows); c0=$(cpu); o=$(pgb "$DIR/upsert.sql" "$SECS" -D k=0); c1=$(cpu); a1=$(audit_rows)
    orows=$((orows + a1 - a0)); otx=$((otx + o * SECS)); ocpu+=("$(cpt $((c1 - c0)) "$o")")
    with+=("$w"); without+=("$o")
    echo "  run $r: with auditing $w tps (${wcpu[-1]} ms CPU/tx), without $o tps (${ocpu[-1]} ms CPU/tx)"
done
wm=$(printf '%s\n' "${with[@]}" | median); om=$(printf '%s\n' "${without[@]}" | median)
wcm=$(printf '%s\n' "${wcpu[@]}" | median); ocm=$(printf '%s\n' "${ocpu[@]}" | median)
reset ENABLE
mix=$("${PSQL[@]}" -c "SELECT count(*) FILTER (WHERE action = 'add') || ' adds, ' || count(*) FILTER (WHERE action = 'update') || ' updates' FROM participants.audit WHERE audit_date >= '$since'")
echo "upsert_participant tps (median of $REPS): with auditing $wm, without $om, ratio $(ratio "$wm" "$om") (target >= 0.85)"
echo "audit rows per transaction (from pgbench's tps): with auditing $(ratio "$wrows" "$wtx"), without $(ratio "$orows" "$otx"); audited in the timed runs: $mix"
echo "server CPU per transaction (median of $REPS): with auditing $wcm ms, without $ocm ms, ratio without/with $(ratio "$ocm" "$wcm")"
