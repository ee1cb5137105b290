# Expected differences of sql/confinement.sql on a Citus cluster.
#
# A raw UPDATE that moves a participant to another project: Citus refuses to
# change the distribution column itself (0A000) before the extension's row
# trigger can refuse it (PT409). Nothing is written either way.
s/^ PT409: cannot change the project_id or id of a participant$/ 0A000: modifying the partition value of rows is not allowed/
