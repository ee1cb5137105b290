# Expected differences of sql/privileges.sql on a Citus cluster.
#
# participants.distribute() lets every role call the four helpers that the
# row-level security policies and the indexes call in the name of whoever
# reads or writes a table: those run on every node, and Citus passes on no
# GRANT on an extension's function that is not distributed. Each computes
# from its arguments, or answers for the caller only (doc/scaling-out.md).
/^ func *$/,/^\(0 rows\)$/s/^\(0 rows\)$/ participants.participant_search_text(date,text[])\n participants.custom_field_sort_number(jsonb)\n participants.custom_field_sort_date(jsonb)\n participants.allowed_projects()\n(4 rows)/
