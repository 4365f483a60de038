"""Preparing the dbt project for a warehouse: generated staging models, then a manifest.

A clean clone has neither; the Dagster definitions call :func:`prepare` when they load, so
that the UI, ``cartwh refresh`` and the tests all see the same graph for the registered centres.

Each warehouse has its own dbt project folder in its work folder, ``<work>/dbt/project``: links
to the parts of the checkout's ``dbt_project/`` (models, macros, seeds, tests, the two YAML
files) and a real ``generated/`` folder with this warehouse's staging models. Nothing is
written into the checkout. (An absolute model path instead would not do: dbt writes compiled
SQL to ``target/compiled/<project>/<original_file_path>``, and an absolute original path makes
that the source file itself.)

dbt reads its profile (``profiles.yml``: the warehouse path) and the plugin's key from the
environment, and dagster-dbt starts dbt with this process's environment: :func:`bridge_to_dbt`
is therefore the one place that writes ``os.environ``.
"""

from __future__ import annotations

import os
from pathlib import Path

from cartwh.ingest.registry import CentreRegistry
from cartwh.project import DBT_PROJECT_DIR
from cartwh.settings import Settings
from cartwh.transform import codegen


def dbt_environment(settings: Settings) -> dict[str, str]:
    """What dbt and its plugin read: warehouse, key, generated models, work folders."""
    return {
        "CARTWH_WAREHOUSE": str(settings.warehouse),
        "CARTWH_SECRET": settings.secret,
        "CARTWH_DUCKDB_MEMORY": settings.duckdb_memory,
        "DBT_LOG_PATH": str(settings.dbt_work / "logs"),
        "DBT_TARGET_PATH": str(settings.dbt_work / "target"),
        # dbt rotates its log at this size and keeps 5 old ones; info, not debug, in files
        "DBT_LOG_FILE_MAX_BYTES": str(2 * 1024 * 1024),
        "DBT_LOG_LEVEL_FILE": "info",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


def bridge_to_dbt(settings: Settings) -> None:
    """Export :func:`dbt_environment` to this process (and so to the dbt it starts)."""
    os.environ.update(dbt_environment(settings))


#: what a warehouse's project folder does not take from the checkout (dbt's own output)
NOT_LINKED = {"target", "logs", "dbt_packages", "generated", ".user.yml"}


def project_dir(settings: Settings) -> Path:
    """This warehouse's dbt project folder."""
    return settings.dbt_work / "project"


def link_project(settings: Settings) -> Path:
    """Create or update this warehouse's project folder: links to the checkout's parts."""
    project = project_dir(settings)
    project.mkdir(parents=True, exist_ok=True)
    wanted = {p.name: p for p in DBT_PROJECT_DIR.iterdir() if p.name not in NOT_LINKED}
    for link in project.iterdir():
        if link.is_symlink() and (link.name not in wanted or link.readlink() != wanted[link.name]):
            link.unlink()
    for name, source in wanted.items():
        if not (project / name).is_symlink():
            (project / name).symlink_to(source)
    return project


def generate_staging(settings: Settings, registry: CentreRegistry) -> Path:
    """Write this warehouse's generated staging models for the registered centres into its
    project folder; return the folder."""
    project = link_project(settings)
    codegen.generate(registry, project / "generated")
    return project


def prepare(settings: Settings, registry: CentreRegistry) -> None:
    """Bridge the settings to dbt, generate the staging models and parse the project, unless
    the manifest in the target folder was parsed from the same inputs (:func:`parse_inputs`)."""
    bridge_to_dbt(settings)
    project = generate_staging(settings, registry)
    dbt_vars = settings.study.dbt_vars()
    target = settings.dbt_work / "target"
    inputs = parse_inputs(project, dbt_vars, settings)
    manifest, recorded = target / "manifest.json", target / PARSE_INPUTS_FILE
    if recorded.is_file() and recorded.read_text(encoding="utf-8") == _stamp(inputs, manifest):
        return
    from dbt.cli.main import dbtRunner

    args = ["parse", "--quiet", "--project-dir", str(project), "--profiles-dir", str(project)]
    result = dbtRunner().invoke([*args, "--vars", dbt_vars])
    if not result.success:
        raise RuntimeError(f"dbt parse failed: {result.exception}")
    recorded.write_text(_stamp(inputs, manifest), encoding="utf-8")


def _stamp(inputs: str, manifest: Path) -> str:
    """The inputs' digest and the manifest's size and time: any dbt command that rewrites
    the manifest (``cartwh dbt ...``) makes the next load parse again."""
    if not manifest.is_file():
        return ""
    stat = manifest.stat()
    return f"{inputs} {stat.st_size} {stat.st_mtime_ns}"


#: beside the manifest: the digest of what it was parsed from, and its size and time
PARSE_INPUTS_FILE = "cartwh-parse-inputs.sha256"


def parse_inputs(project: Path, dbt_vars: str, settings: Settings) -> str:
    """Digest of what ``dbt parse`` reads: every file of the project folder (its links
    followed), the vars, the environment it is given (the key aside: the manifest does not
    hold it) and dbt's version. The parse at each definitions load (about 2 s) is skipped
    when the manifest was parsed from the same digest."""
    import hashlib
    import json

    from dbt.version import __version__

    environment = {k: v for k, v in dbt_environment(settings).items() if k != "CARTWH_SECRET"}
    digest = hashlib.sha256(json.dumps([__version__, dbt_vars, environment]).encode())
    files = sorted(
        Path(folder, name)
        for folder, _, names in os.walk(project, followlinks=True)
        for name in names
    )
    for path in files:
        digest.update(str(path.relative_to(project)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()
