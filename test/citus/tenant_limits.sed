# Expected differences of sql/tenant_limits.sql on a Citus cluster.
#
# A sortable custom field gets no index of its own on a cluster: the trigger
# that would create it fires on a worker, where DDL on a distributed table may
# not run. Such fields still sort (by evaluating the sort key), and who may
# make a field sortable, and how many, is checked the same (doc/scaling-out.md).
/AS indexes_(operator|unchanged|two_fields);$/,/^\(1 row\)$/s/^( +)[0-9]+$/\10/
