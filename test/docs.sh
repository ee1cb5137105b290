#!/usr/bin/env bash
# test/docs.sh SOCKETDIR PORT
#
# Runs the SQL examples of README.md and doc/*.md: every fenced block whose info
# string is `sql`. Each file runs in a fresh database (pt_docs, with
# CREATE EXTENSION participants CASCADE done first), its blocks in order in one
# psql session, so a block may use the psql variables an earlier one set
# (\gset). A block marked `sql error=SQLSTATE` must end with a statement that
# fails with exactly that SQLSTATE, every earlier statement of it succeeding.
# Prints one TAP line per block (ok N - doc/<page>.md:LINE (sql), or (error=X));
# a failed block is "not ok" with psql's error and the block's first line
# under it, and stops its own file only: the file's later blocks are reported
# "not ok ... not checked after the failure", the next file runs. Ends with
# "# docs: N blocks, M failed"; exits non-zero when a block failed. Roles named doc_* (the examples' roles) are
# dropped before and after each file. With DOCS_OUTPUT=DIR, each file's queries
# and their results are written to DIR/<file>.out, its messages to DIR/<file>.err.
set -euo pipefail
SOCK=$1 PORT=$2
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PSQL=(/usr/lib/postgresql/15/bin/psql -X -q -h "$SOCK" -p "$PORT" -U postgres)
DB=pt_docs
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

total=0
failed=0

# drop the examples' database and roles (the roles hold privileges only there)
cleanup_db() {
    "${PSQL[@]}" -d postgres -v ON_ERROR_STOP=0 >/dev/null 2>>"$WORK/cleanup.log" <<SQL || true
SET client_min_messages = warning;
DROP DATABASE IF EXISTS $DB WITH (FORCE);
SELECT format('DROP ROLE %I', rolname) FROM pg_roles WHERE rolname LIKE 'doc\_%' ORDER BY 1 \gexec
SQL
}

# extract FILE's sql blocks into DIR/N.sql; print one manifest line per block:
# N <TAB> line of the opening fence <TAB> info string <TAB> problem ("" if none)
extract() {
    awk -v dir="$2" '
    function lead(s,   n) { n = 0; while (substr(s, n + 1, 1) == " ") n++; return n }
    function runof(s, c,   n) { n = 0; while (substr(s, n + 1, 1) == c) n++; return n }
    function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
    {
        sub(/\r$/, "")
        if (!infence) {
            ind = lead($0); rest = substr($0, ind + 1); c = substr(rest, 1, 1)
            if ((c == "`" || c == "~") && runof(rest, c) >= 3) {
                infence = 1; fchar = c; flen = runof(rest, c); findent = ind
                info = trim(substr(rest, flen + 1))
                split(info, w, /[ \t]+/)
                run = (w[1] == "sql")
                if (run) {
                    n++; start = NR; out = dir "/" n ".sql"; printf "" > out
                    problem = ""
                    k = split(info, w, /[ \t]+/)
                    for (i = 2; i <= k; i++)
                        if (w[i] !~ /^error=[0-9A-Z][0-9A-Z][0-9A-Z][0-9A-Z][0-9A-Z]$/)
                            problem = "unknown attribute in info string: " w[i]
                }
            }
            next
        }
        ind = lead($0); rest = substr($0, ind + 1)
        if (substr(rest, 1, 1) == fchar && runof(rest, fchar) >= flen && trim(substr(rest, runof(rest, fchar) + 1)) == "") {
            infence = 0
            if (run) { close(out); printf "%d\t%d\t%s\t%s\n", n, start, info, problem }
            next
        }
        if (run) {
            line = $0
            k = findent; while (k > 0 && substr(line, 1, 1) == " ") { line = substr(line, 2); k-- }
            print line > out
        }
    }
    END {
        if (infence && run) { close(out); printf "%d\t%d\t%s\t%s\n", n, start, info, "the block is not closed" }
    }' "$1"
}

