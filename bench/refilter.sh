#!/usr/bin/env bash
# bench/refilter.sh — participant writes while a dynamic segment is rebuilt.
#
# On a throwaway cluster: one project of SIZE participants with a custom field
# Cohort (0-19) and a dynamic segment {"custom_fields": {"Cohort": 7}}. Two
# pgbench clients upsert participants (a changed first name, one call per
# transaction, -M prepared), in two settings, alternating, REPS times each,
# PGBENCH_SECONDS each:
#   - alone: the baseline
#   - refiltering: meanwhile a third client changes the segment's filter back
#     and forth between Cohort 7 and Cohort 8 (each change ends SIZE/20
#     episodes and begins SIZE/20), one update_segment after another
# It prints the writers' medians and their ratio, the writers' worst and 99th
# percentile latency in each setting (a write that waited for a rebuild shows
# there), and how long a rebuild took. Needs root (for runuser) and the
# extension installed (sudo bash test/dev.sh bench does both).
#
#   SIZE=200000 REPS=3 PGBENCH_SECONDS=15 sudo -E bash bench/refilter.sh
set -euo pipefail
SIZE=${SIZE:-200000}
REPS=${REPS:-3}
SECS=${PGBENCH_SECONDS:-15}
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"${PSQL[@]}" -c "CREATE EXTENSION participants CASCADE"
echo "participants refilter benchmark: $SIZE participants, 2 writers, $REPS x ${SECS}s per setting, $(nproc) cores"
P=$("${PSQL[@]}" -c "SELECT participants.create_project('refilter')")
"${PSQL[@]}" >/dev/null <<SQL
SELECT count(participants.upsert_participants('$P', (
  SELECT jsonb_agg(jsonb_build_object('participantIdentifier', 'P' || i,
    'demographics', jsonb_build_object('firstName', 'F' || i, 'email', 'p' || i || '@example.org'),
    'customFields', jsonb_build_object('Cohort', i % 20)))
  FROM generate_series(b * 10000 + 1, LEAST((b + 1) * 10000, $SIZE)) i)))
FROM generate_series(0, ($SIZE - 1) / 10000) b;
VACUUM ANALYZE;
SQL
S=$("${PSQL[@]}" -c "SELECT participants.create_segment('$P', 'cohort', NULL, '{\"custom_fields\": {\"Cohort\": 7}}')->>'segmentID'")

