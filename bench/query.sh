#!/usr/bin/env bash
# bench/query.sh — search benchmark of the participants extension.
#
# For each size in SIZES, loads a project of that many participants (next to two
# projects a tenth its size) through upsert_participants, then times with pgbench
# (one client, -M prepared, RUNS executions each, per-transaction latencies):
#   lookup  get_participant by participantIdentifier
#   cf0     custom-field filter (Cohort: N/500 matches, 2,000 at 1M) + sort by the
#           declared sortable field Score, page 0, exact total
#   cf500   custom-field filter (Site: N/80 matches, 12,500 at 1M) + the same sort,
#           page 500 (rows 10,000-10,019; past the end below 1M)
#   text    query => 'smi' (substring of any field; N/200 match)
#   demo    demographic_fields => {"LastName": "Smith"} (N/200 match)
#   list    no filter, newest first, page 0, exact total
#   sorted  no filter, sort by Score descending, page 50, exact total
# each next to the hand-written SQL a person who knows the indexes would write for
# the same answer, on the same data and indexes, with the ratio of medians; then the
# plans of query_participants' own statements at the largest size (auto_explain).
# Needs root and the extension installed.
#
#   SIZES="10000 100000 1000000" RUNS=30 sudo -E bash bench/query.sh
set -euo pipefail
SIZES=${SIZES:-"10000 100000 1000000"}
RUNS=${RUNS:-30}
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"${PSQL[@]}" -c "CREATE EXTENSION participants CASCADE"

# load PROJECT_NAME COUNT: a project of COUNT participants, 10k per call; prints its id
load() {
    local name=$1 count=$2 p lo
    p=$("${PSQL[@]}" -c "SELECT participants.create_project('$name')")
    for ((lo = 1; lo <= count; lo += 10000)); do
        "${PSQL[@]}" >/dev/null <<SQL
SELECT pg_column_size(participants.upsert_participants('$p', (
  SELECT jsonb_agg(jsonb_build_object(
    'participantIdentifier', 'P' || i,
    'invitationStatus', (ARRAY['approved', 'pending', 'notInvited'])[1 + i % 3],
    'demographics', jsonb_build_object(
      'email', 'p' || i || '@example.org',
      'firstName', (ARRAY['Ann','Bob','Cy','Di','Ed','Flo','Gus','Hal','Ida','Jo'])[1 + i % 10] || (i % 37),
      'lastName', CASE WHEN i % 200 = 0 THEN 'Smith' ELSE (ARRAY['Jones','Brown','Lee','Garcia','Miller','Davis','Lopez','Wilson'])[1 + i % 8] || (i % 199) END,
      'dateOfBirth', (date '1940-01-01' + (i * 37) % 25000)::text,
      'gender', (ARRAY['M','F','O'])[1 + i % 3],
      'city', 'City' || (i % 150), 'state', 'TN', 'postalCode', lpad((i % 99999)::text, 5, '0'),
      'mobilePhone', '+1' || (2000000000 + i)::text),
    'customFields', jsonb_build_object(
      'Arm', (ARRAY['A','B','C'])[1 + i % 3], 'Score', abs(hashint4(i)) % 1000, 'Cohort', i % 500, 'Site', 'S' || (i % 80),
      'Visit', (date '2020-01-01' + i % 1000)::text, 'Smoker', (i % 2)::text)))
  FROM generate_series($lo, least($lo + 9999, $count)) i)));
SQL
    done
    echo "$p"
}

COLS="p.id, p.participant_identifier, p.link_identifier, p.invitation_status, p.email, p.first_name, p.middle_name, p.last_name, p.date_of_birth, p.preferred_language, p.gender, p.street1, p.street2, p.city, p.state, p.postal_code, p.mobile_phone, p.utc_offset, p.custom_fields, p.exclude_from_export, p.institution_code, p.enrollment_date, p.withdraw_date, p.inserted_date, p.opted_out"
# Score is declared sortable (integer): its sort key, the one its indexes hold
SCORE_ORDER="participants.custom_field_sort_number(p.custom_fields -> 'Score') NULLS LAST, p.inserted_date, p.id"
SEARCH="participants.participant_search_text(p.date_of_birth, VARIADIC ARRAY[p.participant_identifier, p.link_identifier, p.custom_fields ->> 'SecondaryIdentifier', p.email, p.first_name, p.middle_name, p.last_name, p.preferred_language, p.gender, p.street1, p.street2, p.city, p.state, p.postal_code, p.mobile_phone, p.utc_offset])"
QUERIES="lookup cf0 cf500 text demo list sorted"

