#!/usr/bin/env bash
# bench/upsert.sh — write-path benchmark of the participants extension.
#
# Builds a throwaway cluster (as user postgres, Unix socket only) and prints, in
# one run on this machine:
#   - COPY rows/s into a bare table with the same columns and indexes (baseline)
#   - upsert_participants rows/s in 10k-element batches: all new, all existing
#   - upsert_participant TPS under pgbench (2 clients, -M prepared,
#     synchronous_commit=off) next to a plain prepared INSERT ... ON CONFLICT
#   - the ratios against their baselines
# Each figure is the median of REPS runs. Needs root (for runuser) and the
# extension installed (sudo bash test/dev.sh bench does both).
#
#   ROWS=100000 REPS=3 PGBENCH_SECONDS=15 sudo -E bash bench/upsert.sh
set -euo pipefail

ROWS=${ROWS:-100000}
BATCH=${BATCH:-10000}
REPS=${REPS:-3}
SECS=${PGBENCH_SECONDS:-15}
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"${PSQL[@]}" <<SQL
CREATE EXTENSION participants CASCADE;
CREATE TABLE project_ids (name text PRIMARY KEY, id uuid);
INSERT INTO project_ids VALUES ('bulk', participants.create_project('bench bulk')),
                               ('single', participants.create_project('bench single'));
-- the bare baseline: same columns, defaults and indexes; no trigger, check or foreign key
CREATE TABLE bare (LIKE participants.participant INCLUDING DEFAULTS INCLUDING INDEXES);
CREATE TABLE bare_single (LIKE participants.participant INCLUDING DEFAULTS INCLUDING INDEXES);
-- the same $ROWS participants as request bodies, in batches of $BATCH
CREATE TABLE bodies AS
  SELECT (i - 1) / $BATCH AS batch,
         jsonb_agg(jsonb_build_object(
           'participantIdentifier', 'P' || i,
           'invitationStatus', 'approved',
           'demographics', jsonb_build_object(
              'email', 'person' || i || '@example.org', 'firstName', 'First' || (i % 997),
              'lastName', 'Last' || (i % 1499), 'dateOfBirth', (date '1950-01-01' + (i % 20000))::text,
              'gender', (ARRAY['M','F','O'])[1 + i % 3], 'city', 'City' || (i % 300), 'state', 'TN',
              'postalCode', lpad((i % 99999)::text, 5, '0'), 'mobilePhone', '+1' || (2000000000 + i)::text),
           'customFields', jsonb_build_object('Arm', (ARRAY['A','B'])[1 + i % 2], 'Visits', i % 12))
           ORDER BY i) AS body
  FROM generate_series(1, $ROWS) i GROUP BY 1;
CREATE TABLE bodies_changed AS
  SELECT batch, (SELECT jsonb_agg(jsonb_build_object('participantIdentifier', e->>'participantIdentifier',
                   'demographics', jsonb_build_object('firstName', 'Changed')))
                 FROM jsonb_array_elements(body) e) AS body
  FROM bodies;
-- the same rows as COPY input for the bare table
COPY (SELECT (SELECT id FROM project_ids WHERE name = 'bulk'), gen_random_uuid(),
             e->>'participantIdentifier', gen_random_uuid()::text, e->>'invitationStatus',
             e->'demographics'->>'email', e->'demographics'->>'firstName', NULL, e->'demographics'->>'lastName',
             (e->'demographics'->>'dateOfBirth')::date, NULL, e->'demographics'->>'gender', NULL, NULL,
             e->'demographics'->>'city', e->'demographics'->>'state', e->'demographics'->>'postalCode',
             e->'demographics'->>'mobilePhone', NULL, e->'customFields', false, '', NULL, NULL, false, now(), now()
      FROM bodies, jsonb_array_elements(body) e) TO '$DIR/rows.copy';
SQL

echo "participants write benchmark: $ROWS rows, batches of $BATCH, median of $REPS runs, $(nproc) cores"

# bulk_rate TABLE: rows/s of upsert_participants over every batch of TABLE, one call each
bulk_rate() {
    local t0 t1
    t0=$(now)
    for b in $(seq 0 $((nbatches - 1))); do
        "${PSQL[@]}" -c "SELECT pg_column_size(participants.upsert_participants((SELECT id FROM project_ids WHERE name = 'bulk'), body)) FROM $1 WHERE batch = $b" >/dev/null
    done
    t1=$(now)
    rate "$ROWS" "$(elapsed "$t0" "$t1")"
}

