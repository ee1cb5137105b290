#!/usr/bin/env bash
# test/webhooks.sh SOCKETDIR PORT
#
# Webhook delivery, end to end: test/webhooks/delivery.test.js against the
# cluster at SOCKETDIR:PORT (started with shared_preload_libraries =
# 'participants'), with a receiver on 127.0.0.1 that the test runs itself;
# then, on a throwaway cluster without the library preloaded (port PORT + 3),
# create_webhook saves the webhook and warns that nothing will be delivered.
#
# Output: TAP lines ("ok N - ..." / "not ok N - ..."). Run as root (the
# throwaway server runs as postgres), after the extension is installed and
# test/http's node_modules (npm ci) are in place.
set -euo pipefail
SOCK=$1
PORT=$2
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BIN=/usr/lib/postgresql/15/bin
WPORT=$((PORT + 3))
WORK=$(mktemp -d /tmp/participants-webhooks.XXXXXX)
chmod 755 "$WORK"
chown postgres:postgres "$WORK"
as_pg() { (cd / && runuser -u postgres -- "$@"); }
cleanup() {
    as_pg $BIN/pg_ctl -D "$WORK/db" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

st=0
(cd "$HERE/webhooks" && PGHOST=$SOCK PGPORT=$PORT PGUSER=postgres \
    node --test --test-reporter=tap delivery.test.js) || st=1

# without shared_preload_libraries: saved, with a WARNING
as_pg mkdir -p "$WORK/sock"
as_pg $BIN/initdb -D "$WORK/db" -U postgres -A trust >/dev/null
as_pg $BIN/pg_ctl -D "$WORK/db" -l "$WORK/log" -w -t 60 start \
    -o "-p $WPORT -k $WORK/sock -c listen_addresses='' -c shared_preload_libraries=''" >/dev/null
out=$("$BIN/psql" -X -q -At -h "$WORK/sock" -p "$WPORT" -U postgres -d postgres 2>&1 <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION participants CASCADE;
SELECT participants.create_webhook(participants.create_project('p'), 'https://example.org/hook') ->> 'active';
SELECT count(*) FROM participants.webhook;
SQL
) || true
if grep -q 'WARNING:  webhooks are not delivered: the participants library is not in shared_preload_libraries' <<<"$out" \
        && grep -qx 'true' <<<"$out" && grep -qx '1' <<<"$out"; then
    echo "ok - without shared_preload_libraries create_webhook saves the webhook and warns that nothing is delivered"
else
    echo "not ok - without shared_preload_libraries create_webhook saves the webhook and warns that nothing is delivered"
    printf '%s\n' "$out" | sed 's/^/#   /'
    st=1
fi
exit $st
