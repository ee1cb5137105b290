#!/usr/bin/env bash
# bench/segments.sh — segment benchmark of the participants extension.
#
# On a throwaway cluster, prints in one run on this machine:
#   1. add_segment_members of ADD participants to a static segment in one call,
#      rows/s, next to a plain INSERT ... SELECT of the same membership rows into
#      the same table (same indexes and foreign keys); median of REPS runs
#   2. upsert_participant TPS (pgbench, 2 clients, -M prepared) in a project with
#      0 dynamic segments and in one with 20, runs interleaved; ratio of medians
#   3. query_participants by segment at SIZE participants: a static segment of
#      MEMBERS members and a dynamic one of about MEMBERS, sorted by InsertedDate
#      and by a custom field, page 0 with the exact total (pgbench, 1 client,
#      RUNS executions; median and p95), next to the hand-written pair of
#      statements for the same answer (the page by a join in sort order, the total
#      from the membership); and the time to build the dynamic segment from SIZE
#      participants
# Needs root and the extension installed (sudo bash test/dev.sh bench does both).
#
#   SIZE=1000000 MEMBERS=50000 ADD=100000 REPS=3 RUNS=30 PGBENCH_SECONDS=15 sudo -E bash bench/segments.sh
set -euo pipefail
SIZE=${SIZE:-1000000}
MEMBERS=${MEMBERS:-50000}
ADD=${ADD:-100000}
REPS=${REPS:-3}
RUNS=${RUNS:-30}
SECS=${PGBENCH_SECONDS:-15}
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"${PSQL[@]}" -c "CREATE EXTENSION participants CASCADE"
echo "participants segment benchmark: $ADD added to a group, 0 vs 20 dynamic segments, $SIZE participants with $MEMBERS in a segment; $(nproc) cores"

# load PROJECT_NAME COUNT: a project of COUNT participants by raw INSERT (the
# guard and segment triggers run), 100k per statement; prints its id
load() {
    local name=$1 count=$2 p lo
    p=$("${PSQL[@]}" -c "SELECT participants.create_project('$name')")
    for ((lo = 1; lo <= count; lo += 100000)); do
        "${PSQL[@]}" >/dev/null <<SQL
INSERT INTO participants.participant (project_id, id, participant_identifier, invitation_status,
    email, first_name, last_name, gender, city, state, custom_fields)
SELECT '$p', gen_random_uuid(), 'P' || i, (ARRAY['approved', 'pending', NULL])[1 + i % 3],
    'p' || i || '@example.org', 'F' || (i % 97), 'Last' || (i % 199), (ARRAY['M', 'F', 'O'])[1 + i % 3],
    'City' || (i % 150), 'TN',
    jsonb_build_object('Arm', (ARRAY['A', 'B'])[1 + i % 2], 'Visits', i % 12, 'Cohort', i % ($SIZE / $MEMBERS),
                       'Score', abs(hashint4(i)) % 1000)
FROM generate_series($lo, least($lo + 99999, $count)) i;
SQL
    done
    echo "$p"
}

# ---------------------------------------------------------------- 1. adds
A=$(load "adds" "$ADD")
G=$("${PSQL[@]}" -c "SELECT participants.create_segment('$A', 'group')->>'segmentID'")
"${PSQL[@]}" -c "CREATE TABLE add_body AS SELECT jsonb_agg(participant_identifier) AS body FROM participants.participant WHERE project_id = '$A'" \
    -c "VACUUM ANALYZE"
add_rates=() plain_rates=()
for r in $(seq 1 "$REPS"); do
    "${PSQL[@]}" -c "DELETE FROM participants.segment_membership WHERE segment_id = '$G'" -c "VACUUM participants.segment_membership" -c "CHECKPOINT"
    t0=$(now)
    "${PSQL[@]}" -c "SELECT participants.add_segment_members('$A', '$G', body) FROM add_body" >/dev/null
    t1=$(now)
    add_rates+=("$(rate "$ADD" "$(elapsed "$t0" "$t1")")")
    "${PSQL[@]}" -c "DELETE FROM participants.segment_membership WHERE segment_id = '$G'" -c "VACUUM participants.segment_membership" -c "CHECKPOINT"
    t0=$(now)
    "${PSQL[@]}" -c "INSERT INTO participants.segment_membership (project_id, segment_id, participant_id, add_date)
        SELECT project_id, '$G', id, now() FROM participants.participant WHERE project_id = '$A'"
    t1=$(now)
    plain_rates+=("$(rate "$ADD" "$(elapsed "$t0" "$t1")")")
    echo "  run $r: add_segment_members ${add_rates[-1]} rows/s, plain INSERT ... SELECT ${plain_rates[-1]} rows/s"
