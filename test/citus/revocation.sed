# Expected differences of test/specs/revocation.spec on a Citus cluster.
#
# The coordinator checks an API call's access and forwards the call to the
# worker as the owner of the extension (doc/scaling-out.md). Citus then refuses
# the caller's own raw reads of the same shards later in that transaction,
# because another user's connection touched them: a confined role's raw read
# after an API call of the same project, in one transaction, fails with this
# error (XX000 from Citus) and the transaction is rolled back.
/^step s1_allowed: .*$/{
N
N
N
N
N
N
s/^(step s1_allowed: [^\n]*)\nallowed\|rows_seen\n-+\+-+\n +0\| +0\n\(1 row\)\n\nstep s1_commit: COMMIT;$/\1\nERROR:  cannot perform query on placements that were modified in this transaction by a different user\nstep s1_commit: COMMIT;/
}
