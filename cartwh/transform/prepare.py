"""Preparing the dbt project for a warehouse: generated staging models, then a manifest.

A clean clone has neither; the Dagster definitions call :func:`prepare` when they load, so
that the UI, ``cartwh refresh`` and the tests all see the same graph for the registered centres.

dbt reads its profile (``profiles.yml``: the warehouse path), the project's generated folder
and the plugin's key from the environment, and dagster-dbt starts dbt with this process's
environment: :func:`bridge_to_dbt` is therefore the one place that writes ``os.environ``.
"""

from __future__ import annotations

import os

from cartwh.ingest.registry import CentreRegistry
from cartwh.project import DBT_PROJECT_DIR
from cartwh.settings import Settings
from cartwh.transform import codegen


def dbt_environment(settings: Settings) -> dict[str, str]:
    """What dbt and its plugin read: warehouse, key, generated models, work folders."""
    return {
        "CARTWH_WAREHOUSE": str(settings.warehouse),
        "CARTWH_SECRET": settings.secret,
        "CARTWH_DBT_GENERATED": settings.dbt_generated,
        "DBT_LOG_PATH": str(settings.dbt_work / "logs"),
        "DBT_TARGET_PATH": str(settings.dbt_work / "target"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


def bridge_to_dbt(settings: Settings) -> None:
    """Export :func:`dbt_environment` to this process (and so to the dbt it starts)."""
    os.environ.update(dbt_environment(settings))


def generate_staging(settings: Settings, registry: CentreRegistry) -> None:
    """Write this warehouse's generated staging models for the registered centres."""
    codegen.generate(registry, DBT_PROJECT_DIR / settings.dbt_generated)


def prepare(settings: Settings, registry: CentreRegistry) -> None:
    """Bridge the settings to dbt, generate the staging models and parse the project."""
    from dbt.cli.main import dbtRunner

    bridge_to_dbt(settings)
    generate_staging(settings, registry)
    project_dir = str(DBT_PROJECT_DIR)
    result = dbtRunner().invoke(
        [
            "parse",
            "--quiet",
            "--project-dir",
            project_dir,
            "--profiles-dir",
            project_dir,
            "--vars",
            settings.study.dbt_vars(),
        ]
    )
    if not result.success:
        raise RuntimeError(f"dbt parse failed: {result.exception}")
