#!/usr/bin/env bash
# bench/import.sh — what import_participants costs next to upsert_participants.
#
# On a throwaway cluster, prints in one run on this machine:
#   - rows/s of import_participants(project, csv) for SIZE rows as one CSV file,
#     next to upsert_participants(project, json) for the same rows as one JSON
#     array (the baseline), alternating REPS times, each into a fresh project
#     (two declared custom fields, site text and visits integer) of an emptied,
#     vacuumed, checkpointed participant table; medians and their ratio
#     (target >= 0.8)
#   - the peak memory of the backend that imports SMALL (10k) and SIZE rows of the
#     same file, and their ratio (flat: close to 1)
# The rows have participantIdentifier, invitationStatus, email, firstName,
# lastName, dateOfBirth, gender, city, state, postalCode, mobilePhone,
# customFields.site (a quoted comma in every cell: "Site 12, Building 3") and
# customFields.visits. Both files are written by awk to $DIR and read into a
# table of text (STORAGE EXTERNAL: not compressed), so each call gets its input
# as text, as over the wire: the import parses its CSV, the baseline casts its
# text to jsonb inside the timed statement. Before the runs the 10k files are
# imported once each way, which warms both paths and checks that they give the
# same participants.
#
# Memory: each figure is the growth of the importing backend's private memory
# (RssAnon in /proc/PID/status: anonymous pages, so the shared buffers the
# import writes do not count, as they would in VmRSS or VmHWM) from a base
# taken after a 10-row import in the same session (library, caches and plans
# loaded) to its peak during the call, sampled every 2 ms by perl; a batch holds
# its memory for tens of milliseconds, so the peak is not missed. The call
# necessarily holds its argument: the file, detoasted, INPUT bytes. That one
# copy is subtracted ("beyond input"), and the ratio is of what is left; the
# raw peaks are printed next to it. Anything else that grows with the file
# (a second copy of it, reports or bodies kept for the whole import) shows in
# "beyond input". The import keeps its row reports in a tuplestore of up to
# 1 MB (or work_mem, if smaller), then in a temporary file, so they do not
# grow its memory past about 10,000 rows.
# Needs root (for runuser) and the extension installed (sudo bash test/dev.sh
# bench does both).
#
#   SIZE=100000 SMALL=10000 REPS=3 sudo -E bash bench/import.sh
set -euo pipefail
SIZE=${SIZE:-100000}
SMALL=${SMALL:-10000}
REPS=${REPS:-3}
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"${PSQL[@]}" -c "CREATE EXTENSION participants CASCADE"
echo "participants import benchmark: $SIZE rows (memory also at $SMALL), median of $REPS runs, $(nproc) cores"

