# bench/lib.sh — shared by the benchmark scripts: a throwaway cluster (user postgres,
# Unix socket only, removed on exit) and small statistics helpers. Source it; it sets
# DIR, PORT, PGBIN, PSQL (psql on database "bench") and starts the server (with
# BENCH_SERVER_OPTS added to its options when set).
PORT=${BENCH_PORT:-5441}
PGBIN=/usr/lib/postgresql/15/bin
DIR=$(mktemp -d /tmp/participants-bench.XXXXXX)
chmod 755 "$DIR"
chown postgres:postgres "$DIR"
as_pg() { runuser -u postgres -- "$@"; }
cleanup() { as_pg $PGBIN/pg_ctl -D "$DIR/db" -m fast -w stop >/dev/null 2>&1 || true; rm -rf "$DIR"; }
trap cleanup EXIT

as_pg $PGBIN/initdb -D "$DIR/db" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
as_pg $PGBIN/pg_ctl -D "$DIR/db" -l "$DIR/server.log" -w start \
    -o "-p $PORT -k $DIR -c listen_addresses='' -c shared_buffers=1GB -c synchronous_commit=off -c max_wal_size=4GB -c checkpoint_timeout=30min ${BENCH_SERVER_OPTS:-}" >/dev/null
PSQL=($PGBIN/psql -X -q -At -v ON_ERROR_STOP=1 -h "$DIR" -p "$PORT" -U postgres -d bench)
as_pg $PGBIN/createdb -h "$DIR" -p "$PORT" -U postgres bench

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# p95 of the numbers on stdin (nearest rank)
p95() { sort -g | awk '{a[NR]=$1} END {i = int(NR * 0.95 + 0.999); if (i < 1) i = 1; print a[i]}'; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.6f", b - a}'; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN {printf "%.0f", n / s}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

# pgb SCRIPT [SECONDS [PGBENCH ARGS...]]: transactions per second of SCRIPT under
# pgbench (2 clients, -M prepared); pgbench's own output is kept and shown if it failed
pgb() {
    local log=$DIR/pgbench.$(basename "$1").$RANDOM.log tps script=$1 secs=${2:-$SECS}
    shift; shift || true
    as_pg $PGBIN/pgbench -n -h "$DIR" -p "$PORT" -U postgres -c 2 -j 2 -M prepared -T "$secs" "$@" -f "$script" bench >"$log" 2>&1 || true
    tps=$(awk '/^tps/ {printf "%.0f", $3}' "$log")
    if [ -z "$tps" ] || grep -q "aborted" "$log"; then
        echo "pgbench failed for $script:" >&2
        cat "$log" >&2
        exit 1
    fi
    echo "$tps"
}

# latency SCRIPT: "median p95" in ms over RUNS executions (pgbench, 1 client, -M prepared)
latency() {
    local tag=$DIR/log.$(basename "$1" .sql).$RANDOM
    as_pg $PGBIN/pgbench -n -h "$DIR" -p "$PORT" -U postgres -M prepared -c 1 -t "$RUNS" \
        -l --log-prefix="$tag" -f "$1" bench >"$tag.out" 2>&1 || { cat "$tag.out" >&2; exit 1; }
    if grep -q "aborted" "$tag.out"; then cat "$tag.out" >&2; exit 1; fi
    echo "$(cat "$tag".[0-9]* | awk '{print $3 / 1000}' | median) $(cat "$tag".[0-9]* | awk '{print $3 / 1000}' | p95)"
}
