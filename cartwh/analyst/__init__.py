"""The analyst package: the PHI-free read path for analysts (R, SAS, another DuckDB).

``cartwh publish`` and the end of every successful refresh write it into ``CARTWH_ANALYST``:
``analyst.duckdb`` with only the schemas mart, analysis and quality, de-identified under HIPAA
Safe Harbor (:mod:`cartwh.analyst.deidentify`), the same tables as Parquet, a codebook
(:mod:`cartwh.analyst.codebook`) and the provenance of the refresh (:mod:`cartwh.analyst.package`).
"""

from cartwh.analyst.deidentify import PublishError
from cartwh.analyst.package import ANALYST_DATABASE, check_publishable, publish_package

__all__ = ["ANALYST_DATABASE", "PublishError", "check_publishable", "publish_package"]
