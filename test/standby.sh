#!/usr/bin/env bash
# test/standby.sh SOCKETDIR PORT
#
# A consumer reading events_since on a hot standby never skips an event.
# Makes a streaming replica of the cluster at SOCKETDIR:PORT with
# pg_basebackup, in a throwaway directory, on port PORT + 2, and stops it at
# the end. On the primary a writer holds a status
# change open (its event id drawn, its transaction in progress) while other
# writers commit later events; the consumer polls the standby the whole time.
# Until the held transaction commits, the standby returns nothing from its id
# on; once it commits, the consumer gets it and everything after it, in id
# order, exactly once. Then a run of ROUNDS such rounds with a consumer
# polling throughout, compared with the primary's events at the end.
#
# Output: one "ok - ..." or "not ok - ..." line per check. Run as root (the
# servers run as postgres), after the extension is installed.
set -euo pipefail
SOCK=$1
PORT=$2
ROUNDS=${PT_STANDBY_ROUNDS:-5}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BIN=/usr/lib/postgresql/15/bin
SPORT=$((PORT + 2))
WORK=$(mktemp -d /tmp/participants-standby.XXXXXX)
chmod 755 "$WORK"
chown postgres:postgres "$WORK"
FAILED=0
HOLDER=

# from /, which the postgres user can always enter (a checkout in a private
# home directory would make pg_ctl and initdb complain about the working directory)
as_pg() { (cd / && runuser -u postgres -- "$@"); }
cleanup() {
    [ -n "$HOLDER" ] && kill "$HOLDER" 2>/dev/null || true
    as_pg $BIN/pg_ctl -D "$WORK/standby" -m fast -w stop >/dev/null 2>&1 || true
    "$BIN/psql" -X -q -h "$SOCK" -p "$PORT" -U postgres -d postgres -c "DROP DATABASE IF EXISTS pt_standby" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

ok() { echo "ok - $1"; }
not_ok() { echo "not ok - $1"; shift; for l in "$@"; do printf '%s\n' "$l" | sed 's/^/#   /'; done; FAILED=$((FAILED + 1)); }
check() { # check NAME EXPECTED ACTUAL
    if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "expected: $2" "actual:   $3"; fi
}
P() { "$BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT" -U postgres -d pt_standby "$@"; }
S() { "$BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$WORK/sock" -p "$SPORT" -U postgres -d pt_standby "$@"; }

# -- the primary's data and the replica ------------------------------------------

"$BIN/psql" -X -q -h "$SOCK" -p "$PORT" -U postgres -d postgres -c "DROP DATABASE IF EXISTS pt_standby" -c "CREATE DATABASE pt_standby"
P -c "CREATE EXTENSION participants CASCADE" 2>/dev/null
PROJECT=$(P -c "SELECT participants.create_project('standby feed')")
STUDY=$(P -c "SELECT participants.create_study('$PROJECT', 'standby study') ->> 'studyID'")
P -c "SELECT participants.upsert_participants('$PROJECT', (SELECT jsonb_agg(jsonb_build_object('participantIdentifier', 'S' || i)) FROM generate_series(1, 20) i)) ->> 'totalAdded'" >/dev/null
P -c "SELECT participants.add_study_participants('$PROJECT', '$STUDY', (SELECT jsonb_agg('S' || i) FROM generate_series(1, 20) i)) ->> 'added'" >/dev/null

as_pg mkdir -p "$WORK/sock"
if as_pg $BIN/pg_basebackup -h "$SOCK" -p "$PORT" -U postgres -D "$WORK/standby" -R -X stream -c fast >"$WORK/basebackup.log" 2>&1 \
        && as_pg $BIN/pg_ctl -D "$WORK/standby" -l "$WORK/standby.log" -w -t 60 start \
            -o "-p $SPORT -k $WORK/sock -c listen_addresses= -c hot_standby=on" >/dev/null; then
    ok "a streaming replica made with pg_basebackup runs as a hot standby"
else
    not_ok "a streaming replica made with pg_basebackup runs as a hot standby" "$(cat "$WORK/basebackup.log" "$WORK/standby.log" 2>/dev/null)"
    echo "# $FAILED check(s) failed"
    exit 1
fi
check "the standby is in recovery" t "$(S -c "SELECT pg_is_in_recovery()")"

# the script stops here, saying why, rather than going on from a wrong state
give_up() {
    not_ok "$1" "$(tail -5 "$WORK/standby.log" 2>/dev/null)"
    echo "# $FAILED check(s) failed"
    exit 1
}

# wait until the standby has replayed everything the primary wrote so far (the
# flush position: the insert position may sit past a page header that no record
# fills until the next write)
caught_up() {
    local lsn i
    lsn=$(P -c "SELECT pg_current_wal_flush_lsn()")
    for i in $(seq 1 1200); do
        [ "$(S -c "SELECT pg_last_wal_replay_lsn() >= '$lsn'::pg_lsn")" = t ] && return 0
        sleep 0.05
    done
    give_up "the standby replays the primary's WAL up to $lsn within 60 s (it is at $(S -c "SELECT pg_last_wal_replay_lsn()"))"
}

# the ids events_since returns on the standby after AFTER: "id id ..."
feed() { S -c "SELECT coalesce(string_agg(e ->> 'eventID', ' ' ORDER BY (e ->> 'eventID')::bigint), '')
               FROM jsonb_array_elements(participants.events_since('$PROJECT', $1, 1000)) e"; }

# a writer that holds its transaction open: a psql reading commands from a fifo
hold_start() {
    mkfifo "$WORK/hold.in"
    "$BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT" -U postgres -d pt_standby \
        <"$WORK/hold.in" >"$WORK/hold.out" 2>&1 &
    HOLDER=$!
    exec {HOLD_FD}>"$WORK/hold.in"
}
hold_send() { echo "$1" >&"$HOLD_FD"; }
hold_wait() { # wait until the holder printed MARK
    local i
    hold_send "SELECT 'mark-$1';"
    for i in $(seq 1 1200); do
        grep -q "^mark-$1\$" "$WORK/hold.out" && return 0
        sleep 0.05
    done
    give_up "the writer holding a change open answers within 60 s (step $1): $(tail -3 "$WORK/hold.out")"
}

# -- one round, step by step ------------------------------------------------------

caught_up
BASE=$(P -c "SELECT coalesce(max(id), 0) FROM participants.event WHERE project_id = '$PROJECT'")
hold_start
hold_send "BEGIN;"
hold_send "SELECT participants.set_participant_status('$PROJECT', '$STUDY', 'S1', 'INVITE_SENT') IS NOT NULL;"
hold_wait 1
HELD=$(P -c "SELECT max(id) FROM participants.event WHERE project_id = '$PROJECT'" )
# HELD is the last committed id; the held event's id is the next one drawn
P -c "SELECT participants.set_participant_status('$PROJECT', '$STUDY', 'S2', 'INVITE_SENT') IS NOT NULL" >/dev/null
P -c "SELECT participants.set_participant_status('$PROJECT', '$STUDY', 'S3', 'INVITE_SENT') IS NOT NULL" >/dev/null
caught_up
LATER=$(P -c "SELECT string_agg(id::text, ' ' ORDER BY id) FROM participants.event WHERE project_id = '$PROJECT' AND id > $BASE")
check "while the held event is in flight, the standby returns nothing from it on (committed later events: $LATER)" "" "$(feed "$BASE")"
hold_send "COMMIT;"
hold_wait 2
caught_up
ALL=$(P -c "SELECT string_agg(id::text, ' ' ORDER BY id) FROM participants.event WHERE project_id = '$PROJECT' AND id > $BASE")
check "once it commits, the standby returns it and every later event, in id order" "$ALL" "$(feed "$BASE")"
check "the held event was drawn before the later ones (so a reader that passed it would have skipped it)" \
    "$((HELD + 1))" "$(P -c "SELECT min(id) FROM participants.event WHERE project_id = '$PROJECT' AND id > $BASE")"

# -- rounds with a consumer polling the standby throughout ------------------------

# the consumer: polls from its cursor, appends what it gets to a file
CURSOR=$(P -c "SELECT coalesce(max(id), 0) FROM participants.event WHERE project_id = '$PROJECT'")
START=$CURSOR
: >"$WORK/consumed"
touch "$WORK/consumer.run"
(
    c=$CURSOR
    while [ -f "$WORK/consumer.run" ]; do
        got=$(feed "$c" 2>/dev/null || true)
        for id in $got; do echo "$id" >>"$WORK/consumed"; c=$id; done
        sleep 0.02
    done
    got=$(feed "$c" 2>/dev/null || true)
    for id in $got; do echo "$id" >>"$WORK/consumed"; done
) &
CONSUMER=$!

for r in $(seq 1 "$ROUNDS"); do
    # a held change, later committed changes, then the held one commits (or
    # rolls back every third round)
    i=$((r % 20 + 1))
    hold_send "BEGIN;"
    hold_send "SELECT participants.set_opted_out('$PROJECT', 'S$i', $( [ $((r % 2)) = 0 ] && echo false || echo true )) IS NOT NULL;"
    hold_wait "r$r"
    for j in 1 2 3; do
        k=$(( (r * 3 + j) % 20 + 1 ))
        [ "$k" = "$i" ] && continue
        P -c "SELECT participants.set_opted_out('$PROJECT', 'S$k', $( [ $(( (r + j) % 2)) = 0 ] && echo false || echo true )) IS NOT NULL" >/dev/null
    done
    sleep 0.3
    if [ $((r % 3)) = 0 ]; then hold_send "ROLLBACK;"; else hold_send "COMMIT;"; fi
    hold_wait "e$r"
done
caught_up
sleep 0.5
rm -f "$WORK/consumer.run"
wait "$CONSUMER"
hold_send '\q'
exec {HOLD_FD}>&-
wait "$HOLDER" || true
HOLDER=

EXPECTED=$(P -c "SELECT coalesce(string_agg(id::text, ' ' ORDER BY id), '') FROM participants.event WHERE project_id = '$PROJECT' AND id > $START")
GOT=$(paste -sd' ' "$WORK/consumed")
check "a consumer polling the standby through $ROUNDS rounds got every committed event exactly once, in id order" "$EXPECTED" "$GOT"
check "nothing it got was read twice" "" "$(sort "$WORK/consumed" | uniq -d | paste -sd' ')"

if [ "$FAILED" -gt 0 ]; then
    echo "# $FAILED check(s) failed"
    exit 1
fi
