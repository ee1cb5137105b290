# Expected differences of sql/grant_access.sql on a Citus cluster.
#
# A role with EXECUTE on the API functions but no privilege on the tables
# reads a table with raw SQL: on one node PostgreSQL refuses the table
# (42501, "permission denied for table participant"); on a cluster Citus,
# planning the query on the coordinator, evaluates the row-level security
# policy's allowed_projects() first, which the role may not call there either
# (42501, naming the function). Refused either way, with the same SQLSTATE.
/AS app_table;$/,/^\(1 row\)$/s/^ 42501: permission denied for table participant$/ 42501: permission denied for function allowed_projects/
