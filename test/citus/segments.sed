# Expected differences of sql/segments.sql on a Citus cluster.
#
# A raw UPDATE that moves a segment to another project: Citus refuses to
# change the distribution column itself (0A000) before the extension's row
# trigger can refuse it (PT409). Nothing is written either way.
/AS raw_project_change;$/,/^\(1 row\)$/s/^ PT409: cannot change the project_id, id or kind of a segment$/ 0A000: modifying the partition value of rows is not allowed/
