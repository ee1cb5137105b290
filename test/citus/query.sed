# Expected differences of sql/query.sql on a Citus cluster.
#
# A sortable custom field gets no index of its own on a cluster: the trigger
# that would create it fires on a worker, where DDL on a distributed table may
# not run. Such fields still sort, in the same order, by evaluating the sort
# key (doc/scaling-out.md). So there is no such index to list or count, and
# none whose scans could be counted.
/^SELECT sort_indexes\(\);$/,/^\(1 row\)$/{/^ CREATE INDEX participant_sort_X_asc /d;s/^ CREATE INDEX participant_sort_X_desc .*$/ none/}
/AS (asc|desc)_index;$/,/^\(1 row\)$/s/\| t$/|/
/AS (raw_)?indexes FROM pg_indexes /,/^\(1 row\)$/s/^( +)2$/\10/
#
# The query runs in a backend of the worker that holds the project, and
# pg_stat_get_xact_numscans counts the scans of the coordinator's backend
# only: none of the scans it shows on one node are seen from the coordinator.
/AS inserted_index;$/,/^\(1 row\)$/s/\| t$/| f/
/AS (trigram|gin)_scans;$/,/^\(1 row\)$/s/\| +[0-9]+$/| 0/
