"""pandera data contracts of the warehouse.

- :mod:`models.extract_format`: the canonical extract format (one ``DataFrameModel`` per
  delivered entity: columns, types, codes, ranges, keys, PHI flags, the row's date). The
  loader, the generated dbt staging (which applies its rules set-wise: a bad value is set to
  missing, a bad key field quarantines the row), the demo generator and the tests read it.
- :mod:`models.patient_outcomes`: the analysis contract of ``mart.patient_outcomes`` (types,
  ranges, code lists), run by a blocking Dagster asset check before the statistics.

Not to be confused with ``dbt_project/models/``, which holds the dbt models (SQL) that these
contracts describe. Which kind of rule belongs where: ``docs/quality-checks.md``.
"""
