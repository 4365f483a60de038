{#
  A one-row invariant of a model: every row must satisfy `expression` (a SQL boolean over the
  row's columns). Returns the rows where it is false or null, so a null is a failure (unlike
  dbt_utils' test of the same name): say what a missing value means in the expression itself,
  e.g. "lfs_days is null or cr_day30". To test some rows only, use dbt's `config: {where: ...}`.
  With the default severity (error) a failure fails `dbt build` and is a blocking Dagster asset
  check; see docs/quality-checks.md.
#}
{% test expression_is_true(model, expression) %}
select *
from {{ model }}
where not coalesce(({{ expression }}), false)
{% endtest %}
