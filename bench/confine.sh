#!/usr/bin/env bash
# bench/confine.sh — what the confinement check costs per call.
#
# On a throwaway cluster, one project with one participant is read with
# get_participant by three callers, in one run on this machine:
#   - a superuser, whom the check lets through at once (not confined): the baseline
#   - a role confined by a participants.project_access grant, which every call
#     looks up in project_access as committed at that moment
#   - the same role while project_access holds GRANTS other grants (other
#     projects, other roles), to show the lookup does not read them all
# Two measures, each the median of REPS runs (callers alternating):
#   - CALLS calls in one statement (no client round trip): microseconds per
#     call, and the confined caller's extra microseconds per call
#   - get_participant TPS under pgbench (2 clients, -M prepared, PGBENCH_SECONDS)
# and the ratios confined / superuser. Needs root (for runuser) and the extension
# installed (sudo bash test/dev.sh bench does both).
#
#   CALLS=200000 REPS=5 PGBENCH_SECONDS=10 GRANTS=10000 sudo -E bash bench/confine.sh
set -euo pipefail
CALLS=${CALLS:-200000}
REPS=${REPS:-5}
SECS=${PGBENCH_SECONDS:-10}
GRANTS=${GRANTS:-10000}
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"${PSQL[@]}" -c "CREATE EXTENSION participants CASCADE"
P=$("${PSQL[@]}" -c "SELECT participants.create_project('confine bench')")
"${PSQL[@]}" >/dev/null <<SQL
SELECT participants.upsert_participant('$P', '{"participantIdentifier": "P1", "demographics": {"email": "p1@example.org"}}');
DROP ROLE IF EXISTS bench_confined;
CREATE ROLE bench_confined LOGIN;
GRANT USAGE ON SCHEMA participants TO bench_confined;
GRANT EXECUTE ON FUNCTION participants.get_participant TO bench_confined;
INSERT INTO participants.project_access (project_id, role_name) VALUES ('$P', 'bench_confined');
-- GRANTS other grants: GRANTS/10 other projects, each granted to 10 roles
CREATE TABLE other_projects AS SELECT participants.create_project('other ' || i) AS id FROM generate_series(1, greatest($GRANTS / 10, 1)) i;
DO \$\$
BEGIN
	FOR i IN 1..10 LOOP
		EXECUTE format('DROP ROLE IF EXISTS bench_other_%s', i);
		EXECUTE format('CREATE ROLE bench_other_%s', i);
	END LOOP;
END \$\$;
VACUUM ANALYZE;
SQL
echo "participants confinement check: $CALLS calls per statement, $REPS runs, pgbench ${SECS}s, $(nproc) cores"

with_grants() { # add or remove the other grants
    if [ "$1" = on ]; then
        "${PSQL[@]}" -c "INSERT INTO participants.project_access (project_id, role_name)
                         SELECT o.id, 'bench_other_' || r FROM other_projects o, generate_series(1, 10) r" >/dev/null
    else
        "${PSQL[@]}" -c "DELETE FROM participants.project_access WHERE role_name LIKE 'bench_other_%'" >/dev/null
    fi
    "${PSQL[@]}" -c "VACUUM ANALYZE participants.project_access" >/dev/null
}

# loop_us ROLE: microseconds per get_participant call, CALLS calls in one statement
loop_us() {
    local t0 t1
    t0=$(now)
    $PGBIN/psql -X -q -At -v ON_ERROR_STOP=1 -h "$DIR" -p "$PORT" -U "$1" -d bench \
        -c "SELECT count(participants.get_participant('$P', 'P1')) FROM generate_series(1, $CALLS)" >/dev/null
    t1=$(now)
    awk -v s="$(elapsed "$t0" "$t1")" -v n="$CALLS" 'BEGIN {printf "%.2f", s * 1e6 / n}'
}

cat >"$DIR/get.sql" <<SQL
SELECT participants.get_participant('$P', 'P1');
SQL
# tps ROLE: get_participant TPS of ROLE under pgbench
tps() {
    local log=$DIR/pgbench.$1.$RANDOM.log t
    as_pg $PGBIN/pgbench -n -h "$DIR" -p "$PORT" -U "$1" -c 2 -j 2 -M prepared -T "$SECS" -f "$DIR/get.sql" bench >"$log" 2>&1 || true
    t=$(awk '/^tps/ {printf "%.0f", $3}' "$log")
    if [ -z "$t" ] || grep -q "aborted" "$log"; then cat "$log" >&2; exit 1; fi
    echo "$t"
}

declare -A L T
for r in $(seq 1 "$REPS"); do
    with_grants off
    L[super]+="$(loop_us postgres) "; L[confined]+="$(loop_us bench_confined) "
    with_grants on
    L[many]+="$(loop_us bench_confined) "
done
for r in $(seq 1 "$REPS"); do
    with_grants off
    T[super]+="$(tps postgres) "; T[confined]+="$(tps bench_confined) "
    with_grants on
    T[many]+="$(tps bench_confined) "
done
with_grants off

med() { tr ' ' '\n' | grep -v '^$' | median; }
ls=$(echo "${L[super]}" | med); lc=$(echo "${L[confined]}" | med); lm=$(echo "${L[many]}" | med)
ts=$(echo "${T[super]}" | med); tc=$(echo "${T[confined]}" | med); tm=$(echo "${T[many]}" | med)
printf '%-44s %10s %12s\n' "caller" "us/call" "pgbench tps"
printf '%-44s %10s %12s\n' "superuser (not confined: the baseline)" "$ls" "$ts"
printf '%-44s %10s %12s\n' "confined by a project_access grant" "$lc" "$tc"
printf '%-44s %10s %12s\n' "confined, $GRANTS other grants in the table" "$lm" "$tm"
echo "check cost per call (confined - superuser): $(awk -v a="$lc" -v b="$ls" 'BEGIN {printf "%.2f", a - b}') us, with $GRANTS other grants: $(awk -v a="$lm" -v b="$ls" 'BEGIN {printf "%.2f", a - b}') us"
echo "ratios confined / superuser: time per call $(ratio "$lc" "$ls"), tps $(ratio "$tc" "$ts"); with $GRANTS other grants: time per call $(ratio "$lm" "$ls"), tps $(ratio "$tm" "$ts")"
