"""The dbt project as Dagster sees it (kept in its own module, as dagster-dbt advises)."""

from dagster_dbt import DbtProject

from cartwh.settings import Settings
from cartwh.transform.prepare import project_dir


def build_dbt_project(settings: Settings) -> DbtProject:
    """The project with this warehouse's target folder (manifest of its centres)."""
    return DbtProject(
        project_dir=project_dir(settings),
        profiles_dir=project_dir(settings),
        target_path=settings.dbt_work / "target",
    )
