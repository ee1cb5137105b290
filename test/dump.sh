#!/usr/bin/env bash
# test/dump.sh SOCKETDIR PORT
#
# Dump and restore: the data of the participants extension survives pg_dump
# into a fresh database, both as a custom-format dump loaded with pg_restore and
# as a plain dump replayed with psql -f (doc/reliability.md; pg_restore runs
# sequentially, without -j, as doc/segments.md asks). A restore runs
# CREATE EXTENSION first, which creates the extension's triggers, and then loads
# the rows with COPY, so every trigger sees the restored rows; this proves that
# none of them rejects, duplicates or re-emits anything:
#
#   - the source (test/dump/load.sql, built through the API) holds two projects,
#     typed custom fields (one sortable), participants with full demographics,
#     generated identifiers (one number taken by hand), an enrolled, a withdrawn
#     and an opted-out participant, static and dynamic segments with closed
#     episodes, studies with allowlist, blocklist and completion codes,
#     statuses and their events, a changed status graph, a project_access
#     grant with function privileges, consent versions with grants and a
#     withdrawal, a study requiring consent, contact rules with a contact
#     past them (overridden), incentives past the yearly limit, imports with
#     their row reports (one with a failed row and an idempotency key, one
#     failed as a whole, a dry run), an erasure with its tombstone and one
#     forgotten, the project's erasure key, a retention setting applied
#     (archived statuses) and the audit log of all of it;
#   - both restores finish without an error (pg_dump too);
#   - test/dump/snapshot.sql, one JSON document of everything the API answers
#     for every object (participants, segments and their history, studies,
#     statuses, events_since, imports and their rows, erasures, the audit
#     log, the views) plus the lifecycle tables row by row, each table's row
#     count and content hash, the sequences, the sortable field's indexes and
#     the grants, is identical to the source's, ids and timestamps included;
#   - no event, audit row, import or row report was written again (same
#     counts), the erasure keys are the source's, and no listener
#     of participants_events in the target database heard a notification
#     during the restore (it hears the first change made after it);
#   - no membership episode was added (dynamic segments are not rebuilt);
#   - the sequences continue: a new status change gets an event id above the
#     source's last, a new participant a generated identifier that did not
#     exist, a new membership episode an id above the source's last;
#   - the triggers still work on new writes: a new study participant gets
#     exactly its first event, a participant change moves a dynamic
#     membership, and the rules hold (a transition the graph forbids, a move
#     from a final status, an enrolled participant's email change and enrolling
#     a withdrawn participant are PT409, a bad custom field value 22023);
#     the restored graph of project B (a transition added by a DBA) is used,
#     the restored contact rule, yearly limit and withdrawal still hold, and
#     the restored grant confines regress_dump_reader to its project;
#   - the lifecycle holds: the restored tombstone (with the restored key)
#     refuses the erased email and phone through upsert_participant and in a
#     new import (PT409), the forgotten one refuses nothing, the restored
#     idempotency key returns the source's import, the restored audit log is
#     still append-only (UPDATE and DELETE are PT409), and apply_retention
#     finds nothing more to remove.
#
# Output is one "ok - ..." or "not ok - ..." line per check (details of a
# failure on "# " lines); the exit status is non-zero when any check fails.
# Runs pg_dump, pg_restore and psql as the invoking user, connecting as
# postgres through SOCKETDIR. Creates and drops the databases pt_dump_src,
# pt_dump_custom and pt_dump_plain, and the role regress_dump_reader when it
# did not exist.
set -euo pipefail
SOCK=$1 PORT=$2
BIN=/usr/lib/postgresql/15/bin
CONN=(-h "$SOCK" -p "$PORT" -U postgres)
PSQL=("$BIN/psql" -X -q -v ON_ERROR_STOP=1 "${CONN[@]}")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORK=$(mktemp -d)
DBS=(pt_dump_src pt_dump_custom pt_dump_plain)
CREATED_ROLE=0
LISTENERS=()
FAILED=0

