"""Preparing the dbt project: generated staging models, then a manifest.

A clean clone has neither; the Dagster definitions call :func:`prepare` when
they load, so that the UI, ``cartwh refresh`` and the tests all see the same
graph for the centres of the landing folder and the mapping files.
"""

from __future__ import annotations

import json
import os

from cartwh import dbt_codegen
from cartwh.config import Settings
from cartwh.mapping import known_centres


def dbt_environment(settings: Settings) -> None:
    """Environment that dbt (and its plugin) read: warehouse, generated models, no telemetry."""
    os.environ["CARTWH_WAREHOUSE"] = str(settings.warehouse)
    os.environ["CARTWH_SECRET"] = settings.secret
    os.environ["CARTWH_DBT_GENERATED"] = settings.dbt_generated
    os.environ["DBT_LOG_PATH"] = str(settings.dbt_work / "logs")
    os.environ["DBT_TARGET_PATH"] = str(settings.dbt_work / "target")
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")


def prepare(settings: Settings) -> list[str]:
    """Generate the staging models for the known centres and parse the project."""
    from dbt.cli.main import dbtRunner

    dbt_environment(settings)
    centres = known_centres(settings.landing)
    dbt_codegen.generate(
        centres, dbt_codegen.DBT_PROJECT_DIR / settings.dbt_generated, settings.mappings
    )
    project_dir = str(dbt_codegen.DBT_PROJECT_DIR)
    result = dbtRunner().invoke(
        [
            "parse",
            "--quiet",
            "--project-dir",
            project_dir,
            "--profiles-dir",
            project_dir,
            "--vars",
            json.dumps({"cutoff": settings.cutoff.isoformat()}),
        ]
    )
    if not result.success:
        raise RuntimeError(f"dbt parse failed: {result.exception}")
    return centres
