"""Shared fixtures: hand-made deliveries for the loader, one demo warehouse per session."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

#: the pseudonymisation key of the tests (CARTWH_SECRET needs 32 characters or more)
TEST_SECRET = "test-secret-0123456789abcdef0123456789"
#: a second valid key, for "another key gives other pseudonyms"
OTHER_SECRET = "other-secret-0123456789abcdef012345678"


def write_delivery(
    landing: Path, centre: str, delivery: str, files: dict[str, str | bytes], manifest: bool = False
) -> Path:
    folder = landing / centre / delivery
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        data = content.encode("utf-8") if isinstance(content, str) else content
        (folder / name).write_bytes(data)
    if manifest:
        listing = {n: hashlib.sha256((folder / n).read_bytes()).hexdigest() for n in files}
        (folder / "manifest.json").write_text(
            json.dumps(
                {
                    "centre_code": centre,
                    "delivery_id": delivery,
                    "extract_format": "1",
                    "files": listing,
                }
            )
        )
    return folder


#: every required column of patients (the acceptance gate rejects a header without one)
PATIENTS_CSV = (
    "centre_patient_id,mrn,full_name,date_of_birth,sex,prior_therapy_lines,relapse_count,"
    "disease_status,prior_hsct,bm_blasts_pct_pre,ph_status\n"
    'p1,M001,"Doe, Jane",1990-01-02,f,2,1,relapsed,no,12.5,negative\n'
    "p2,M002,Roe Rick,1985-05-06,m,3,0,refractory,yes,40,positive\n"
)
INFUSIONS_CSV = (
    "centre_patient_id,infusion_number,infusion_date,cell_dose_per_kg\n"
    "p1,1,2020-03-04,1.1e6\n"
    "p2,1,2021-07-08,2.0e6\n"
)


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    path = tmp_path / "landing"
    path.mkdir()
    return path


@pytest.fixture
def conn(tmp_path: Path):
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    yield connection
    connection.close()


def inherited_environment() -> dict[str, str]:
    """This process's environment without its ``CARTWH_*``/``DBT_*`` variables: what a CLI
    process of a test starts from, whatever the session demo has set."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("CARTWH_", "DBT_"))}


def run_cartwh(
    args: list[str], env: dict[str, str], timeout: float = 300
) -> subprocess.CompletedProcess:
    """`cartwh ARGS` in a process of its own, with ``env`` over :func:`inherited_environment`
    (the session demo sets its variables for the whole session: a test would otherwise see them
    or not depending on which tests its worker ran before)."""
    return subprocess.run(
        [sys.executable, "-m", "cartwh.cli", *args],
        env={**inherited_environment(), **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def table_digest(conn, sql: str) -> str:
    """Order-independent digest of a query result (for "nothing changed" assertions)."""
    rows = sorted(repr(r) for r in conn.execute(sql).fetchall())
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()


class Demo:
    """The default demo consortium, generated and refreshed once per test session."""

    def __init__(self, root: Path):
        self.root = root
        self.landing = root / "landing"
        self.truth = root / "truth"
        self.warehouse = root / "warehouse.duckdb"
        self.output = root / "output"
        #: what `cartwh refresh` printed when the fixture built the warehouse
        self.refresh_stdout = self.refresh_stderr = ""

    def env(self) -> dict[str, str]:
        return {
            "CARTWH_LANDING": str(self.landing),
            "CARTWH_WAREHOUSE": str(self.warehouse),
            "CARTWH_OUTPUT": str(self.output),
            "CARTWH_DATA": str(self.root),
            "CARTWH_SECRET": TEST_SECRET,
            "CARTWH_CUTOFF": "2023-03-01",
        }

    def copy(self, root: Path) -> Demo:
        """A warehouse of its own under ``root`` with this one's deliveries, warehouse, work
        folder (run history included) and outputs, for tests that change them: the session
        demo is only read."""
        copy = Demo(root)
        for name in ("landing", "truth", "warehouse.duckdb", "warehouse_work", "output"):
            source = self.root / name
            if source.is_dir():
                shutil.copytree(source, root / name, symlinks=True)
            elif source.exists():
                shutil.copy2(source, root / name)
        return copy

    @contextlib.contextmanager
    def as_environment(self):
        """This warehouse's variables and the dbt bridge's in ``os.environ``, restored after."""
        from cartwh.transform.prepare import dbt_environment

        with pytest.MonkeyPatch.context() as patch:
            for key, value in {**self.env(), **dbt_environment(self.settings())}.items():
                patch.setenv(key, value)
            yield self

    def settings(self):
        from cartwh.settings import read_settings

        return read_settings(self.env())

    def connect(self):
        return duckdb.connect(str(self.warehouse), read_only=True)

    def query(self, sql: str, params=None) -> list[tuple]:
        with self.connect() as conn:
            return conn.execute(sql, params or []).fetchall()


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """Built through the CLI, as a user would; the environment is restored afterwards
    (the variables of the demo and those the dbt bridge exports)."""
    from cartwh.cli import main
    from cartwh.transform.prepare import dbt_environment

    built = Demo(tmp_path_factory.mktemp("demo"))
    with pytest.MonkeyPatch.context() as patch:
        for key, value in {**built.env(), **dbt_environment(built.settings())}.items():
            patch.setenv(key, value)
        assert main(["generate", "--out", str(built.landing), "--truth", str(built.truth)]) == 0
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["refresh"])
        built.refresh_stdout, built.refresh_stderr = out.getvalue(), err.getvalue()
        assert code == 0, built.refresh_stdout + built.refresh_stderr
        yield built