done
add_med=$(printf '%s\n' "${add_rates[@]}" | median)
plain_med=$(printf '%s\n' "${plain_rates[@]}" | median)

# ---------------------------------------------------------------- 2. TPS, 0 vs 20 dynamic segments
D0=$(load "dynamic 0" 50000)
D20=$(load "dynamic 20" 50000)
"${PSQL[@]}" >/dev/null <<SQL
SELECT participants.create_segment('$D20', 'dynamic ' || n, NULL, f::jsonb) FROM (VALUES
 (1, '{"custom_fields": {"Arm": "A"}}'), (2, '{"custom_fields": {"Arm": "B"}}'),
 (3, '{"custom_fields": {"Visits": 3}}'), (4, '{"custom_fields": {"Visits": "7"}}'),
 (5, '{"demographic_fields": {"FirstName": "F1"}}'), (6, '{"demographic_fields": {"City": "City7"}}'),
 (7, '{"demographic_fields": {"Gender": "F"}}'), (8, '{"query": "p12"}'),
 (9, '{"query": "example.org"}'), (10, '{"query": "smith"}'),
 (11, '{"invitation_status": "approved"}'), (12, '{"invitation_status": null}'),
 (13, '{"enrolled": true}'), (14, '{"withdrawn": false}'),
 (15, '{"enrolled": false, "withdrawn": false}'), (16, '{"custom_fields": {"Arm": "A"}, "withdrawn": false}'),
 (17, '{"demographic_fields": {"LastName": "Last5"}}'), (18, '{"query": "city1", "custom_fields": {"Visits": 1}}'),
 (19, '{"custom_fields": {"Missing": null}}'), (20, '{"demographic_fields": {"State": "TN"}, "enrolled": false}')
) v(n, f);
VACUUM ANALYZE;
CHECKPOINT;
SQL
# each client upserts its own participants (odd or even numbers), changing the
# first name (which moves some in and out of "dynamic 5") and keeping the email
for p in D0 D20; do
    cat >"$DIR/$p.sql" <<EOF
