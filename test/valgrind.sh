#!/usr/bin/env bash
# test/valgrind.sh — run the pg_regress and isolation suites against a server under
# valgrind memcheck and report every error whose stack passes through the extension.
# Run as root after "make install" (or after "sudo bash test/dev.sh test"):
#
#   sudo bash test/valgrind.sh
#
# Debian's server binary works under memcheck; PostgreSQL's own known reports (WAL
# padding written to disk, the regex cache's overlapping memcpy) are not ours and
# are not counted. Exits non-zero when a report's stack passes through our code.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PGBIN=/usr/lib/postgresql/15/bin
PORT=${PT_VALGRIND_PORT:-5450}
D=$(mktemp -d /tmp/participants-valgrind.XXXXXX)
chmod 755 "$D"
chown postgres:postgres "$D"
# from /, which the postgres user can always enter (a checkout in a private
# home directory would make pg_ctl and initdb complain about the working directory)
as_pg() { (cd / && runuser -u postgres -- "$@"); }
cleanup() {
    as_pg $PGBIN/pg_ctl -D "$D/db" -m fast -w -t 120 stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

command -v valgrind >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null; }
as_pg $PGBIN/initdb -D "$D/db" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
as_pg mkdir -p "$D/sock" "$D/logs"
cat >"$D/postgres.sh" <<EOF
exec valgrind --quiet --trace-children=yes --track-origins=yes --num-callers=40 \
  --error-limit=no --log-file=$D/logs/vg.%p.log \
  $PGBIN/postgres -D $D/db -p $PORT -k $D/sock -c listen_addresses= -c max_connections=20
EOF
as_pg bash "$D/postgres.sh" >"$D/server.log" 2>&1 &
for _ in $(seq 1 120); do
    $PGBIN/pg_isready -q -h "$D/sock" -p "$PORT" && break
    sleep 1
done
PGHOST=$D/sock PGPORT=$PORT PGUSER=postgres make -C "$ROOT" -s installcheck || true
cleanup

# a frame in our code names one of our source files (debug info) or the library
ours="participants\\.so|\\(($(cd "$ROOT/src" && ls *.c | sed 's/\.c$//' | paste -sd'|'))\\.c:[0-9]+\\)"
# PostgreSQL's own reports, whichever frames they pass through: WAL padding
# written to disk (its origin may be any earlier stack frame, ours included,
# as leaf functions use the stack below its pointer), and the padding of
# invalidation messages this backend sent and then read back (they reach our
# code when it accepts invalidations)
known="XLogFlush.*created by a stack allocation|ReceiveSharedInvalidMessages.*CacheInvalidateHeapTuple|RE_compile_and_cache"
reports=0
for f in "$D"/logs/vg.*.log; do
    # one report runs from an error line to the next "==PID== " line; keep
    # those through our code that are not PostgreSQL's own
    awk -v re="$ours" -v known="$known" '
        /^==[0-9]+== [A-Z]/ && r == "" { r = $0 "\n"; next }
        r != "" && /^==[0-9]+== $/ { if (r ~ re && r !~ known) { printf "%s\n", r; n++ } r = ""; next }
        r != "" { r = r $0 "\n" }
        END { if (r != "" && r ~ re && r !~ known) { printf "%s\n", r; n++ } }' "$f" >"$f.ours"
    n=$(grep -c "^==[0-9]*== [A-Z]" "$f.ours" || true)
    if [ "$n" -gt 0 ]; then
        cat "$f.ours"
        reports=$((reports + n))
    fi
done
echo "valgrind: $reports report(s) in participants.so (logs in $D/logs)"
[ "$reports" -eq 0 ]
