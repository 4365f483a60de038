"""Settings from ``CARTWH_*`` environment variables, read once per process.

Every entry point (the CLI, the Dagster code location, the dbt plugin) calls
:func:`read_settings` once and passes the :class:`Settings` on as an argument.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from cartwh.parameters import StudyParameters, study_parameters
from cartwh.project import DEFAULT_MAPPINGS_DIR

#: the published key of the demo consortium: used only in demo mode (``CARTWH_DEMO=1``)
DEMO_SECRET = "cartwh-demo-secret-change-me"
#: shortest pseudonymisation key accepted outside demo mode
MIN_SECRET_LENGTH = 32
#: what a user is told to do when the key is missing or unusable
SECRET_HOW = (
    "export CARTWH_SECRET=\"$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')\" "
    "and keep it out of the repository (for the demo consortium only: CARTWH_DEMO=1)"
)
#: share of a centre's patients a new delivery may drop before the acceptance gate holds it
DEFAULT_MAX_PATIENT_DROP = 0.10
DEFAULT_KEEP_RUNS = 5
DEFAULT_DAILY_REFRESH = "0 2 * * *"
#: DuckDB's memory_limit in each process that opens the warehouse (a refresh, dbt, a reader)
DEFAULT_DUCKDB_MEMORY = "2GB"

#: every environment variable the code reads -> (default, meaning); the README's table
VARIABLES: dict[str, tuple[str, str]] = {
    "CARTWH_DATA": ("data", "folder of the defaults below"),
    "CARTWH_LANDING": ("$CARTWH_DATA/landing", "landing folder"),
    "CARTWH_WAREHOUSE": ("$CARTWH_DATA/warehouse.duckdb", "DuckDB warehouse file"),
    "CARTWH_OUTPUT": ("$CARTWH_DATA/output", "reports, figures, exported tables"),
    "CARTWH_ANALYST": (
        "$CARTWH_DATA/analyst",
        "the PHI-free analyst package: analyst.duckdb, parquet/, codebook (`cartwh publish`)",
    ),
    "CARTWH_CUTOFF": ("`cutoff` of dbt_project.yml (2023-03-01)", "data cut-off date"),
    "CARTWH_SECRET": (
        "none: required (the demo key only with `CARTWH_DEMO=1`)",
        f"pseudonymisation key (HMAC-SHA256), at least {MIN_SECRET_LENGTH} characters",
    ),
    "CARTWH_NEW_SECRET": (
        "unset",
        "the new key for `cartwh rekey` (read by that command only)",
    ),
    "CARTWH_DEMO": (
        "unset",
        "`1`: demo mode, the published demo key when `CARTWH_SECRET` is unset (`make demo`)",
    ),
    "CARTWH_MAPPINGS": ("mappings/", "centre registry and mapping files"),
    "CARTWH_WORK": (
        "<warehouse>_work/ beside the warehouse",
        "work folder: dbt target and logs, generated staging, private temporary files",
    ),
    "CARTWH_MAX_PATIENT_DROP": (
        f"{DEFAULT_MAX_PATIENT_DROP:.2f}",
        "share of a centre's patients a new delivery may drop before it is held",
    ),
    "CARTWH_DAILY_REFRESH": (
        f"`{DEFAULT_DAILY_REFRESH}`",
        "cron schedule (UTC) of the daily whole refresh, while the Dagster daemon runs",
    ),
    "CARTWH_KEEP_RUNS": (
        str(DEFAULT_KEEP_RUNS),
        "dbt artefacts and Dagster runs of the last N refreshes kept",
    ),
    "CARTWH_DUCKDB_MEMORY": (
        DEFAULT_DUCKDB_MEMORY,
        "DuckDB's memory limit in each process using the warehouse (the refresh, dbt, readers); "
        "beyond it DuckDB spills to disk: a size (`512MB`, `8GB`) or a share of RAM (`25%`)",
    ),
    "CARTWH_CRASH_AT": (
        "unset",
        "tests only: a crash point of `cartwh/faults.py` where the process kills itself",
    ),
    "CARTWH_DAGSTER_HOME": (
        "$CARTWH_WORK/dagster",
        "Dagster run history of this warehouse (refresh, sensor, ui); DAGSTER_HOME is not used, "
        "so the histories of two warehouses never mix",
    ),
}


class SettingsError(ValueError):
    """A setting that cannot be used; the message names the variable and the fix."""


@dataclass(frozen=True)
class Settings:
    landing: Path
    warehouse: Path
    output: Path
    cutoff: date
    #: ``CARTWH_SECRET`` as set (None: unset); read it through :attr:`secret`
    key: str | None
    mappings: Path
    dagster_home: Path
    work: Path
    #: the analyst package's folder (:mod:`cartwh.analyst`)
    analyst: Path
    max_patient_drop: float = DEFAULT_MAX_PATIENT_DROP
    keep_runs: int = DEFAULT_KEEP_RUNS
    daily_refresh: str = DEFAULT_DAILY_REFRESH
    #: demo mode (``CARTWH_DEMO=1``): the published demo key stands in for a missing key
    demo: bool = False
    #: DuckDB's ``memory_limit`` (``CARTWH_DUCKDB_MEMORY``)
    duckdb_memory: str = DEFAULT_DUCKDB_MEMORY

    @property
    def secret(self) -> str:
        """The pseudonymisation key, checked.

        Returns
        -------
        str
            ``CARTWH_SECRET``; in demo mode without it, :data:`DEMO_SECRET`.

        Raises
        ------
        SettingsError
            Outside demo mode when the key is unset, shorter than :data:`MIN_SECRET_LENGTH`
            or the published demo key; the message names the variable and how to set it.
        """
        return check_secret(self.key, self.demo)

    @property
    def uses_demo_key(self) -> bool:
        """True when pseudonyms are made with the published demo key (demo mode only)."""
        return self.demo and (self.key is None or self.key == DEMO_SECRET)

    @property
    def dbt_work(self) -> Path:
        """dbt's target and log folders."""
        return self.work / "dbt"

    @property
    def private_tmp(self) -> Path:
        """Temporary copies of delivered data (mode 0700), never a shared temporary folder."""
        return self.work / "tmp"

    @property
    def study(self) -> StudyParameters:
        """The study's parameters with this run's cut-off."""
        return study_parameters().with_cutoff(self.cutoff)


