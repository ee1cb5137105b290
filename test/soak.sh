#!/usr/bin/env bash
# test/soak.sh SOCKETDIR PORT — the soak test (test/soak/soak.js) against a running cluster.
#
#   SOAK_CLIENTS=8 SOAK_SECONDS=60 bash test/soak.sh SOCKETDIR PORT
#
# N clients (SOAK_CLIENTS, default 8) run a weighted mix of every writing API call for
# SOAK_SECONDS (default 60) while two consumers poll events_since; then the invariants are
# checked (see test/soak/soak.js). With SOAK_COMPARE=1 it then runs the same mix without
# refilters and prints the throughput of both and their ratio. Output: the counts, and one
# "ok - ..." / "not ok - ..." line per check; exits non-zero on any failure.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SOCK=$1
PORT=$2
CLIENTS=${SOAK_CLIENTS:-8}
SECONDS_=${SOAK_SECONDS:-60}
SEED=${SOAK_SEED:-$((RANDOM * 32768 + RANDOM))}

if [ ! -d "$HERE/soak/node_modules/pg" ]; then
    (cd "$HERE/soak" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
rc=0
node "$HERE/soak/soak.js" --host "$SOCK" --port "$PORT" --clients "$CLIENTS" --seconds "$SECONDS_" --seed "$SEED" \
    | tee "${TMPDIR:-/tmp}/soak.$$.out" || rc=$?
if [ "${SOAK_COMPARE:-0}" = 1 ]; then
    node "$HERE/soak/soak.js" --host "$SOCK" --port "$PORT" --clients "$CLIENTS" --seconds "$SECONDS_" --seed "$SEED" \
        --no-refilter --db pt_soak_plain | sed 's/^ok - /ok - without refilters: /; s/^not ok - /not ok - without refilters: /' \
        | tee "${TMPDIR:-/tmp}/soak.$$.plain" || rc=$?
    with=$(sed -n 's/^# calls: .* \([0-9]*\) per second$/\1/p' "${TMPDIR:-/tmp}/soak.$$.out")
    without=$(sed -n 's/^# calls: .* \([0-9]*\) per second$/\1/p' "${TMPDIR:-/tmp}/soak.$$.plain")
    echo "# throughput: $with calls/s with refilters, $without without, ratio $(awk -v a="$with" -v b="$without" 'BEGIN {printf "%.2f", a / b}') (target >= 0.5)"
    rm -f "${TMPDIR:-/tmp}/soak.$$.plain"
fi
rm -f "${TMPDIR:-/tmp}/soak.$$.out"
exit "$rc"
