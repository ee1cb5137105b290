# Expected differences of sql/distribute.sql on a Citus cluster, where the
# database has been distributed already.
#
# Called again, participants.distribute() changes nothing and succeeds (the
# single node's answer is 0A000: no Citus).
s/^ 0A000: participants.distribute\(\) needs the Citus extension$/ ok/
# Its policies are the rewritten ones, without the subquery Citus refuses in a
# policy of a distributed table: none is left with it (29 on one node).
/^ policies_with_subquery *$/,/^\(1 row\)$/s/^ +29$/ 0/
