# Expected differences of sql/studies.sql on a Citus cluster.
#
# A raw INSERT that leaves project_id out: Citus cannot route a row without
# its distribution column and refuses it (22004) before PostgreSQL's NOT NULL
# constraint does (23502). Nothing is written either way.
s/^ 23502: null value in column "project_id" of relation "study_participant" violates not-null constraint$/ 22004: cannot perform an INSERT without a partition column value/
