"""The centre registry and the settings: configuration decides, not the landing folder."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from cartwh.ingest.registry import RegistryError, load_registry
from cartwh.project import DEFAULT_MAPPINGS_DIR
from cartwh.settings import SettingsError, read_settings
from tests.conftest import TEST_SECRET, run_cartwh


def _mappings(tmp_path: Path, canonical: str | None, mapped: tuple[str, ...] = ()) -> Path:
    folder = tmp_path / "mappings"
    folder.mkdir()
    if canonical is not None:
        (folder / "canonical-centres.yml").write_text(canonical, encoding="utf-8")
    for centre in mapped:
        (folder / f"{centre}.yml").write_text(
            (DEFAULT_MAPPINGS_DIR / "tj.yml").read_text().replace("tj", centre)
        )
    return folder


def test_the_demo_registry_lists_the_four_centres():
    registry = load_registry(DEFAULT_MAPPINGS_DIR)
    assert registry.centres == ("tj", "xz", "zj", "zz")
    assert registry.canonical == ("xz",)
    assert registry.mapping("xz").canonical and not registry.mapping("tj").canonical
    with pytest.raises(KeyError):
        registry.mapping("fx")


def test_unregistered_landing_folders_are_reported_with_the_fix(tmp_path):
    registry = load_registry(DEFAULT_MAPPINGS_DIR)
    landing = tmp_path / "landing"
    for name in ("xz", "XZ", "fx", ".hidden"):
        (landing / name).mkdir(parents=True)
    (landing / "notes.txt").write_text("x")
    skipped = {f.label: f.reason for f in registry.unregistered_folders(landing)}
    assert sorted(skipped) == ["XZ", "fx", "notes.txt"]
    assert skipped["XZ"] == "centre codes are lower-case: rename XZ to xz; not loaded"
    assert skipped["fx"].startswith("unknown centre fx: add it to the registry (")
    assert skipped["notes.txt"].startswith("a file, not a centre folder")


@pytest.mark.parametrize(
    "content, message",
    [
        ("centres: xz\n", r"write `centres: \[code, \.\.\.\]`"),
        ("centres: [XZ]\n", "is not a centre code"),
        ("centres: [ab, ab]\n", "listed twice"),
        ("centres: [tj]\n", "also have a mapping file"),
        ("centres: [\n", "not valid YAML"),
    ],
)
def test_a_broken_registry_is_refused_with_the_file_named(tmp_path, content, message):
    folder = _mappings(tmp_path, content, mapped=("tj",))
    with pytest.raises(RegistryError, match=message):
        load_registry(folder)


def test_mapping_files_alone_register_their_centres(tmp_path):
    registry = load_registry(_mappings(tmp_path, None, mapped=("ab", "cd")))
    assert registry.centres == ("ab", "cd") and registry.canonical == ()


@pytest.mark.parametrize(
    "content, problem",
    [
        (
            'centre_code: !!python/object/apply:os.system ["echo pwned"]\n',
            "not valid YAML (line 1, column 14: could not determine a constructor for the tag",
        ),
        (
            "".join(
                f"{k}: &{k} [{', '.join([f'*{p}'] * 9)}]\n" for p, k in zip("abcdefgh", "bcdefghi")
            ).replace("b: &b [*a", "a: &a [lol]\nb: &b [*a")
            + "centre_code: cd\nentities:\n  patients:\n    columns: *i\n",
            "line 1, column 4: an anchor (&a): anchors and aliases are not allowed",
        ),
        ("centre_code: cd\n" + "#" * (1 << 20), "larger than 1048576 bytes"),
        (
            (DEFAULT_MAPPINGS_DIR / "zz.yml").read_text().replace("zz", "cd").replace("%Y", "%Q"),
            "date_format '%d.%m.%Q' is not a valid strptime pattern (Unrecognized format",
        ),
    ],
    ids=["python-tag", "yaml-bomb", "huge", "bad-date-pattern"],
)
def test_an_invalid_mapping_file_leaves_out_its_centre_only(tmp_path, content, problem, caplog):
    """One line for the file (no PyYAML multi-line text), and codegen builds the others."""
    from cartwh.ingest.mapping import MappingError
    from cartwh.transform import codegen

    folder = _mappings(tmp_path, "centres: [ab]\n", mapped=("cd", "ef"))
    (folder / "cd.yml").write_text(content, encoding="utf-8")
    registry = load_registry(folder)
    with pytest.raises(MappingError) as raised:
        registry.mapping("cd")
    assert "\n" not in str(raised.value) and problem in str(raised.value)
    generated = codegen.generate(registry, tmp_path / "generated")
    assert sorted(generated) == ["ab", "ef"]
    staged = sorted(p.name for p in (tmp_path / "generated" / codegen.GENERATED_MODELS).iterdir())
    assert staged == ["_raw__sources.yml", "ab", "ef"]
    assert any("centre cd is left out of staging" in r.getMessage() for r in caplog.records)


def test_settings_come_from_the_environment_given(tmp_path):
    settings = read_settings({"CARTWH_DATA": str(tmp_path), "CARTWH_CUTOFF": "2022-01-31"})
    assert settings.landing == (tmp_path / "landing").resolve()
    assert settings.study.cutoff.isoformat() == "2022-01-31"
    assert settings.study.toxicity_window_days == 30
    assert settings.study.dbt_vars() == '{"cutoff": "2022-01-31"}'
    assert dataclasses.replace(settings, cutoff=settings.study.cutoff) == settings
    default = read_settings({"CARTWH_DATA": str(tmp_path)})
    assert default.cutoff.isoformat() == "2023-03-01"  # the `cutoff` var of dbt_project.yml
    assert default.work == (tmp_path / "warehouse_work").resolve()
    assert (default.max_patient_drop, default.keep_runs) == (0.10, 5)
    with pytest.raises(SettingsError, match="CARTWH_CUTOFF='1 March' is not a date"):
        read_settings({"CARTWH_CUTOFF": "1 March"})


@pytest.mark.parametrize(
    "env, message",
    [
        ({"CARTWH_CUTOFF": "2023-13-01"}, "cartwh: CARTWH_CUTOFF='2023-13-01' is not a date"),
        ({"CARTWH_MAPPINGS": "/nonexistent/m"}, "cartwh: mappings folder /nonexistent/m does"),
        ({"CARTWH_LANDING": "/nonexistent/l"}, "cartwh: landing folder /nonexistent/l does not"),
        (
            {"CARTWH_MAX_PATIENT_DROP": "10%"},
            "cartwh: CARTWH_MAX_PATIENT_DROP='10%' is not a share",
        ),
        ({"CARTWH_KEEP_RUNS": "0"}, "cartwh: CARTWH_KEEP_RUNS='0' is not a count"),
        (
            {"CARTWH_DUCKDB_MEMORY": "lots"},
            "cartwh: CARTWH_DUCKDB_MEMORY='lots' is not a memory size",
        ),
    ],
)
def test_bad_configuration_is_one_line_and_exit_2(tmp_path, env, message):
    """Refused before Dagster or dbt start: one line naming the variable, exit 2, quickly."""
    (tmp_path / "landing").mkdir()
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "cartwh.cli", "refresh"],
        env={
            "PATH": "/usr/bin:/bin",
            "CARTWH_DATA": str(tmp_path),
            "CARTWH_SECRET": TEST_SECRET,
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 2, result.stderr
    assert elapsed < 15, f"took {elapsed:.1f} s"  # about 1 s; 5 s seen on a loaded machine
    assert result.stderr.startswith(message) and len(result.stderr.strip().splitlines()) == 1


def test_the_duckdb_memory_limit_reaches_python_connections_and_dbt(demo):
    from cartwh.settings import DEFAULT_DUCKDB_MEMORY

    assert read_settings({}).duckdb_memory == DEFAULT_DUCKDB_MEMORY
    assert read_settings({"CARTWH_DUCKDB_MEMORY": "25%"}).duckdb_memory == "25%"
    # dbt's profile falls back to the same default when run without cartwh's environment
    profile = (Path(__file__).parents[1] / "dbt_project" / "profiles.yml").read_text()
    assert f"env_var('CARTWH_DUCKDB_MEMORY', '{DEFAULT_DUCKDB_MEMORY}')" in profile
    limit = "select current_setting('memory_limit')"
    with duckdb.connect(config={"memory_limit": "300MB"}) as conn:
        expected = conn.sql(limit).fetchall()[0][0]
    result = run_cartwh(
        ["sql", "--warehouse", limit, "--format", "csv"],
        {**demo.env(), "CARTWH_DUCKDB_MEMORY": "300MB"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1] == expected != DEFAULT_DUCKDB_MEMORY


def test_the_readme_lists_every_variable_the_code_reads():
    import re

    from cartwh.project import PROJECT_ROOT
    from cartwh.settings import VARIABLES

    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `([A-Z_]+)` \|", readme, flags=re.M))
    assert listed == set(VARIABLES)
    sources = [
        *PROJECT_ROOT.joinpath("cartwh").rglob("*.py"),
        *PROJECT_ROOT.joinpath("orchestration").rglob("*.py"),
        *PROJECT_ROOT.joinpath("dbt_project").glob("*.yml"),
    ]
    read = set()
    for path in sources:
        text = path.read_text(encoding="utf-8")
        read |= set(
            re.findall(r"""(?:env_var\(|\.get\(|environ\[)['"]((?:CARTWH|DAGSTER)_[A-Z_]+)""", text)
        )
        read |= set(re.findall(r'path\("((?:CARTWH|DAGSTER)_[A-Z_]+)"', text))
    assert read and read <= set(VARIABLES), sorted(read - set(VARIABLES))


def test_the_readme_layout_matches_the_tree():
    from cartwh.project import PROJECT_ROOT

    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    layout = readme[readme.index("## Layout") :]
    tracked = subprocess.run(
        ["git", "-C", str(PROJECT_ROOT), "ls-files"], capture_output=True, text=True, check=True
    ).stdout.split()
    folders = {path.split("/")[0] for path in tracked if "/" in path and path[0] != "."}
    assert folders, "not a git checkout"
    missing = sorted(f for f in folders if f"{f}/" not in layout)
    cartwh = PROJECT_ROOT / "cartwh"
    parts = [p.name for p in cartwh.iterdir() if p.is_dir() and (p / "__init__.py").exists()]
    parts = [f"{name}/" for name in parts] + [
        p.name for p in cartwh.glob("*.py") if p.name != "__init__.py"
    ]
    missing += sorted(f"cartwh/{name}" for name in parts if f"  {name}" not in layout)
    assert not missing, f"README's layout does not mention {missing}"


def test_generate_refuses_a_folder_with_other_content(tmp_path):
    target = tmp_path / "landing"
    (target / "xz" / "2023-03-01").mkdir(parents=True)
    (target / "xz" / "2023-03-01" / "patients.csv").write_text("real data")
    result = subprocess.run(
        [sys.executable, "-m", "cartwh.cli", "generate", "--out", str(target)],
        env={"PATH": "/usr/bin:/bin", "CARTWH_DATA": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"cartwh: {target} is not empty and was not written by it")
    assert (target / "xz" / "2023-03-01" / "patients.csv").read_text() == "real data"


def test_generate_again_with_force_replaces_its_own_output(tmp_path):
    def generate(*flags):
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "cartwh.cli",
                "generate",
                "--patients",
                "8",
                "--centres",
                "2",
                "--out",
                str(tmp_path / "landing"),
                *flags,
            ],
            env={"PATH": "/usr/bin:/bin", "CARTWH_DATA": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=300,
        )

    assert generate().returncode == 0
    again = generate()
    assert again.returncode == 2 and "is not empty:" in again.stderr
    assert "not written by it" not in again.stderr
    assert generate("--force").returncode == 0
    assert (tmp_path / "landing" / ".cartwh-generated").exists()
