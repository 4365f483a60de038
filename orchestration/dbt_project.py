"""The dbt project as Dagster sees it (kept in its own module, as dagster-dbt advises)."""

from dagster_dbt import DbtProject

from cartwh.project import DBT_PROJECT_DIR
from cartwh.settings import Settings


def build_dbt_project(settings: Settings) -> DbtProject:
    """The project with this warehouse's target folder (manifest of its centres)."""
    return DbtProject(
        project_dir=DBT_PROJECT_DIR,
        profiles_dir=DBT_PROJECT_DIR,
        target_path=settings.dbt_work / "target",
    )