cleanup() {
    local pid db
    for pid in "${LISTENERS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for db in "${DBS[@]}"; do
        "${PSQL[@]}" -d postgres -c "SET client_min_messages = warning" \
            -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    done
    if [ "$CREATED_ROLE" = 1 ]; then
        "${PSQL[@]}" -d postgres -c "DROP ROLE IF EXISTS regress_dump_reader" >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

ok() { echo "ok - $1"; }
# not_ok WHAT [DETAIL...]: a failed check, its details as "# " lines
not_ok() {
    echo "not ok - $1"
    FAILED=$((FAILED + 1))
    shift
    local d
    for d in "$@"; do
        [ -n "$d" ] && printf '%s\n' "$d" | awk 'NR <= 40 { print "#   " $0 }'
    done
    return 0
}
# check WHAT EXPECTED ACTUAL
check() {
    if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "expected: $2" "got:      $3"; fi
}
# check_true WHAT VALUE [DETAIL]: VALUE is psql's boolean "t"
check_true() {
    if [ "$2" = t ]; then ok "$1"; else not_ok "$1" "got: $2" "${3:-}"; fi
}
# q DB SQL...: the value of a query (unaligned, tuples only)
q() { local db=$1; shift; "${PSQL[@]}" -At -d "$db" -c "SET TimeZone = 'UTC'" "$@"; }
# sqlstate DB SQL: the SQLSTATE the statement fails with, or "none"
sqlstate() {
    local out
    out=$("$BIN/psql" -X -q "${CONN[@]}" -d "$1" -v VERBOSITY=sqlstate -c "$2" 2>&1 >/dev/null || true)
    out=$(printf '%s\n' "$out" | awk '/^ERROR:/ && !n++ { sub(/^ERROR: +/, ""); print }')
    echo "${out:-none}"
}
bail() { not_ok "$@"; exit 1; }

# -- the source database ------------------------------------------------------

cleanup_dbs() {
    local db
    for db in "${DBS[@]}"; do
        "${PSQL[@]}" -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"
    done
}
cleanup_dbs
if [ -z "$(q postgres -c "SELECT 1 FROM pg_roles WHERE rolname = 'regress_dump_reader'")" ]; then
    "${PSQL[@]}" -d postgres -c "CREATE ROLE regress_dump_reader NOLOGIN"
    CREATED_ROLE=1
fi

"$BIN/createdb" "${CONN[@]}" -T template0 pt_dump_src
if ! "${PSQL[@]}" -d pt_dump_src -c "SET client_min_messages = warning" \
        -c "CREATE EXTENSION participants CASCADE" -f "$HERE/dump/load.sql" >"$WORK/load.out" 2>&1; then
    bail "source database loads through the API" "$(cat "$WORK/load.out")"
fi
ok "source database loads through the API"

"${PSQL[@]}" -At -d pt_dump_src -f "$HERE/dump/snapshot.sql" >"$WORK/snap.src.json"

A=$(q pt_dump_src -c "SELECT id FROM participants.project WHERE name = 'Alpha heart study'")
B=$(q pt_dump_src -c "SELECT id FROM participants.project WHERE name = 'Beta lung study'")
S1=$(q pt_dump_src -c "SELECT id FROM participants.study WHERE project_id = '$A' AND name = 'Diet study'")
S3=$(q pt_dump_src -c "SELECT id FROM participants.study WHERE project_id = '$B' AND name = 'Lung survey'")
CALL=$(q pt_dump_src -c "SELECT id FROM participants.segment WHERE project_id = '$A' AND name = 'Call list'")
SMOKERS=$(q pt_dump_src -c "SELECT id FROM participants.segment WHERE project_id = '$A' AND name = 'Smokers'")
GEN3=$(q pt_dump_src -c "SELECT participant_identifier FROM participants.participant WHERE project_id = '$A' AND email = 'gen.three@example.com'")
SRC_EVENTS=$(q pt_dump_src -c "SELECT count(*) || ' events, max id ' || max(id) FROM participants.event")
SRC_MAX_EVENT=$(q pt_dump_src -c "SELECT max(id) FROM participants.event WHERE project_id = '$A'")
SRC_EPISODES=$(q pt_dump_src -c "SELECT count(*) || ' episodes, ' || count(*) FILTER (WHERE remove_date IS NULL) || ' current, max id ' || max(id) FROM participants.segment_membership")
SRC_MAX_EPISODE=$(q pt_dump_src -c "SELECT max(id) FROM participants.segment_membership WHERE project_id = '$A'")
SRC_IDENTIFIERS=$(q pt_dump_src -c "SELECT string_agg(participant_identifier, ' ' ORDER BY participant_identifier) FROM participants.participant")
# B's participant with a generated identifier (no prefix: only digits)
B_GEN=$(q pt_dump_src -c "SELECT min(participant_identifier) FROM participants.participant WHERE project_id = '$B' AND participant_identifier ~ '^[0-9]{8}\$'")
# the lifecycle: project C (retention), the import with an idempotency key,
# what a restore must not add to, the erasure keys
C=$(q pt_dump_src -c "SELECT id FROM participants.project WHERE name = 'Gamma retention study'")
IMPORT1=$(q pt_dump_src -c "SELECT id FROM participants.import WHERE project_id = '$B' AND idempotency_key = 'load-1'")
SRC_AUDIT=$(q pt_dump_src -c "SELECT count(*) || ' audit rows, last ' || max(audit_date) FROM participants.audit")
SRC_IMPORTS=$(q pt_dump_src -c "SELECT count(*) || ' imports, ' || (SELECT count(*) FROM participants.import_row) || ' row reports' FROM participants.import")
SRC_SECRETS=$(q pt_dump_src -c "SELECT string_agg(project_id || ' ' || md5(erasure_key), ', ' ORDER BY project_id) FROM participants.project_secret")
# the projects' notification channels, which the restores bring back with the dump
SRC_LISTEN=$(q pt_dump_src -c "SELECT string_agg(format('LISTEN %I;', event_channel), ' ' ORDER BY event_channel) FROM participants.project_counter")
# the source itself must show what the checks rely on
check_true "source has closed episodes of static and dynamic segments, events and an opted-out, a withdrawn and an enrolled participant" \
    "$(q pt_dump_src -c "SELECT EXISTS (SELECT FROM participants.segment_membership m JOIN participants.segment s ON (s.project_id, s.id) = (m.project_id, m.segment_id) WHERE s.kind = 'static' AND m.remove_date IS NOT NULL)
        AND EXISTS (SELECT FROM participants.segment_membership m JOIN participants.segment s ON (s.project_id, s.id) = (m.project_id, m.segment_id) WHERE s.kind = 'dynamic' AND m.remove_date IS NOT NULL)
        AND EXISTS (SELECT FROM participants.participant WHERE opted_out)
        AND EXISTS (SELECT FROM participants.participant WHERE withdraw_date IS NOT NULL)
        AND EXISTS (SELECT FROM participants.participant WHERE enrollment_date IS NOT NULL AND withdraw_date IS NULL)
        AND EXISTS (SELECT FROM participants.participant WHERE participant_identifier ~ '^HS-[0-9]{8}$')
        AND EXISTS (SELECT FROM participants.study_participant WHERE completion_code IS NOT NULL)
        AND (SELECT count(*) FROM participants.event) > 20")"
check_true "source has an import with a failed row and an idempotency key, a failed import, a dry run, a tombstone, a forgotten erasure, an erasure key, archived statuses, audit rows (one with a JWT's sub) and a retention setting" \
    "$(q pt_dump_src -c "SELECT EXISTS (SELECT FROM participants.import i JOIN participants.import_row r ON (r.project_id, r.import_id) = (i.project_id, i.id)
                                       WHERE i.status = 'completed' AND i.idempotency_key IS NOT NULL AND r.action = 'failed')
        AND EXISTS (SELECT FROM participants.import i JOIN participants.import_row r ON (r.project_id, r.import_id) = (i.project_id, i.id)
                    WHERE i.status = 'failed' AND r.action = 'rolledBack')
        AND EXISTS (SELECT FROM participants.import WHERE status = 'dryRun')
        AND EXISTS (SELECT FROM participants.erasure WHERE email_hmac IS NOT NULL AND phone_hmac IS NOT NULL)
        AND EXISTS (SELECT FROM participants.erasure WHERE email_hmac IS NULL AND phone_hmac IS NULL)
        AND EXISTS (SELECT FROM participants.project_secret)
        AND (SELECT count(*) FROM participants.status_archive) = 4
        AND EXISTS (SELECT FROM participants.audit WHERE jwt_sub = 'crm-user-7')
        AND (SELECT count(*) FROM participants.audit) > 50
        AND EXISTS (SELECT FROM participants.project WHERE settings ? 'retention')")"

# -- dumps ----------------------------------------------------------------------

if "$BIN/pg_dump" "${CONN[@]}" -d pt_dump_src -Fc -f "$WORK/src.dump" 2>"$WORK/dump.custom.err" \
        && [ ! -s "$WORK/dump.custom.err" ]; then
    ok "pg_dump -Fc of the source succeeds without messages"
else
    not_ok "pg_dump -Fc of the source succeeds without messages" "$(cat "$WORK/dump.custom.err")"
fi
if "$BIN/pg_dump" "${CONN[@]}" -d pt_dump_src -Fp -f "$WORK/src.sql" 2>"$WORK/dump.plain.err" \
        && [ ! -s "$WORK/dump.plain.err" ]; then
    ok "pg_dump -Fp of the source succeeds without messages"
else
    not_ok "pg_dump -Fp of the source succeeds without messages" "$(cat "$WORK/dump.plain.err")"
fi

# -- listeners: a session in the target database hears every NOTIFY of it ------

# listen DB: a psql session in DB that has run LISTEN on the old shared channel
# participants_events and on each source project's own channel.
# psql prints the notifications it has received after each command's result, so
# a notification heard before a marker query prints right after its marker line.
declare -A LISTEN_FD LISTEN_PID
listen() {
    local db=$1 fifo=$WORK/listen.$1.in fd
    mkfifo "$fifo"
    "${PSQL[@]}" -At -d "$db" <"$fifo" >"$WORK/listen.$db.out" 2>&1 &
    LISTEN_PID[$db]=$!
    LISTENERS+=("$!")
    exec {fd}>"$fifo"
    LISTEN_FD[$db]=$fd
    echo "LISTEN participants_events; $SRC_LISTEN" >&"$fd"
    marker "$db" listening
}
# marker DB WORD: the listener runs a query printing WORD; waits until it has
marker() {
    local _
    echo "SELECT pg_sleep(0.1), '$2';" >&"${LISTEN_FD[$1]}"
    for _ in $(seq 1 200); do
        grep -q "|$2\$" "$WORK/listen.$1.out" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}
# unlisten DB: end the session after a last marker, "done"
unlisten() {
    local db=$1 fd=${LISTEN_FD[$1]}
    marker "$db" done || true
    echo '\q' >&"$fd"
    exec {fd}>&-
    wait "${LISTEN_PID[$db]}" || true
}
# heard DB FROM TO: the notifications printed between marker lines FROM and TO
# (to the end when TO never printed), that is those heard before FROM's query
heard() {
    awk -v from="|$2" -v to="|$3" '
        $0 == from { on = 1; next }
        $0 == to { on = 0 }
        on && /^Asynchronous notification "participants_events/ { n++ }
        END { print n + 0 }' "$WORK/listen.$1.out"
}

# -- restores -------------------------------------------------------------------

restored=()
"$BIN/createdb" "${CONN[@]}" -T template0 pt_dump_custom
listen pt_dump_custom || not_ok "pt_dump_custom: listener starts"
if "$BIN/pg_restore" "${CONN[@]}" -d pt_dump_custom "$WORK/src.dump" >"$WORK/restore.custom.out" 2>"$WORK/restore.custom.err" \
        && ! grep -qiE 'error|warning' "$WORK/restore.custom.err"; then
    ok "pt_dump_custom: pg_restore of the custom-format dump succeeds without errors"
else
    not_ok "pt_dump_custom: pg_restore of the custom-format dump succeeds without errors" "$(cat "$WORK/restore.custom.err")"
fi
restored+=(pt_dump_custom)

"$BIN/createdb" "${CONN[@]}" -T template0 pt_dump_plain
listen pt_dump_plain || not_ok "pt_dump_plain: listener starts"
if "$BIN/psql" -X -v ON_ERROR_STOP=1 "${CONN[@]}" -d pt_dump_plain -f "$WORK/src.sql" >"$WORK/restore.plain.out" 2>"$WORK/restore.plain.err" \
        && ! grep -qiE 'error|warning' "$WORK/restore.plain.err"; then
    ok "pt_dump_plain: psql -f of the plain dump succeeds without errors"
else
    not_ok "pt_dump_plain: psql -f of the plain dump succeeds without errors" "$(cat "$WORK/restore.plain.err")"
fi
restored+=(pt_dump_plain)

# -- checks of each restored database -------------------------------------------

for db in "${restored[@]}"; do
    # the notifications of the restore print after the marker "restored"
    marker "$db" restored || not_ok "$db: listener answers"
    marker "$db" checking || not_ok "$db: listener answers"

    # 1. the same API answers, table contents, sequences, indexes and grants
    if "${PSQL[@]}" -At -d "$db" -f "$HERE/dump/snapshot.sql" >"$WORK/snap.$db.json" 2>"$WORK/snap.$db.err" \
            && diff -u "$WORK/snap.src.json" "$WORK/snap.$db.json" >"$WORK/snap.$db.diff"; then
        ok "$db: snapshot of every object through the API equals the source's"
    else
        not_ok "$db: snapshot of every object through the API equals the source's" \
            "$(cat "$WORK/snap.$db.err" 2>/dev/null)" "$(cat "$WORK/snap.$db.diff" 2>/dev/null)"
    fi

    # 2. no event and no membership episode written by the restore
    check "$db: events restored once (count and max id)" "$SRC_EVENTS" \
        "$(q "$db" -c "SELECT count(*) || ' events, max id ' || max(id) FROM participants.event")"
    check "$db: membership episodes restored once (dynamic segments not rebuilt)" "$SRC_EPISODES" \
        "$(q "$db" -c "SELECT count(*) || ' episodes, ' || count(*) FILTER (WHERE remove_date IS NULL) || ' current, max id ' || max(id) FROM participants.segment_membership")"
    check "$db: audit rows restored once (count and last date): the restore wrote none" "$SRC_AUDIT" \
        "$(q "$db" -c "SELECT count(*) || ' audit rows, last ' || max(audit_date) FROM participants.audit")"
    check "$db: imports and their row reports restored once" "$SRC_IMPORTS" \
        "$(q "$db" -c "SELECT count(*) || ' imports, ' || (SELECT count(*) FROM participants.import_row) || ' row reports' FROM participants.import")"
    check "$db: the projects' erasure keys (project_secret) restored" "$SRC_SECRETS" \
        "$(q "$db" -c "SELECT string_agg(project_id || ' ' || md5(erasure_key), ', ' ORDER BY project_id) FROM participants.project_secret")"
    check "$db: every study participant's last_event_id names its latest event" 0 \
        "$(q "$db" -c "SELECT count(*) FROM participants.study_participant sp
                       WHERE sp.last_event_id IS DISTINCT FROM (SELECT max(e.id) FROM participants.event e
                           WHERE e.project_id = sp.project_id AND e.study_participant_id = sp.id)")"

    # 3. sequences continue
    out=$(q "$db" -c "SELECT participants.set_participant_status('$A', '$S1', 'MDH-0004', 'INTERVIEW_COMPLETED') ->> 'status'" \
                  -c "SELECT e ->> 'eventID' FROM jsonb_array_elements(participants.events_since('$A', $SRC_MAX_EVENT, 1000)) e" 2>&1 || true)
    new_event=$(printf '%s\n' "$out" | sed -n 2p)
    if [ "$(printf '%s\n' "$out" | wc -l)" = 2 ] && [ "$(printf '%s\n' "$out" | sed -n 1p)" = INTERVIEW_COMPLETED ] \
            && [ "$new_event" -gt "$SRC_MAX_EVENT" ] 2>/dev/null; then
        ok "$db: a new status change gets event id $new_event, after the source's last ($SRC_MAX_EVENT)"
    else
        not_ok "$db: a new status change gets an event id after the source's last ($SRC_MAX_EVENT)" "$out"
    fi

    out=$(q "$db" -c "SELECT r ->> 'actionTaken', r -> 'result' ->> 'participantIdentifier'
                      FROM participants.upsert_participant('$A', '{\"demographics\": {\"email\": \"after.restore@example.com\"}}') r" 2>&1 || true)
    new_id=${out#*|}
    if [[ "$out" =~ ^add\|HS-[0-9]{8}$ ]] && [[ " $SRC_IDENTIFIERS " != *" $new_id "* ]]; then
        ok "$db: a new participant gets the generated identifier $new_id, not one that existed"
    else
        not_ok "$db: a new participant gets a generated identifier that did not exist" "$out" "existing: $SRC_IDENTIFIERS"
    fi
    out=$(q "$db" -c "SELECT count(*) FROM participants.participant WHERE participant_identifier = '$new_id'" 2>&1 || true)
    check "$db: the generated identifier is unique" 1 "$out"

    out=$(q "$db" -c "SELECT participants.add_segment_members('$A', '$CALL', '[\"$GEN3\"]')" \
                  -c "SELECT m.id FROM participants.segment_membership m JOIN participants.participant p
                        ON (p.project_id, p.id) = (m.project_id, m.participant_id)
                      WHERE m.project_id = '$A' AND m.segment_id = '$CALL' AND p.participant_identifier = '$GEN3'
                        AND m.remove_date IS NULL" 2>&1 || true)
    new_episode=$(printf '%s\n' "$out" | sed -n 2p)
    if [ "$(printf '%s\n' "$out" | sed -n 1p)" = '{"added": 1, "alreadyMembers": 0}' ] \
            && [ "$new_episode" -gt "$SRC_MAX_EPISODE" ] 2>/dev/null; then
        ok "$db: a new membership episode gets id $new_episode, after the source's last ($SRC_MAX_EPISODE)"
    else
        not_ok "$db: a new membership episode gets an id after the source's last ($SRC_MAX_EPISODE)" "$out"
    fi

    # 4. the triggers keep working on new writes
    out=$(q "$db" -c "SELECT participants.add_study_participants('$A', '$S1', '[\"$GEN3\"]') ->> 'added'" \
                  -c "SELECT string_agg(coalesce(ev.payload ->> 'priorStatus', 'null') || '>' || (ev.payload ->> 'status'), ',' ORDER BY ev.id)
                      FROM participants.study_participant sp
                      JOIN participants.participant p ON (p.project_id, p.id) = (sp.project_id, sp.participant_id)
                      JOIN participants.event ev ON ev.project_id = sp.project_id AND ev.study_participant_id = sp.id
                      WHERE sp.project_id = '$A' AND sp.study_id = '$S1' AND p.participant_identifier = '$GEN3'" 2>&1 || true)
    check "$db: a new study participant gets exactly its first event" "$(printf '1\nnull>NOT_STARTED')" "$out"

    out=$(q "$db" -c "SELECT participants.upsert_participant('$A', '{\"participantIdentifier\": \"MDH-0004\", \"customFields\": {\"Smoker\": 1}}') ->> 'actionTaken'" \
                  -c "SELECT jsonb_array_length(h) || ' episodes, ' ||
                             (SELECT count(*) FROM jsonb_array_elements(h) x WHERE x -> 'removeDate' = 'null') || ' current'
                      FROM participants.segment_history('$A', '$SMOKERS', 'MDH-0004') h" 2>&1 || true)
    check "$db: a participant change moves a restored dynamic membership (new episode after the closed one)" \
        "$(printf 'update\n2 episodes, 1 current')" "$out"

    check "$db: a transition the graph does not allow is PT409" PT409 \
        "$(sqlstate "$db" "SELECT participants.set_participant_status('$A', '$S1', 'MDH-0004', 'NOT_STARTED')")"
    check "$db: a move from a final status (COMPLETED_STUDY) is PT409" PT409 \
        "$(sqlstate "$db" "SELECT participants.set_participant_status('$A', '$S1', 'MDH-0001', 'INVITE_SENT')")"
    check "$db: an enrolled participant's email change is PT409" PT409 \
        "$(sqlstate "$db" "SELECT participants.upsert_participant('$A', '{\"participantIdentifier\": \"MDH-0001\", \"demographics\": {\"email\": \"changed@example.com\"}}')")"
    check "$db: enrolling a withdrawn participant is PT409" PT409 \
        "$(sqlstate "$db" "SELECT participants.enroll_participant('$A', 'MDH-0002')")"
    check "$db: a bad value of a declared integer field is 22023" 22023 \
        "$(sqlstate "$db" "SELECT participants.upsert_participant('$A', '{\"participantIdentifier\": \"MDH-0004\", \"customFields\": {\"Smoker\": \"many\"}}')")"
    check "$db: an opted-out participant is skipped by add_study_participants" opted_out \
        "$(q "$db" -c "SELECT participants.add_study_participants('$A', '$S1', '[\"MDH-0003\"]') -> 'skipped' -> 0 ->> 'reason'" 2>&1 || true)"
    check "$db: project B's restored graph (NOT_STARTED -> SURVEY_STARTED added by a DBA) is used" \
        "$(printf '1\nSURVEY_STARTED')" \
        "$(q "$db" -c "SELECT participants.add_study_participants('$B', '$S3', '[\"$B_GEN\"]') ->> 'added'" \
                   -c "SELECT participants.set_participant_status('$B', '$S3', '$B_GEN', 'SURVEY_STARTED') ->> 'status'" 2>&1 || true)"
    check "$db: the restored contact rule refuses B-1 a second contact within 90 days (PT409)" PT409 \
        "$(sqlstate "$db" "SELECT participants.add_study_participants('$B', (participants.create_study('$B', 'After restore ' || '$db') ->> 'studyID')::uuid, '[\"B-1\"]') IS NULL; SELECT participants.set_participant_status('$B', (SELECT id FROM participants.study WHERE project_id = '$B' AND name = 'After restore ' || '$db'), 'B-1', 'INVITE_SENT')")"
    check "$db: the restored yearly limit refuses B-1 another 1 EUR (PT409)" PT409 \
        "$(sqlstate "$db" "SELECT participants.record_incentive('$B', 'B-1', '$S3', 1, 'EUR')")"
    check "$db: the restored withdrawal leaves B-1 not eligible for the study requiring recording" 0 \
        "$(q "$db" -c "SELECT count(*) FROM jsonb_array_elements(participants.eligible_participants('$B', (SELECT id FROM participants.study WHERE project_id = '$B' AND name = 'Recorded interviews'), contactable_only => false) -> 'participants') p WHERE p ->> 'participantIdentifier' = 'B-1'" 2>&1 || true)"
    check "$db: the restored project_access grant confines regress_dump_reader (its project readable, another 42501)" \
        "$(printf 'MDH-0001\n42501')" \
        "$(q "$db" -c "SET ROLE regress_dump_reader" \
                   -c "SELECT participants.get_participant('$A', 'MDH-0001') ->> 'participantIdentifier'" 2>&1 || true)
$(sqlstate "$db" "SET ROLE regress_dump_reader; SELECT participants.get_participant('$B', 'B-1')")"

    # 5. the lifecycle: tombstones (with the restored key), imports, the audit log, retention
    check "$db: the restored tombstone refuses the erased email through upsert_participant (PT409)" PT409 \
        "$(sqlstate "$db" "SELECT participants.upsert_participant('$B', '{\"participantIdentifier\": \"IMP-9\", \"demographics\": {\"email\": \"IMP.two@example.com\"}}')")"
    check "$db: the restored tombstone refuses the erased phone through upsert_participant (PT409)" PT409 \
        "$(sqlstate "$db" "SELECT participants.upsert_participant('$B', '{\"participantIdentifier\": \"IMP-9\", \"demographics\": {\"mobilePhone\": \"(615) 555-0151\"}}')")"
    check "$db: the restored idempotency key returns the source's import and writes nothing" "$(printf '%s\n0' "$IMPORT1")" \
        "$(q "$db" -c "SELECT participants.import_participants('$B', E'participantIdentifier\\nIMP-8\\n', '{\"idempotencyKey\": \"load-1\"}') ->> 'importID'" \
                   -c "SELECT count(*) FROM participants.participant WHERE project_id = '$B' AND participant_identifier = 'IMP-8'" 2>&1 || true)"
    check "$db: the restored tombstone refuses the erased email in a new import (its row fails with PT409)" "failed|PT409" \
        "$(q "$db" -c "SELECT i ->> 'status', i -> 'errors' -> 0 ->> 'code'
                       FROM participants.import_participants('$B', E'participantIdentifier,email\\nIMP-9,imp.two@example.com\\n') i" 2>&1 || true)"
    check "$db: the forgotten erasure's email may be added again" add \
        "$(q "$db" -c "SELECT participants.upsert_participant('$B', '{\"participantIdentifier\": \"B-10\", \"demographics\": {\"email\": \"b9@example.com\"}}') ->> 'actionTaken'" 2>&1 || true)"
    check "$db: the restored audit log is append-only: an UPDATE is PT409" PT409 \
        "$(sqlstate "$db" "UPDATE participants.audit SET reason = 'edited' WHERE project_id = '$B'")"
    check "$db: the restored audit log is append-only: a DELETE is PT409" PT409 \
        "$(sqlstate "$db" "DELETE FROM participants.audit WHERE project_id = '$B'")"
    check "$db: apply_retention on the restored project C finds nothing more to remove" \
        '{"auditDeleted": 0, "eventsDeleted": 0, "deliveriesDeleted": 0, "participantsErased": 0}' \
        "$(q "$db" -c "SELECT participants.apply_retention('$C')" 2>&1 || true)"

    # 6. the listener heard nothing of the restore, and does hear new changes
    unlisten "$db"
    during=$(heard "$db" restored checking)
    after=$(heard "$db" done -)
    if [ "$during" = 0 ] && [ "$after" -gt 0 ]; then
        ok "$db: no NOTIFY during the restore (the listener heard none; then $after for the changes made after it)"
    else
        not_ok "$db: no NOTIFY during the restore (the listener heard none; then those of the changes made after it)" \
            "heard during the restore: $during, after it: $after" "$(cat "$WORK/listen.$db.out")"
    fi
done

if [ "$FAILED" -gt 0 ]; then
    echo "# $FAILED check(s) failed"
    exit 1
fi
