"""From raw to mart: dbt code generation from the mapping files, project preparation, and
the dbt-duckdb plugin (pseudonymisation UDF). The models themselves are in ``dbt_project/``."""
