"""Hostile input and exhausted resources: a symbolic link out of the landing area, a mapping
file that is a YAML bomb or carries a Python tag, a missing landing folder, thousands of stray
files, a full disk. Each ends in one clear line (or a bounded summary), no traceback, nothing
read outside the configured folders, and the centre's good deliveries still used."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from cartwh.exitcodes import ExitCode
from cartwh.ingest.discovery import MAX_LISTED, discover_deliveries
from cartwh.ingest.load import load_centre
from cartwh.ingest.mapping import canonical_mapping
from cartwh.ingest.registry import load_registry
from tests.conftest import TEST_SECRET, inherited_environment
from tests.test_bad_deliveries import GOOD

MARKER = "HOSTILE-MARKER-OUTSIDE-THE-LANDING-AREA-51d2"
LINK_REASON = "symbolic link, not followed: copy the files into the folder"
BOMB = "".join(
    f"{k}: &{k} [{', '.join([f'*{p}'] * 9)}]\n" for p, k in zip("abcdefgh", "bcdefghi")
).replace("b: &b [*a", "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\nb: &b [*a")


def _delivery(folder: Path, files: dict[str, str] = GOOD) -> Path:
    folder.mkdir(parents=True)
    for name, content in files.items():
        (folder / name).write_text(content, encoding="utf-8")
    return folder


def _raw_text(conn: duckdb.DuckDBPyConnection) -> str:
    tables = conn.execute(
        "select table_name from information_schema.tables where table_schema = 'raw'"
    ).fetchall()
    return "".join(str(conn.execute(f'select * from raw."{t}"').fetchall()) for (t,) in tables)


def _cli(*args: str, env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cartwh.cli", *args],
        env={**inherited_environment(), "CARTWH_SECRET": TEST_SECRET, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_links_out_of_the_landing_area_are_skipped_and_the_centre_keeps_its_deliveries(
    tmp_path,
):
    """A delivery folder linked to /etc, a delivery folder linked to a copy of a good delivery
    outside, and a file linked to a marker file outside: each one ledger line, the centre's
    real delivery loaded, nothing of the targets read."""
    landing = tmp_path / "landing"
    _delivery(landing / "bx" / "2023-03-01")
    (landing / "bx" / "2023-06-01").symlink_to("/etc", target_is_directory=True)
    outside = _delivery(tmp_path / "outside" / "copy")
    (outside / "patients.csv").write_text(
        GOOD["patients.csv"].replace("p1,", f"{MARKER},"), encoding="utf-8"
    )
    (landing / "bx" / "2023-07-01").symlink_to(outside, target_is_directory=True)
    linked = _delivery(landing / "bx" / "2023-08-01", {"infusions.csv": GOOD["infusions.csv"]})
    (tmp_path / "secret.csv").write_text(f"centre_patient_id\n{MARKER}\n", encoding="utf-8")
    (linked / "patients.csv").symlink_to(tmp_path / "secret.csv")

    conn = duckdb.connect()
    lines: list[str] = []
    loaded = load_centre(
        conn, landing, canonical_mapping("bx"), lines.append, private_tmp=tmp_path / "tmp"
    )

    assert loaded.current_delivery == "2023-03-01"
    assert f"skipped bx/2023-06-01: {LINK_REASON}" in lines
    assert f"skipped bx/2023-07-01: {LINK_REASON}" in lines
    rows = conn.execute(
        "select delivery_id, source_file, status, message from raw.deliveries "
        "where delivery_id = '2023-08-01' and status in ('skipped', 'rejected') order by 2"
    ).fetchall()
    assert ("2023-08-01", "patients.csv", "skipped", LINK_REASON) in rows
    assert any(status == "rejected" and "patients" in message for _, _, status, message in rows)
    assert all("\n" not in line for line in lines)
    text = _raw_text(conn)
    assert MARKER not in text and "root:" not in text and "secret.csv" not in text
    assert conn.execute("select count(*) from raw.bx__patients").fetchone() == (2,)


def test_thousands_of_stray_files_are_one_bounded_line(tmp_path):
    landing = tmp_path / "landing"
    _delivery(landing / "bx" / "2023-03-01")
    for number in range(3000):
        (landing / "bx" / f"stray_{number:04d}.csv").touch()
        (landing / f"junk_{number:04d}.txt").touch()
    (landing / "bx" / "notes.txt").touch()
    started = time.monotonic()
    deliveries, skipped = discover_deliveries(landing, ["bx"])
    [unregistered] = load_registry_for(tmp_path, "bx").unregistered_folders(landing)
    assert time.monotonic() - started < 10
    assert [d.label for d in deliveries] == ["bx/2023-03-01"]
    [stray] = skipped
    assert stray.label == "bx/(3,001 entries)"
    assert stray.reason.startswith(
        f"3,001 unexpected entries in bx/ (first {MAX_LISTED}: notes.txt, stray_0000.csv, "
    )
    assert stray.reason.endswith("a file, not a delivery folder; put it inside a delivery folder")
    assert "\n" not in stray.reason
    assert unregistered.label == "(3,000 entries)"
    assert unregistered.reason.startswith("3,000 unexpected entries in the landing area (first")
    assert "a file, not a centre folder" in unregistered.reason

    conn = duckdb.connect()
    lines: list[str] = []
    loaded = load_centre(
        conn, landing, canonical_mapping("bx"), lines.append, private_tmp=tmp_path / "tmp"
    )
    assert loaded.current_delivery == "2023-03-01"
    assert len(lines) == 2, lines  # the summary and the delivery
    assert conn.execute(
        "select count(*) from raw.deliveries where status = 'skipped'"
    ).fetchone() == (1,)


def test_thousands_of_files_in_one_delivery_are_recorded_not_printed(tmp_path):
    landing = tmp_path / "landing"
    folder = _delivery(landing / "bx" / "2023-03-01")
    for number in range(3000):
        (folder / f"junk_{number:04d}.csv").write_text("a\n1\n")
    conn = duckdb.connect()
    lines: list[str] = []
    started = time.monotonic()
    loaded = load_centre(
        conn, landing, canonical_mapping("bx"), lines.append, private_tmp=tmp_path / "tmp"
    )
    assert time.monotonic() - started < 60
    assert loaded.current_delivery == "2023-03-01"
    assert lines == ["bx/2023-03-01: loaded (4 rows)"]
    assert conn.execute(
        "select count(*) from raw.deliveries where status = 'ignored'"
    ).fetchone() == (3000,)


def test_a_few_stray_files_are_still_named_one_by_one(tmp_path):
    landing = tmp_path / "landing"
    _delivery(landing / "bx" / "2023-03-01")
    for number in range(MAX_LISTED):
        (landing / "bx" / f"stray_{number}.csv").touch()
    _, skipped = discover_deliveries(landing, ["bx"])
    assert [s.label for s in skipped] == [f"bx/stray_{n}.csv" for n in range(MAX_LISTED)]


def load_registry_for(tmp_path: Path, *centres: str):
    mappings = tmp_path / "mappings"
    mappings.mkdir(exist_ok=True)
    (mappings / "canonical-centres.yml").write_text(f"centres: [{', '.join(centres)}]\n")
    return load_registry(mappings)


@pytest.mark.parametrize(
    "content, problem",
    [
        (
            'centre_code: !!python/object/apply:os.system ["touch {pwned}"]\nentities: {{}}\n',
            "could not determine a constructor for the tag "
            "'tag:yaml.org,2002:python/object/apply:os.system'",
        ),
        (
            BOMB + "centre_code: bx\nentities:\n  patients:\n    null_values: *i\n",
            "line 1, column 4: an anchor (&a): anchors and aliases are not allowed",
        ),
    ],
    ids=["python-tag", "yaml-bomb"],
)
def test_a_hostile_mapping_file_is_one_line_naming_file_and_reason(tmp_path, content, problem):
    """`cartwh mapping check` and `cartwh refresh` alike: one line on stderr, no traceback,
    the configuration exit status, quickly (the bomb used to take minutes and gigabytes)."""
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    pwned = tmp_path / "pwned"
    (mappings / "bx.yml").write_text(content.format(pwned=pwned), encoding="utf-8")
    delivery = _delivery(tmp_path / "landing" / "bx" / "2023-03-01")
    env = {"CARTWH_DATA": str(tmp_path), "CARTWH_MAPPINGS": str(mappings)}

    started = time.monotonic()
    checked = _cli(
        "mapping", "check", str(mappings / "bx.yml"), "--delivery", str(delivery), env=env
    )
    assert time.monotonic() - started < 30
    assert checked.returncode == ExitCode.USAGE, checked.stderr
    assert "Traceback" not in checked.stderr + checked.stdout
    [line] = checked.stderr.strip().splitlines()
    assert line.startswith(f"mapping file {mappings / 'bx.yml'}: not valid YAML (")
    assert problem in line
    assert not pwned.exists()


def test_a_missing_landing_folder_is_one_line(tmp_path):
    result = _cli("refresh", env={"CARTWH_DATA": str(tmp_path)})
    assert result.returncode == ExitCode.USAGE
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"cartwh: landing folder {(tmp_path / 'landing').resolve()} does not exist: create it, "
        "or point CARTWH_LANDING at the folder the centres deliver to"
    ]


#: a file size limit below Dagster's run index of the demo copy (10 MB after one refresh): the
#: run fails as it starts writing its events (SQLite "disk I/O error"). Measured: under a limit
#: below the warehouse (44 MB) but above the index, DuckDB reuses free blocks and its WAL and
#: the refresh succeeds, so this is the write that fails first on a filling disk.
#: ENOSPC and EFBIG take the same path.
FILE_SIZE_LIMIT = 8_000_000


def _limited():
    """In the child: writes past FILE_SIZE_LIMIT fail with EFBIG (instead of SIGXFSZ)."""
    import resource
    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))


def _published(root: Path) -> dict:
    tables = sorted((root / "output" / "tables").glob("*.csv"))
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as conn:
        analysis = _raw_text_of(conn, "analysis")
    return {
        "tables": {p.name: p.read_bytes() for p in tables},
        "analysis": analysis,
        "figures": sorted(p.name for p in (root / "output" / "figures").iterdir()),
    }


def _raw_text_of(conn: duckdb.DuckDBPyConnection, schema: str) -> str:
    tables = conn.execute(
        "select table_name from information_schema.tables where table_schema = ? order by 1",
        [schema],
    ).fetchall()
    return "".join(
        str(sorted(map(repr, conn.execute(f'select * from {schema}."{t}"').fetchall())))
        for (t,) in tables
    )


def test_a_full_disk_stops_the_refresh_with_one_line_and_the_next_one_recovers(demo, tmp_path):
    """On a copy of the demo: a refresh under RLIMIT_FSIZE fails with one line naming what it
    was writing, exit 1, a bounded log, the published results untouched; without the limit
    the next refresh publishes again."""
    copy = demo.copy(tmp_path / "copy")
    root, env = copy.root, {**inherited_environment(), **copy.env()}
    before = _published(root)
    command = [sys.executable, "-m", "cartwh.cli", "refresh", "--full"]
    command += ["--accept-data-warnings"]

    full = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=900, preexec_fn=_limited
    )

    assert full.returncode == ExitCode.FAILED, full.stdout[-2000:] + full.stderr[-2000:]
    output = full.stdout + full.stderr
    assert "Traceback" not in output
    assert len(output.splitlines()) < 40, output[-3000:]
    disk = [line for line in full.stderr.splitlines() if "disk full" in line]
    assert len(disk) == 1, full.stderr
    assert disk[0].startswith("cartwh: disk full or file size limit reached while writing ")
    assert "free space and rerun" in disk[0]
    logs = sorted((root / "warehouse_work" / "logs").glob("refresh-*.log"))
    log_text = logs[-1].read_text(encoding="utf-8", errors="replace")
    assert len(log_text.splitlines()) < 5000 and log_text.count("Traceback") <= 20
    assert _published(root) == before  # the previous published results stay
    status = json.loads((root / "warehouse_work" / "refresh-status.json").read_text())
    assert status["state"] != "started", status  # failed, or the previous refresh's finished

    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert "refresh done in" in again.stdout


def test_the_refresh_log_is_bounded_and_a_failing_write_is_not_retried(tmp_path):
    from cartwh.runlog import MAX_LOG_LINES, output_into

    path = tmp_path / "refresh.log"
    with open(path, "a", encoding="utf-8", buffering=1) as log, output_into(log):
        for number in range(MAX_LOG_LINES + 5000):
            print(f"line {number}")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_LOG_LINES + 2
    assert lines[-1].startswith(f"[cartwh: the log reached {MAX_LOG_LINES:,} lines")


@pytest.mark.parametrize(
    "problem, what",
    [
        (OSError(27, "File too large", "/data/w.duckdb"), "/data/w.duckdb"),
        (
            'IOException: IO Error: Could not write file "/data/w.duckdb": File too large',
            "/data/w.duckdb",
        ),
        ("OperationalError: (sqlite3.OperationalError) disk I/O error", "the Dagster run history"),
        ("OSError: [Errno 28] No space left on device", "the warehouse, its work folder"),
    ],
)
def test_a_full_disk_is_recognised_and_named(tmp_path, problem, what):
    from cartwh.runlog import disk_full_line
    from cartwh.settings import read_settings

    settings = read_settings({"CARTWH_DATA": str(tmp_path)})
    line = disk_full_line(problem, settings)
    assert line.startswith(f"disk full or file size limit reached while writing {what}")
    assert line.endswith("; free space and rerun")
    assert disk_full_line("KeyError: 'x'", settings) is None
    assert disk_full_line(ValueError("bad"), settings) is None