def read_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from ``environ`` (default: this process's environment)."""
    env = os.environ if environ is None else environ

    def path(name: str, default: Path) -> Path:
        value = env.get(name)
        return Path(value).expanduser().resolve() if value else default.resolve()

    data = Path(env.get("CARTWH_DATA") or "data")
    cutoff_text = env.get("CARTWH_CUTOFF")
    try:
        cutoff = date.fromisoformat(cutoff_text) if cutoff_text else study_parameters().cutoff
    except ValueError:
        raise SettingsError(
            f"CARTWH_CUTOFF={cutoff_text!r} is not a date: write it as YYYY-MM-DD"
        ) from None
    warehouse = path("CARTWH_WAREHOUSE", data / "warehouse.duckdb")
    work = path("CARTWH_WORK", warehouse.with_name(warehouse.stem + "_work"))
    return Settings(
        landing=path("CARTWH_LANDING", data / "landing"),
        warehouse=warehouse,
        output=path("CARTWH_OUTPUT", data / "output"),
        cutoff=cutoff,
        key=env.get("CARTWH_SECRET") or None,
        mappings=path("CARTWH_MAPPINGS", DEFAULT_MAPPINGS_DIR),
        dagster_home=path("CARTWH_DAGSTER_HOME", work / "dagster"),
        work=work,
        analyst=path("CARTWH_ANALYST", data / "analyst"),
        max_patient_drop=_share(env, "CARTWH_MAX_PATIENT_DROP", DEFAULT_MAX_PATIENT_DROP),
        keep_runs=_count(env, "CARTWH_KEEP_RUNS", DEFAULT_KEEP_RUNS),
        daily_refresh=_cron(env, "CARTWH_DAILY_REFRESH", DEFAULT_DAILY_REFRESH),
        demo=_switch(env, "CARTWH_DEMO"),
        duckdb_memory=_memory(env, "CARTWH_DUCKDB_MEMORY", DEFAULT_DUCKDB_MEMORY),
    )


def check_secret(key: str | None, demo: bool, name: str = "CARTWH_SECRET") -> str:
    """The key to pseudonymise with, or a :class:`SettingsError` saying how to set it.

    Parameters
    ----------
    key : str or None
        The key as set in the environment variable ``name`` (None: unset).
    demo : bool
        Demo mode: a missing key is the published :data:`DEMO_SECRET`, and short keys pass.
    name : str
        The variable the key comes from, named in the message.

    Returns
    -------
    str
        The key.
    """
    if key is None or not key:
        if demo:
            return DEMO_SECRET
        raise SettingsError(f"{name} is not set: it is required outside demo mode; {SECRET_HOW}")
    if demo:
        return key
    if key == DEMO_SECRET:
        raise SettingsError(
            f"{name} is the published demo key, which real data must never use: {SECRET_HOW}"
        )
    if len(key) < MIN_SECRET_LENGTH:
        raise SettingsError(
            f"{name} has {len(key)} characters, fewer than the {MIN_SECRET_LENGTH} required: "
            f"{SECRET_HOW}"
        )
    return key


def _switch(env: Mapping[str, str], name: str) -> bool:
    text = (env.get(name) or "").strip().lower()
    if text in ("", "0", "false", "no"):
        return False
    if text in ("1", "true", "yes"):
        return True
    raise SettingsError(f"{name}={text!r} is not a switch: write 1 (on) or leave it unset")


def _share(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise SettingsError(f"{name}={text!r} is not a share: write a number from 0 to 1 (0.10)")
    return value


def _count(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name)
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise SettingsError(f"{name}={text!r} is not a count: write a whole number of 1 or more")
    return int(text)


def _memory(env: Mapping[str, str], name: str, default: str) -> str:
    text = (env.get(name) or default).strip()
    if not re.fullmatch(r"(\d+(\.\d+)?\s*([KMGT]i?B)|\d+(\.\d+)?%)", text, re.IGNORECASE):
        raise SettingsError(
            f"{name}={text!r} is not a memory size: write a size such as 2GB or 512MB, or a "
            "share of RAM such as 25%"
        )
    return text


def _cron(env: Mapping[str, str], name: str, default: str) -> str:
    text = (env.get(name) or default).strip()
    fields = text.split()
    if len(fields) != 5 or not all(re.fullmatch(r"[0-9*/,\-]+", f) for f in fields):
        raise SettingsError(
            f"{name}={text!r} is not a cron schedule: write five fields, e.g. '0 2 * * *' "
            "(02:00 UTC every day)"
        )
    return text