cat >"$DIR/write.sql" <<SQL
\set i random(1, $SIZE)
SELECT participants.upsert_participant('$P', jsonb_build_object('participantIdentifier', 'P' || :i, 'demographics', jsonb_build_object('firstName', 'W' || :client_id || '-' || random())));
SQL
cat >"$DIR/refilter.sql" <<SQL
\set c 7 + :k % 2
\set k :k + 1
SELECT participants.update_segment('$P', '$S', filter => jsonb_build_object('custom_fields', jsonb_build_object('Cohort', :c::int)));
SQL
chmod 644 "$DIR"/*.sql

# writers SECONDS TAG: TPS, and the per-transaction latencies (ms) in $DIR/lat.TAG
writers() {
    local tag=$DIR/w.$2 tps
    as_pg $PGBIN/pgbench -n -h "$DIR" -p "$PORT" -U postgres -c 2 -j 2 -M prepared -T "$1" \
        -l --log-prefix="$tag" -f "$DIR/write.sql" bench >"$tag.out" 2>&1 || { cat "$tag.out" >&2; exit 1; }
    if grep -q "aborted" "$tag.out"; then cat "$tag.out" >&2; exit 1; fi
    cat "$tag".[0-9]* | awk '{print $3 / 1000}' >"$DIR/lat.$2"
    rm -f "$tag".[0-9]*
    tps=$(awk '/^tps/ {printf "%.0f", $3}' "$tag.out")
    echo "$tps"
}
maxof() { sort -g | tail -1; }
p99() { sort -g | awk '{a[NR]=$1} END {i = int(NR * 0.99 + 0.999); if (i < 1) i = 1; print a[i]}'; }

writers 3 warm >/dev/null
# a rebuild with no writer about
as_pg $PGBIN/pgbench -n -h "$DIR" -p "$PORT" -U postgres -c 1 -M prepared -t 20 -D k=0 \
    -f "$DIR/refilter.sql" bench >"$DIR/refilter.alone.out" 2>&1 || { cat "$DIR/refilter.alone.out" >&2; exit 1; }
quiet=$(awk '/^latency average/ {print $4}' "$DIR/refilter.alone.out")
echo "  a rebuild alone (update_segment, average of 20): $quiet ms"
alone=() busy=() rebuild=() amax=() bmax=() ap99=() bp99=()
for r in $(seq 1 "$REPS"); do
    a=$(writers "$SECS" "alone$r")
    amax+=("$(maxof <"$DIR/lat.alone$r")"); ap99+=("$(p99 <"$DIR/lat.alone$r")")
    # the refilter client runs for the whole writers' run, plus a little
    as_pg $PGBIN/pgbench -n -h "$DIR" -p "$PORT" -U postgres -c 1 -M prepared -T "$((SECS + 1))" \
        -D k=$r -f "$DIR/refilter.sql" bench >"$DIR/refilter.$r.out" 2>&1 &
    rpid=$!
    sleep 0.5
    b=$(writers "$SECS" "busy$r")
    wait "$rpid" || { cat "$DIR/refilter.$r.out" >&2; exit 1; }
    bmax+=("$(maxof <"$DIR/lat.busy$r")"); bp99+=("$(p99 <"$DIR/lat.busy$r")")
    n=$(awk '/number of transactions actually processed/ {print $NF}' "$DIR/refilter.$r.out" | cut -d/ -f1)
    ms=$(awk '/^latency average/ {print $4}' "$DIR/refilter.$r.out")
    alone+=("$a"); busy+=("$b"); rebuild+=("$ms")
    echo "  run $r: writers alone $a tps (p99 ${ap99[-1]} ms, max ${amax[-1]} ms); while refiltering $b tps (p99 ${bp99[-1]} ms, max ${bmax[-1]} ms); $n rebuilds of $ms ms each"
done
am=$(printf '%s\n' "${alone[@]}" | median); bm=$(printf '%s\n' "${busy[@]}" | median)
echo "writers (median of $REPS): alone $am tps, while a segment of $((SIZE / 20)) is rebuilt back to back $bm tps, ratio $(ratio "$bm" "$am")"
echo "writers' worst latency (median of runs): alone $(printf '%s\n' "${amax[@]}" | median) ms, while refiltering $(printf '%s\n' "${bmax[@]}" | median) ms; p99 $(printf '%s\n' "${ap99[@]}" | median) and $(printf '%s\n' "${bp99[@]}" | median) ms"
echo "rebuild (update_segment): alone $quiet ms; among the writers $(printf '%s\n' "${rebuild[@]}" | median) ms (median of runs' averages)"
# the membership is exact after the runs
bad=$("${PSQL[@]}" -c "WITH sel AS (SELECT id FROM participants.participant WHERE project_id = '$P'
    AND custom_fields @> (SELECT filter -> 'custom_fields' FROM participants.segment WHERE project_id = '$P' AND id = '$S')),
  mem AS (SELECT participant_id AS id FROM participants.segment_membership WHERE project_id = '$P' AND segment_id = '$S' AND remove_date IS NULL)
  SELECT (SELECT count(*) FROM (SELECT * FROM sel EXCEPT SELECT * FROM mem) a) + (SELECT count(*) FROM (SELECT * FROM mem EXCEPT SELECT * FROM sel) b)")
echo "membership against the filter at the end: $bad participants differ"
[ "$bad" = 0 ]