copy_rates=() new_rates=() old_rates=()
nbatches=$(( (ROWS + BATCH - 1) / BATCH ))
for r in $(seq 1 "$REPS"); do
    "${PSQL[@]}" -c "TRUNCATE bare" -c "CHECKPOINT"
    t0=$(now); "${PSQL[@]}" -c "COPY bare FROM '$DIR/rows.copy'"; t1=$(now)
    copy_rates+=("$(rate "$ROWS" "$(elapsed "$t0" "$t1")")")

    "${PSQL[@]}" -c "DELETE FROM participants.participant" -c "VACUUM participants.participant" -c "CHECKPOINT"
    new_rates+=("$(bulk_rate bodies)")
    old_rates+=("$(bulk_rate bodies_changed)")
    echo "  run $r: COPY ${copy_rates[-1]} rows/s, bulk new ${new_rates[-1]} rows/s, bulk existing ${old_rates[-1]} rows/s"
done
copy_med=$(printf '%s\n' "${copy_rates[@]}" | median)
new_med=$(printf '%s\n' "${new_rates[@]}" | median)
old_med=$(printf '%s\n' "${old_rates[@]}" | median)

# single calls under pgbench: half the identifiers exist, half are new
SINGLE=$("${PSQL[@]}" -c "SELECT id FROM project_ids WHERE name = 'single'")
"${PSQL[@]}" -c "SELECT pg_column_size(participants.upsert_participants('$SINGLE', (
    SELECT jsonb_agg(jsonb_build_object('participantIdentifier', 'S' || i, 'demographics',
      jsonb_build_object('firstName', 'F', 'email', 's' || i || '@example.org'))) FROM generate_series(1, 50000) i)))" >/dev/null
"${PSQL[@]}" -c "INSERT INTO bare_single (project_id, id, participant_identifier, first_name, email)
    SELECT '$SINGLE', gen_random_uuid(), 'S' || i, 'F', 's' || i || '@example.org' FROM generate_series(1, 50000) i" \
    -c "VACUUM ANALYZE" -c "CHECKPOINT"
# each client upserts its own participants (odd or even numbers): two clients adding the
# same new row at once would make the plain INSERT ... ON CONFLICT fail on the email index,
# which is not its arbiter
cat >"$DIR/ext.sql" <<EOF
\set n 2 * random(0, 49999) + 1 + :client_id
SELECT participants.upsert_participant('$SINGLE', ('{"participantIdentifier": "S' || :n || '", "demographics": {"firstName": "F' || :n || '", "email": "s' || :n || '@example.org"}}')::jsonb);
EOF
cat >"$DIR/plain.sql" <<EOF
\set n 2 * random(0, 49999) + 1 + :client_id
INSERT INTO bare_single (project_id, id, participant_identifier, first_name, email, inserted_date, updated_date)
VALUES ('$SINGLE', gen_random_uuid(), 'S' || :n, 'F' || :n, 's' || :n || '@example.org', now(), now())
ON CONFLICT (project_id, participant_identifier)
DO UPDATE SET first_name = EXCLUDED.first_name, email = EXCLUDED.email, updated_date = EXCLUDED.updated_date;
EOF
chmod 644 "$DIR"/*.sql
ext_tps=() plain_tps=()
for r in $(seq 1 "$REPS"); do
    plain_tps+=("$(pgb "$DIR/plain.sql")")
    ext_tps+=("$(pgb "$DIR/ext.sql")")
    echo "  run $r: plain INSERT ... ON CONFLICT ${plain_tps[-1]} tps, upsert_participant ${ext_tps[-1]} tps"
done
plain_med=$(printf '%s\n' "${plain_tps[@]}" | median)
ext_med=$(printf '%s\n' "${ext_tps[@]}" | median)

verdict() { awk -v r="$1" -v t="$2" 'BEGIN {print (r >= t ? "meets" : "misses") " target " t "x"}'; }
r_new=$(ratio "$new_med" "$copy_med"); r_old=$(ratio "$old_med" "$copy_med"); r_single=$(ratio "$ext_med" "$plain_med")
echo
echo "| path | median | baseline | ratio |"
echo "|---|---|---|---|"
echo "| COPY into bare table (baseline) | $copy_med rows/s | | |"
echo "| upsert_participants, all new | $new_med rows/s | COPY | ${r_new}x ($(verdict "$r_new" 1.0)) |"
echo "| upsert_participants, all existing | $old_med rows/s | COPY | ${r_old}x ($(verdict "$r_old" 1.0)) |"
echo "| plain INSERT ... ON CONFLICT (baseline) | $plain_med tps | | |"
echo "| upsert_participant | $ext_med tps | plain SQL | ${r_single}x ($(verdict "$r_single" 0.9)) |"