# the rows as CSV (header, then one record a line) and as a JSON array (one element a line)
awk -v n="$SIZE" -v csv="$DIR/rows.csv" -v json="$DIR/rows.json" 'BEGIN {
    split("M F O", g, " ")
    print "participantIdentifier,invitationStatus,email,firstName,lastName,dateOfBirth,gender,city,state,postalCode,mobilePhone,customFields.site,customFields.visits" > csv
    print "[" > json
    for (i = 1; i <= n; i++) {
        dob = sprintf("%04d-%02d-%02d", 1940 + i % 60, 1 + i % 12, 1 + i % 28)
        site = sprintf("Site %d, Building %d", i % 40, i % 7)
        printf "I%d,approved,person%d@example.org,First%d,Last%d,%s,%s,City%d,TN,%05d,+1%d,\"%s\",%d\n",
            i, i, i % 997, i % 1499, dob, g[1 + i % 3], i % 300, i % 99999, 2000000000 + i, site, i % 12 > csv
        printf "{\"participantIdentifier\": \"I%d\", \"invitationStatus\": \"approved\", \"demographics\": {\"email\": \"person%d@example.org\", \"firstName\": \"First%d\", \"lastName\": \"Last%d\", \"dateOfBirth\": \"%s\", \"gender\": \"%s\", \"city\": \"City%d\", \"state\": \"TN\", \"postalCode\": \"%05d\", \"mobilePhone\": \"+1%d\"}, \"customFields\": {\"site\": \"%s\", \"visits\": %d}}%s\n",
            i, i, i % 997, i % 1499, dob, g[1 + i % 3], i % 300, i % 99999, 2000000000 + i, site, i % 12, i < n ? "," : "" > json
    }
    print "]" > json
}'
head -n $((SMALL + 1)) "$DIR/rows.csv" >"$DIR/small.csv"
{ head -n "$SMALL" "$DIR/rows.json"; sed -n "$((SMALL + 1))s/,\$//p" "$DIR/rows.json"; echo "]"; } >"$DIR/small.json"
head -n 11 "$DIR/rows.csv" >"$DIR/tiny.csv"
chmod 644 "$DIR"/*.csv "$DIR"/*.json
"${PSQL[@]}" >/dev/null <<SQL
CREATE TABLE input (name text PRIMARY KEY, data text);
ALTER TABLE input ALTER data SET STORAGE EXTERNAL;
INSERT INTO input VALUES ('csv', pg_read_file('$DIR/rows.csv')), ('json', pg_read_file('$DIR/rows.json')),
                         ('small csv', pg_read_file('$DIR/small.csv')), ('small json', pg_read_file('$DIR/small.json')),
                         ('tiny csv', pg_read_file('$DIR/tiny.csv'));
-- a fresh project with the two declared custom fields
CREATE FUNCTION fresh(name text) RETURNS uuid LANGUAGE sql AS \$\$
  SELECT p FROM (SELECT participants.create_project(name) AS p) s,
                LATERAL (SELECT participants.define_custom_field(p, 'site', 'text'),
                                participants.define_custom_field(p, 'visits', 'integer')) d
\$\$;
SQL
echo "  input: CSV $(stat -c %s "$DIR/rows.csv") bytes, JSON $(stat -c %s "$DIR/rows.json") bytes"

# import_csv PROJECT INPUT: import the CSV named INPUT; dies unless every row was added
import_csv() {
    local out
    out=$("${PSQL[@]}" -c "SELECT r->>'status', r->'counts'->>'added', r->'counts'->>'rows' FROM (SELECT participants.import_participants('$1', data) AS r FROM input WHERE name = '$2') s") ||
        { echo "import_participants failed on the $2 file" >&2; exit 1; }
    case $out in completed\|*) ;; *) echo "import of $2 failed: $out" >&2; exit 1 ;; esac
    [ "$(cut -d'|' -f2 <<<"$out")" = "$(cut -d'|' -f3 <<<"$out")" ] || { echo "import of $2 did not add every row: $out" >&2; exit 1; }
}
# upsert_json PROJECT INPUT: upsert_participants of the JSON named INPUT; dies unless every row was added
upsert_json() {
    local out
    out=$("${PSQL[@]}" -c "SELECT r->>'totalAdded', jsonb_array_length(r->'results') FROM (SELECT participants.upsert_participants('$1', data::jsonb) AS r FROM input WHERE name = '$2') s") ||
        { echo "upsert_participants failed on the $2 file" >&2; exit 1; }
    [ "$(cut -d'|' -f1 <<<"$out")" = "$(cut -d'|' -f2 <<<"$out")" ] || { echo "upsert of $2 did not add every row: $out" >&2; exit 1; }
}
# every run starts from an empty, vacuumed participant table
reset() {
    "${PSQL[@]}" -c "DELETE FROM participants.participant" -c "VACUUM ANALYZE participants.participant" -c "CHECKPOINT"
}

# warm both paths, and check that the two files are the same participants
reset
pc=$("${PSQL[@]}" -c "SELECT fresh('warm csv')"); pj=$("${PSQL[@]}" -c "SELECT fresh('warm json')")
import_csv "$pc" 'small csv'; upsert_json "$pj" 'small json'
cols="participant_identifier, invitation_status, email, first_name, last_name, date_of_birth, gender, city, state, postal_code, mobile_phone, custom_fields"
differ=$("${PSQL[@]}" -c "SELECT count(*) FROM ((SELECT $cols FROM participants.participant WHERE project_id = '$pc' EXCEPT SELECT $cols FROM participants.participant WHERE project_id = '$pj')
    UNION ALL (SELECT $cols FROM participants.participant WHERE project_id = '$pj' EXCEPT SELECT $cols FROM participants.participant WHERE project_id = '$pc')) d")
site=$("${PSQL[@]}" -c "SELECT custom_fields->>'site' FROM participants.participant WHERE project_id = '$pc' AND participant_identifier = 'I12'")

csv_rates=() json_rates=()
for r in $(seq 1 "$REPS"); do
    reset; p=$("${PSQL[@]}" -c "SELECT fresh('csv $r')")
    t0=$(now); import_csv "$p" csv; t1=$(now)
    csv_rates+=("$(rate "$SIZE" "$(elapsed "$t0" "$t1")")")
    reset; p=$("${PSQL[@]}" -c "SELECT fresh('json $r')")
    t0=$(now); upsert_json "$p" json; t1=$(now)
    json_rates+=("$(rate "$SIZE" "$(elapsed "$t0" "$t1")")")
    echo "  run $r: import_participants (CSV) ${csv_rates[-1]} rows/s, upsert_participants (JSON) ${json_rates[-1]} rows/s"
done
cm=$(printf '%s\n' "${csv_rates[@]}" | median); jm=$(printf '%s\n' "${json_rates[@]}" | median)

# mem N INPUT: "input_bytes peak_growth_kB" of a backend importing INPUT (N rows)
mem() {
    local n=$1 tag=$DIR/mem.$1 bg pid=""
    rm -f "$tag".*
    "${PSQL[@]}" >"$tag.out" <<SQL &
SELECT pg_backend_pid() \g $tag.pid
SELECT octet_length(data) FROM input WHERE name = '$2' \g $tag.size
SELECT participants.import_participants(fresh('mem warm $n'), data)->>'status' FROM input WHERE name = 'tiny csv' \g $tag.warm
SELECT pg_sleep(0.5) \g /dev/null
SELECT participants.import_participants(fresh('mem $n'), data)->>'status' FROM input WHERE name = '$2' \g $tag.status
SELECT pg_sleep(0.2) \g /dev/null
SQL
    bg=$!
    for _ in $(seq 1 400); do
        [ -s "$tag.warm" ] && pid=$(cat "$tag.pid") && break
        sleep 0.01
    done
    [ -n "$pid" ] || { echo "no backend pid for the memory run" >&2; exit 1; }
    sleep 0.2
    # base during the pause, then the peak until the backend is gone
    perl -MTime::HiRes=usleep -e '
        my ($pid) = @ARGV; my ($base, $peak) = (undef, 0);
        while (open(my $f, "<", "/proc/$pid/status")) {
            while (<$f>) { if (/^RssAnon:\s+(\d+)/) { $base //= $1; $peak = $1 if $1 > $peak } }
            close $f; usleep 2000;
        }
        print $base, " ", $peak, "\n"' "$pid" >"$tag.kb"
    wait "$bg"
    [ "$(cat "$tag.status")" = completed ] || { echo "memory import of $2 failed" >&2; exit 1; }
    read -r base peak <"$tag.kb"
    echo "$(cat "$tag.size") $((peak - base))"
}
out=$(mem "$SMALL" 'small csv'); read -r s_in s_kb <<<"$out"
out=$(mem "$SIZE" csv); read -r l_in l_kb <<<"$out"
s_beyond=$(( s_kb - s_in / 1024 )); l_beyond=$(( l_kb - l_in / 1024 ))

echo
echo "the CSV and the JSON give the same participants: $([ "$differ" = 0 ] && echo yes || echo "NO ($differ rows differ)"); a quoted comma read as: $site"
echo "rows/s (median of $REPS, $SIZE rows): import_participants (CSV) $cm, upsert_participants (JSON) $jm, ratio $(ratio "$cm" "$jm") (target >= 0.8)"
printf 'import memory, %6d rows: peak +%7d kB private, input %6d kB, beyond input %7d kB\n' "$SMALL" "$s_kb" $((s_in / 1024)) "$s_beyond"
printf 'import memory, %6d rows: peak +%7d kB private, input %6d kB, beyond input %7d kB\n' "$SIZE" "$l_kb" $((l_in / 1024)) "$l_beyond"
echo "import memory ratio $SIZE/$SMALL rows: beyond input $(ratio "$l_beyond" "$s_beyond") (flat: close to 1), raw peak $(ratio "$l_kb" "$s_kb")"