\set n 2 * random(0, 24999) + 1 + :client_id
SELECT participants.upsert_participant('${!p}', ('{"participantIdentifier": "P' || :n || '", "demographics": {"firstName": "F' || (:n % 89) || '", "email": "p' || :n || '@example.org"}}')::jsonb);
EOF
done
chmod 644 "$DIR"/*.sql
# warm up (the first runs after loading are cold), then interleave
pgb "$DIR/D0.sql" 5 >/dev/null
pgb "$DIR/D20.sql" 5 >/dev/null
tps0=() tps20=()
for r in $(seq 1 "$REPS"); do
    tps0+=("$(pgb "$DIR/D0.sql")")
    tps20+=("$(pgb "$DIR/D20.sql")")
    echo "  run $r: upsert_participant with 0 dynamic segments ${tps0[-1]} tps, with 20 ${tps20[-1]} tps"
done
tps0_med=$(printf '%s\n' "${tps0[@]}" | median)
tps20_med=$(printf '%s\n' "${tps20[@]}" | median)
changes=$("${PSQL[@]}" -c "SELECT count(*) FILTER (WHERE remove_date IS NOT NULL) FROM participants.segment_membership WHERE project_id = '$D20'")

# ---------------------------------------------------------------- 3. search in a segment
t0=$(now)
B=$(load "big" "$SIZE")
t1=$(now)
"${PSQL[@]}" -c "VACUUM ANALYZE participants.participant" >/dev/null
S=$("${PSQL[@]}" -c "SELECT participants.create_segment('$B', 'sample')->>'segmentID'")
"${PSQL[@]}" -c "SELECT participants.add_segment_members('$B', '$S', (SELECT jsonb_agg('P' || i) FROM generate_series(1, $SIZE, $SIZE / $MEMBERS) i))" >/dev/null
t2=$(now)
DYN=$("${PSQL[@]}" -c "SELECT participants.create_segment('$B', 'cohort 7', NULL, '{\"custom_fields\": {\"Cohort\": 7}}')->>'segmentID'")
t3=$(now)
"${PSQL[@]}" -c "VACUUM ANALYZE"
printf '  loaded %s participants in %.0f s; building the dynamic segment (%s members) from them took %.1f s\n' \
    "$SIZE" "$(elapsed "$t0" "$t1")" \
    "$("${PSQL[@]}" -c "SELECT participants.get_segment('$B', '$DYN')->>'participantCount'")" "$(elapsed "$t2" "$t3")"

COLS="p.id, p.participant_identifier, p.link_identifier, p.invitation_status, p.email, p.first_name, p.middle_name, p.last_name, p.date_of_birth, p.preferred_language, p.gender, p.street1, p.street2, p.city, p.state, p.postal_code, p.mobile_phone, p.utc_offset, p.custom_fields, p.exclude_from_export, p.institution_code, p.enrollment_date, p.withdraw_date, p.inserted_date, p.opted_out"
SCORE_ORDER="participants.custom_field_sort_number(p.custom_fields -> 'Score') NULLS LAST, participants.custom_field_sort_date(p.custom_fields -> 'Score') NULLS LAST, (p.custom_fields ->> 'Score') NULLS LAST, p.inserted_date, p.id"
# name SEGMENT ORDER-ARGS HAND-ORDER
script() {
    cat >"$DIR/$1.ours.sql" <<EOF
SELECT participants.query_participants('$B', segment_id => '$2'$3);
EOF
    cat >"$DIR/$1.hand.sql" <<EOF
SELECT $COLS, m.add_date FROM participants.segment_membership m
  JOIN participants.participant p ON p.project_id = m.project_id AND p.id = m.participant_id
  WHERE m.project_id = '$B' AND m.segment_id = '$2' AND m.remove_date IS NULL
  ORDER BY $4 LIMIT 20;
SELECT count(*) FROM participants.segment_membership m
  WHERE m.project_id = '$B' AND m.segment_id = '$2' AND m.remove_date IS NULL;
EOF
}
script static_inserted "$S" "" "p.inserted_date, p.id"
script static_score "$S" ", sort_by => 'CustomField.Score'" "$SCORE_ORDER"
script dynamic_inserted "$DYN" ", sort_ascending => false" "p.inserted_date DESC, p.id DESC"
chmod 644 "$DIR"/*.sql
declare -A LAT
for q in static_inserted static_score dynamic_inserted; do
    read -r om op < <(latency "$DIR/$q.ours.sql")
    read -r hm hp < <(latency "$DIR/$q.hand.sql")
    LAT[$q]="$om $op $hm $hp"
    printf '  %-17s ours median %8.2f ms p95 %8.2f ms | hand-written median %8.2f ms p95 %8.2f ms\n' "$q" "$om" "$op" "$hm" "$hp"
done

verdict() { awk -v r="$1" -v t="$2" 'BEGIN {print (r >= t ? "meets" : "misses") " target " t "x"}'; }
echo
echo "| measure | ours | baseline | ratio |"
echo "|---|---|---|---|"
echo "| add $ADD members to a static segment, one call | $add_med rows/s | plain INSERT ... SELECT $plain_med rows/s | $(ratio "$add_med" "$plain_med")x |"
r=$(ratio "$tps20_med" "$tps0_med")
echo "| upsert_participant, 20 dynamic segments ($changes episodes ended during the runs) | $tps20_med tps | 0 dynamic segments $tps0_med tps | ${r}x ($(verdict "$r" 0.7)) |"
for q in static_inserted static_score dynamic_inserted; do
    read -r om op hm hp <<<"${LAT[$q]}"
    printf '| query by segment (%s), page 0, %s participants | %.2f ms (p95 %.2f) | hand-written SQL %.2f ms (p95 %.2f) | %sx |\n' \
        "$q" "$SIZE" "$om" "$op" "$hm" "$hp" "$(ratio "$om" "$hm")"
done