# does BLOCKFILE end a statement? (its last line that is not blank or a
# comment ends with ";" or holds a psql meta-command such as \gset)
ends_statement() {
    local last
    last=$(grep -vE '^[[:space:]]*(--.*)?$' "$1" | tail -n 1 || true)
    # a trailing comment, when the part before it holds balanced quotes
    local code=${last%%--*}
    if [ "$code" != "$last" ]; then
        local quotes=${code//[^\']/}
        [ $(( ${#quotes} % 2 )) -eq 0 ] && last=$code
    fi
    last=$(sed -E 's/[[:space:]]+$//' <<<"$last")
    [[ "$last" == *";" || "$last" =~ \\[a-z] ]]
}

report_file() { # FILE (relative) : run its blocks, print TAP lines
    local rel=$1 dir=$WORK/blocks
    rm -rf "$dir"; mkdir -p "$dir"
    extract "$ROOT/$rel" "$dir" >"$WORK/manifest"
    [ -s "$WORK/manifest" ] || return 0

    local -a nums starts infos problems expects
    local n start info problem expect
    while IFS=$'\t' read -r n start info problem; do
        expect=""
        if [[ "$info" =~ error=([0-9A-Z]{5}) ]]; then expect=${BASH_REMATCH[1]}; fi
        if [ -z "$problem" ] && ! ends_statement "$dir/$n.sql"; then
            problem="the block's last statement is not terminated (no ; or \\g...)"
        fi
        nums+=("$n"); starts+=("$start"); infos+=("$info"); problems+=("$problem"); expects+=("$expect")
    done <"$WORK/manifest"

    # one script: blocks up to the first one with a problem
    local script=$WORK/script.sql lines=0 count=${#nums[@]} i
    local -a offsets   # script line of each block's first line
    : >"$script"
    emit() { printf '%s\n' "$@" >>"$script"; lines=$((lines + $#)); }
    emit '\set VERBOSITY verbose' '\set SHOW_CONTEXT never'
    for ((i = 0; i < count; i++)); do
        [ -z "${problems[$i]}" ] || break
        n=${nums[$i]}
        emit "\\warn @@doc-block $n"
        if [ -n "${expects[$i]}" ]; then
            emit '\set ON_ERROR_STOP 0' '\set LAST_ERROR_SQLSTATE 00000'
        else
            emit '\set ON_ERROR_STOP 1'
        fi
        offsets[$i]=$((lines + 1))
        cat "$dir/$n.sql" >>"$script"
        lines=$((lines + $(wc -l <"$dir/$n.sql")))
        if [ -n "${expects[$i]}" ]; then
            emit '\set ON_ERROR_STOP 1' \
                 '\if :ERROR' \
                 "SELECT :'LAST_ERROR_SQLSTATE' = '${expects[$i]}' AS doc_ok \\gset" \
                 "\\warn @@doc-state $n :LAST_ERROR_SQLSTATE" \
                 '\else' \
                 '\set doc_ok false' \
                 "\\warn @@doc-state $n none" \
                 '\endif' \
                 '\if :doc_ok' "\\warn @@doc-ok $n" '\else' '\quit' '\endif'
        else
            emit "\\warn @@doc-ok $n"
        fi
    done

    local err=$WORK/stderr ext_ok=1
    cleanup_db
    if ! "${PSQL[@]}" -d postgres -v ON_ERROR_STOP=1 -c "CREATE DATABASE $DB" >/dev/null 2>"$err" ||
       ! PGOPTIONS='-c client_min_messages=warning' "${PSQL[@]}" -d "$DB" -v ON_ERROR_STOP=1 \
            -c "CREATE EXTENSION participants CASCADE" >/dev/null 2>>"$err"; then
        ext_ok=0
    else
        local outfile=/dev/null echo=()
        if [ -n "${DOCS_OUTPUT:-}" ]; then
            mkdir -p "$DOCS_OUTPUT"; outfile=$DOCS_OUTPUT/${rel//\//_}.out; echo=(-e)
        fi
        "${PSQL[@]}" "${echo[@]}" -d "$DB" -f "$script" >"$outfile" 2>"$err" || true
    fi
    cleanup_db

    # map "psql:SCRIPT:LINE:" to "FILE:LINE:" of the block's text
    local map=$WORK/map.awk
    {
        echo 'BEGIN {'
        for ((i = 0; i < count; i++)); do
            [ -n "${offsets[$i]:-}" ] || continue
            echo "  off[$i] = ${offsets[$i]}; len[$i] = $(wc -l <"$dir/${nums[$i]}.sql"); st[$i] = ${starts[$i]};"
        done
        echo "  nb = $count }"
        cat <<'AWK'
{
    if (match($0, /^psql:[^:]*:[0-9]+: /)) {
        head = substr($0, 1, RLENGTH - 2); l = head; sub(/^.*:/, "", l); l += 0
        for (i = 0; i < nb; i++)
            if ((i in off) && l >= off[i] && l < off[i] + len[i]) {
                $0 = rel ":" (st[i] + 1 + l - off[i]) ": " substr($0, RLENGTH + 1); break
            }
    }
    print
}
AWK
    } >"$map"
    awk -v rel="$rel" -f "$map" "$err" >"$err.mapped"
    [ -z "${DOCS_OUTPUT:-}" ] || grep -v '^@@doc-' "$err.mapped" >"$DOCS_OUTPUT/${rel//\//_}.err" || true

    local failed_here="" status desc diag state errs first
    for ((i = 0; i < count; i++)); do
        n=${nums[$i]}
        total=$((total + 1))
        if [ -n "${expects[$i]}" ]; then
            desc="$rel:${starts[$i]} (error=${expects[$i]})"
        elif [ "${infos[$i]}" = sql ]; then
            desc="$rel:${starts[$i]} (sql)"
        else
            desc="$rel:${starts[$i]} (${infos[$i]})"
        fi
        first=$(grep -vE '^[[:space:]]*$' "$dir/$n.sql" | head -n 1 || true)
        diag=""
        if [ "$ext_ok" -eq 0 ]; then
            status="not ok"; desc+=" the database could not be prepared"
            diag=$(sed 's/^/#   /' "$err.mapped")
        elif [ -n "$failed_here" ]; then
            status="not ok"; desc+=" not checked after the failure at $failed_here"
        elif [ -n "${problems[$i]}" ]; then
            status="not ok"; desc+=" ${problems[$i]}"
        elif grep -qx "@@doc-ok $n" "$err.mapped"; then
            status="ok"
            if [ -n "${expects[$i]}" ]; then
                # exactly one statement of the block failed: its last
                errs=$(sed -n "/^@@doc-block $n\$/,/^@@doc-state $n /p" "$err.mapped" | grep -cE '^[^ ]+:[0-9]+: ERROR: ' || true)
                if [ "$errs" -ne 1 ]; then
                    status="not ok"; desc+=" $errs statements failed, expected only the last one"
                    diag=$(sed -n "/^@@doc-block $n\$/,/^@@doc-state $n /p" "$err.mapped" | grep -E ': ERROR: |^(DETAIL|HINT): ' | sed 's/^/#   /' || true)
                fi
            fi
        elif grep -qx "@@doc-block $n" "$err.mapped"; then
            status="not ok"
            state=$(grep -E "^@@doc-state $n " "$err.mapped" | head -n 1 | awk '{print $3}' || true)
            if [ -n "${expects[$i]}" ] && [ "$state" = none ]; then
                desc+=" expected SQLSTATE ${expects[$i]}, but the last statement succeeded"
            elif [ -n "${expects[$i]}" ] && [ -n "$state" ]; then
                desc+=" expected SQLSTATE ${expects[$i]}, got $state"
            fi
            diag=$(sed -n "/^@@doc-block $n\$/,\$p" "$err.mapped" | grep -vE '^@@doc-|^LOCATION: |^NOTICE: |^psql:.*: NOTICE: |: NOTICE: ' | head -n 8 | sed 's/^/#   /' || true)
        else
            status="not ok"; desc+=" not run (psql stopped before it)"
            diag=$(grep -vE '^@@doc-|^LOCATION: ' "$err.mapped" | tail -n 5 | sed 's/^/#   /' || true)
        fi
        echo "$status $total - $desc"
        if [ "$status" != ok ]; then
            failed=$((failed + 1))
            [ -n "$failed_here" ] || failed_here="$rel:${starts[$i]}"
            [ -z "$diag" ] || printf '%s\n' "$diag"
            echo "#   block: $first"
        fi
    done
}

files=()
[ -f "$ROOT/README.md" ] && files+=(README.md)
while IFS= read -r f; do files+=("doc/$(basename "$f")"); done \
    < <(find "$ROOT/doc" -maxdepth 1 -name '*.md' -type f 2>/dev/null | LC_ALL=C sort)

for f in "${files[@]}"; do
    report_file "$f"
done

# headings of FILE as GitHub anchors: lower case, punctuation dropped,
# spaces to hyphens, a repeated heading gets -1, -2, ...
anchors() {
    awk '
    /^(```|~~~)/ { fence = !fence; next }
    fence { next }
    /^#+ / {
        h = $0; sub(/^#+ +/, "", h); sub(/ +#* *$/, "", h)
        h = tolower(h); gsub(/[^a-z0-9 _-]/, "", h); gsub(/ /, "-", h)
        if (h in seen) { seen[h]++; print h "-" seen[h] } else { seen[h] = 0; print h }
    }' "$1"
}

# every relative link of README.md and doc/*.md, [text](path#anchor), leads to
# a file of the repository and, with an anchor, to a heading of that file
links_total=0 links_bad=0
for f in "${files[@]}"; do
    dir=$(dirname "$ROOT/$f")
    while IFS= read -r target; do
        case $target in http://*|https://*|mailto:*) continue ;; esac
        links_total=$((links_total + 1))
        path=${target%%#*} anchor=""
        [ "$path" = "$target" ] || anchor=${target#*#}
        if [ -z "$path" ]; then file=$ROOT/$f; else file=$dir/$path; fi
        if [ ! -e "$file" ]; then
            links_bad=$((links_bad + 1)); echo "#   $f: link to a missing file: $target"
        elif [ -n "$anchor" ] && ! anchors "$file" | grep -qxF "$anchor"; then
            links_bad=$((links_bad + 1)); echo "#   $f: link to a missing heading: $target"
        fi
    done < <(grep -oE '\]\([^) ]+\)' "$ROOT/$f" | sed -E 's/^\]\(//; s/\)$//')
done
total=$((total + 1))
if [ "$links_bad" -eq 0 ]; then
    echo "ok $total - README.md and doc/: $links_total relative links lead to a file and heading"
else
    failed=$((failed + 1))
    echo "not ok $total - README.md and doc/: $links_bad of $links_total relative links are broken"
fi

# every file of the repository that names a page doc/<name>.md names one that exists
refs_bad=0
while IFS=: read -r file ref; do
    [ -e "$ROOT/$ref" ] || { refs_bad=$((refs_bad + 1)); echo "#   $file names $ref, which does not exist"; }
done < <(cd "$ROOT" && grep -rIoE 'doc/[A-Za-z0-9_-]+\.md' --exclude-dir=.git --exclude-dir=node_modules . | sed 's|^\./||' | sort -u)
total=$((total + 1))
if [ "$refs_bad" -eq 0 ]; then
    echo "ok $total - every doc/*.md page named in the repository exists"
else
    failed=$((failed + 1))
    echo "not ok $total - $refs_bad references to doc/*.md pages that do not exist"
fi

echo "1..$total"
echo "# docs: $total blocks, $failed failed"
[ "$failed" -eq 0 ]
