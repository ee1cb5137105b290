#!/usr/bin/env bash
# bench/cluster.sh: the same calls on one node and through the coordinator of an
# existing Citus cluster (doc/scaling-out.md), in one run, with the ratios.
# It never builds, installs or downloads Citus.
#
#   PT_CITUS_COORDINATOR=HOST:PORT  PT_CITUS_DB=DB   the coordinator, and a database where
#                                                    participants.distribute() ran
#   PT_ONE_NODE=HOST:PORT           PT_ONE_NODE_DB=DB a server with the extension, not distributed
#   PT_USER=postgres                                  a superuser on both
#
# Prints, for each: upsert_participants rows/s (10,000 new per call, median of
# BULK_RUNS), upsert_participant tps (2 clients, pgbench PGBENCH_SECONDS s, median of
# RUNS) and the average latency of a text search over what the bulk calls
# loaded (200 calls, median of RUNS); then each cluster figure over the one-node
# figure. Both databases get synchronous_commit = off.
set -euo pipefail
: "${PT_CITUS_COORDINATOR:?set PT_CITUS_COORDINATOR=HOST:PORT}"
: "${PT_CITUS_DB:?set PT_CITUS_DB}"
: "${PT_ONE_NODE:?set PT_ONE_NODE=HOST:PORT}"
: "${PT_ONE_NODE_DB:?set PT_ONE_NODE_DB}"
USER_=${PT_USER:-postgres}
BULK_RUNS=${BULK_RUNS:-5} RUNS=${RUNS:-3} PGBENCH_SECONDS=${PGBENCH_SECONDS:-10}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

measure() { # LABEL HOST PORT DB -> sets BULK_<label>, SINGLE_<label>, SEARCH_<label>
    local label=$1 h=$2 port=$3 db=$4 p i s e
    local psql=("$PGBIN/psql" -qXtA -v ON_ERROR_STOP=1 -h "$h" -p "$port" -U "$USER_" -d "$db")
    "${psql[@]}" -c "ALTER DATABASE $db SET synchronous_commit = off" >/dev/null
    p=$("${psql[@]}" -c "SELECT participants.create_project('bench cluster $label $$')")
    : >"$WORK/bulk"
    for i in $(seq 1 "$BULK_RUNS"); do
        s=$(date +%s.%N)
        "${psql[@]}" -c "SELECT participants.upsert_participants('$p', (SELECT jsonb_agg(jsonb_build_object(
            'participantIdentifier', 'B$i-' || g, 'demographics',
            jsonb_build_object('lastName', 'Smith' || (g % 200), 'city', 'C' || g)))
            FROM generate_series(1, 10000) g)) ->> 'totalAdded'" >/dev/null
        e=$(date +%s.%N)
        echo "10000 / ($e - $s)" | bc -l >>"$WORK/bulk"
    done
    printf '%s\n' '\set n random(1, 50000)' \
        "SELECT participants.upsert_participant('$p', ('{\"participantIdentifier\": \"S-' || :n || '\", \"demographics\": {\"city\": \"C' || :n || '\"}}')::jsonb);" \
        >"$WORK/single.sql"
    printf '%s\n' "SELECT participants.query_participants('$p', query => 'smith17', page_size => 20) ->> 'totalParticipants';" \
        >"$WORK/search.sql"
    : >"$WORK/single"; : >"$WORK/search"
    for i in $(seq 1 "$RUNS"); do
        "$PGBIN/pgbench" -n -h "$h" -p "$port" -U "$USER_" -c 2 -T "$PGBENCH_SECONDS" -f "$WORK/single.sql" "$db" 2>/dev/null |
            sed -n 's/^tps = \([0-9.]*\).*/\1/p' >>"$WORK/single"
        "$PGBIN/pgbench" -n -h "$h" -p "$port" -U "$USER_" -c 1 -t 200 -f "$WORK/search.sql" "$db" 2>/dev/null |
            sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' >>"$WORK/search"
    done
    printf -v "BULK_$label" '%s' "$(median <"$WORK/bulk")"
    printf -v "SINGLE_$label" '%s' "$(median <"$WORK/single")"
    printf -v "SEARCH_$label" '%s' "$(median <"$WORK/search")"
}

measure one "${PT_ONE_NODE%:*}" "${PT_ONE_NODE##*:}" "$PT_ONE_NODE_DB"
measure cluster "${PT_CITUS_COORDINATOR%:*}" "${PT_CITUS_COORDINATOR##*:}" "$PT_CITUS_DB"

echo "| call | one node | through the coordinator | ratio |"
echo "|---|---|---|---|"
printf '| upsert_participants, 10,000 new per call | %.0f rows/s | %.0f rows/s | %.2f |\n' \
    "$BULK_one" "$BULK_cluster" "$(echo "$BULK_cluster / $BULK_one" | bc -l)"
printf '| upsert_participant, 2 clients | %.0f tps | %.0f tps | %.2f |\n' \
    "$SINGLE_one" "$SINGLE_cluster" "$(echo "$SINGLE_cluster / $SINGLE_one" | bc -l)"
printf '| query_participants, text search | %.2f ms | %.2f ms | %.2f |\n' \
    "$SEARCH_one" "$SEARCH_cluster" "$(echo "$SEARCH_one / $SEARCH_cluster" | bc -l)"