# write_scripts PROJECT: one pgbench script per query, ours and hand-written.
# The hand-written SQL is what a person who knows the indexes writes for the
# same answer: the same conditions (containment for custom fields, the search
# text for text), the count as a window over the matches (kept below the
# ORDER BY ... LIMIT by OFFSET 0, or the planner may walk a sort index through
# every row), or as a second statement when nothing is filtered.
write_scripts() {
    local p=$1
    cat >"$DIR/lookup.ours.sql" <<EOF
\set n random(1, $SIZE)
SELECT participants.get_participant('$p', 'P' || :n);
EOF
    cat >"$DIR/lookup.hand.sql" <<EOF
\set n random(1, $SIZE)
SELECT $COLS FROM participants.participant p WHERE p.project_id = '$p' AND p.participant_identifier = 'P' || :n;
EOF
    cat >"$DIR/cf0.ours.sql" <<EOF
\set k random(0, 499)
SELECT participants.query_participants('$p', custom_fields => jsonb_build_object('Cohort', (:k)::int), sort_by => 'CustomField.Score');
EOF
    cat >"$DIR/cf0.hand.sql" <<EOF
\set k random(0, 499)
SELECT * FROM (SELECT $COLS, count(*) OVER () FROM participants.participant p WHERE p.project_id = '$p'
  AND (p.custom_fields @> jsonb_build_object('Cohort', (:k)::int) OR p.custom_fields @> jsonb_build_object('Cohort', (:k)::text)) OFFSET 0) p
  ORDER BY $SCORE_ORDER LIMIT 20;
EOF
    cat >"$DIR/cf500.ours.sql" <<EOF
\set k random(0, 79)
SELECT participants.query_participants('$p', custom_fields => jsonb_build_object('Site', 'S' || :k), sort_by => 'CustomField.Score', page_number => 500);
EOF
    cat >"$DIR/cf500.hand.sql" <<EOF
\set k random(0, 79)
SELECT * FROM (SELECT $COLS, count(*) OVER () FROM participants.participant p WHERE p.project_id = '$p'
  AND p.custom_fields @> jsonb_build_object('Site', 'S' || :k) OFFSET 0) p
  ORDER BY $SCORE_ORDER LIMIT 20 OFFSET 10000;
EOF
    cat >"$DIR/text.ours.sql" <<EOF
SELECT participants.query_participants('$p', query => 'smi');
EOF
    cat >"$DIR/text.hand.sql" <<EOF
SELECT * FROM (SELECT $COLS, count(*) OVER () FROM participants.participant p WHERE p.project_id = '$p'
  AND $SEARCH LIKE '%smi%' OFFSET 0) p
  ORDER BY p.inserted_date, p.id LIMIT 20;
EOF
    cat >"$DIR/demo.ours.sql" <<EOF
SELECT participants.query_participants('$p', demographic_fields => '{"LastName": "Smith"}');
EOF
    cat >"$DIR/demo.hand.sql" <<EOF
SELECT * FROM (SELECT $COLS, count(*) OVER () FROM participants.participant p WHERE p.project_id = '$p'
  AND lower(p.last_name) = 'smith' AND $SEARCH LIKE '%smith%' OFFSET 0) p
  ORDER BY p.inserted_date, p.id LIMIT 20;
EOF
    cat >"$DIR/list.ours.sql" <<EOF
SELECT participants.query_participants('$p', sort_ascending => false);
EOF
    cat >"$DIR/list.hand.sql" <<EOF
SELECT $COLS FROM participants.participant p WHERE p.project_id = '$p' ORDER BY p.inserted_date DESC, p.id DESC LIMIT 20;
SELECT count(*) FROM participants.participant p WHERE p.project_id = '$p';
EOF
    cat >"$DIR/sorted.ours.sql" <<EOF
SELECT participants.query_participants('$p', sort_by => 'CustomField.Score', sort_ascending => false, page_number => 50);
EOF
    cat >"$DIR/sorted.hand.sql" <<EOF
SELECT $COLS FROM participants.participant p WHERE p.project_id = '$p'
  ORDER BY participants.custom_field_sort_number(p.custom_fields -> 'Score') DESC NULLS LAST, p.inserted_date, p.id LIMIT 20 OFFSET 1000;
SELECT count(*) FROM participants.participant p WHERE p.project_id = '$p';
EOF
    chmod 644 "$DIR"/*.sql
}


echo "participants search benchmark: sizes $SIZES, $RUNS runs per query, $(nproc) cores"
declare -A RESULT
for SIZE in $SIZES; do
    t0=$(now)
    load "small a $SIZE" $((SIZE / 10)) >/dev/null
    P=$(load "big $SIZE" "$SIZE")
    load "small b $SIZE" $((SIZE / 10)) >/dev/null
    t1=$(now)
    # Score becomes a declared, sortable field: its values are checked and its indexes built
    "${PSQL[@]}" -c "SELECT participants.define_custom_field('$P', 'Score', 'integer', '{\"sortable\": true}')" >/dev/null
    t2=$(now)
    "${PSQL[@]}" -c "VACUUM ANALYZE participants.participant"
    printf '  loaded %s (+2 x %s) participants in %.0f s; declaring Score sortable took %.1f s\n' \
        "$SIZE" $((SIZE / 10)) "$(elapsed "$t0" "$t1")" "$(elapsed "$t1" "$t2")"
    write_scripts "$P"
    for q in $QUERIES; do
        read -r om op < <(latency "$DIR/$q.ours.sql")
        read -r hm hp < <(latency "$DIR/$q.hand.sql")
        RESULT[$SIZE,$q]="$om $op $hm $hp"
        printf '  %-8s %-7s ours median %8.2f ms p95 %8.2f ms | hand-written median %8.2f ms p95 %8.2f ms | ratio %s\n' \
            "$SIZE" "$q" "$om" "$op" "$hm" "$hp" "$(ratio "$om" "$hm")"
    done
done

echo
echo "| query | size | query_participants median / p95 | hand-written SQL median / p95 | ratio |"
echo "|---|---|---|---|---|"
for q in $QUERIES; do
    for SIZE in $SIZES; do
        read -r om op hm hp <<<"${RESULT[$SIZE,$q]}"
        printf '| %s | %s | %.2f / %.2f ms | %.2f / %.2f ms | %sx |\n' "$q" "$SIZE" "$om" "$op" "$hm" "$hp" "$(ratio "$om" "$hm")"
    done
done

# The plans of query_participants' own statements (auto_explain shows statements
# run inside functions), at the largest size
echo
echo "Plans of the statements query_participants ran, at $SIZE participants:"
for q in ${QUERIES#lookup }; do
    sql=$(sed -e '/^\\set/d' -e "s/:n/42/g; s/:k/7/g" "$DIR/$q.ours.sql")
    echo "--- $q"
    "${PSQL[@]}" 2>&1 >/dev/null <<SQL | awk 'BEGIN {RS = "NOTICE:  duration"} /Query Text: SELECT[^\n]*FROM participants.participant p/' \
        | grep -E "Scan|Sort|Limit|Index|Aggregate|WindowAgg|Recheck|Filter|Nested|Gather" \
        | sed -e 's/  (cost=[^)]*)//' -e 's/^/    /' | cut -c1-160 || true
LOAD 'auto_explain';
SET auto_explain.log_min_duration = 0;
SET auto_explain.log_nested_statements = on;
SET auto_explain.log_level = notice;
SET client_min_messages = notice;
$sql
SQL
done
