#!/usr/bin/env bash
# test/memory.sh SOCKETDIR PORT [SMALL] [LARGE]
#
# Bulk memory check: one upsert_participants call of LARGE elements must use the
# backend memory of its input and output plus a bounded working set, like a call
# of SMALL elements; per-chunk memory is reset, so nothing else grows with size.
# The backend's private memory (RssAnon) is sampled every 5 ms during each call
# (shared buffers are not counted). Exits non-zero when the check fails.
set -euo pipefail
SOCK=$1 PORT=$2 SMALL=${3:-10000} LARGE=${4:-200000}
PSQL=(/usr/lib/postgresql/15/bin/psql -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT" -U postgres)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

"${PSQL[@]}" -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS pt_mem" -c "CREATE DATABASE pt_mem"
"${PSQL[@]}" -d pt_mem -c "CREATE EXTENSION participants CASCADE"

# measure N: prints "peak_anon_kb input_bytes output_bytes"
measure() {
    local n=$1 pidfile=$WORK/pid.$1 out=$WORK/out.$1
    "${PSQL[@]}" -d pt_mem -At >"$out" <<SQL &
CREATE TEMP TABLE body AS
  SELECT participants.create_project('mem $n') AS project,
         (SELECT jsonb_agg(jsonb_build_object(
            'participantIdentifier', 'M$n-' || i,
            'demographics', jsonb_build_object('email', 'm$n.' || i || '@example.com',
                'firstName', 'First' || i, 'lastName', 'Last' || i, 'city', 'City',
                'dateOfBirth', '1980-01-01', 'mobilePhone', (3000000000 + $n * 10 + i)::text),
            'customFields', jsonb_build_object('Score', i, 'Arm', 'A')))
          FROM generate_series(1, $n) i) AS participants;
SELECT pg_column_size(participants || '[]') FROM body \g $WORK/in.$n
SELECT pg_backend_pid() \g $pidfile
SELECT pg_sleep(0.3) \g /dev/null
SELECT pg_column_size(participants.upsert_participants(project, participants)) FROM body \g $WORK/outsize.$n
SELECT pg_sleep(0.2) \g /dev/null
SQL
    local bg=$! pid="" base=0 peak=0 kb
    for _ in $(seq 1 200); do
        [ -s "$pidfile" ] && pid=$(cat "$pidfile") && break
        sleep 0.05
    done
    [ -n "$pid" ] || { echo "no backend pid" >&2; return 1; }
    base=$(awk '/RssAnon/ {print $2}' "/proc/$pid/status")
    while kill -0 "$bg" 2>/dev/null; do
        kb=$(awk '/RssAnon/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
        [ -n "$kb" ] && [ "$kb" -gt "$peak" ] && peak=$kb
        sleep 0.005
    done
    wait "$bg"
    local in outb
    in=$(cat "$WORK/in.$n") outb=$(cat "$WORK/outsize.$n")
    echo "$((peak - base)) $in $outb"
}

read -r s_kb s_in s_out < <(measure "$SMALL")
read -r l_kb l_in l_out < <(measure "$LARGE")

# working memory: peak growth beyond the call's input and output (kB)
s_work=$(( s_kb - (s_in + s_out) / 1024 ))
l_work=$(( l_kb - (l_in + l_out) / 1024 ))
printf 'bulk memory: %7d elements: peak +%6d kB private (input %6d kB, output %6d kB, other %6d kB)\n' \
    "$SMALL" "$s_kb" $((s_in / 1024)) $((s_out / 1024)) "$s_work"
printf 'bulk memory: %7d elements: peak +%6d kB private (input %6d kB, output %6d kB, other %6d kB)\n' \
    "$LARGE" "$l_kb" $((l_in / 1024)) $((l_out / 1024)) "$l_work"

# The large call may hold its input and output; everything else must stay within
# 16 MB of the small call's (a leak of 90 bytes per element would exceed it).
limit=$(( s_work + 16384 ))
if [ "$l_work" -le "$limit" ]; then
    echo "bulk memory: ok (other memory ${l_work} kB <= ${limit} kB)"
else
    echo "bulk memory: FAILED (other memory ${l_work} kB > ${limit} kB)"
    exit 1
fi
"${PSQL[@]}" -d postgres -c "DROP DATABASE pt_mem"
