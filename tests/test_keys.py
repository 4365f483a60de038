"""The pseudonymisation key: required outside demo mode, never written anywhere, rotated by
``cartwh rekey`` without changing anything but the keys."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import duckdb
import pytest

from cartwh.content_hash import PROVENANCE_COLUMNS, TIME_TYPES
from cartwh.exitcodes import ExitCode
from cartwh.settings import DEMO_SECRET, MIN_SECRET_LENGTH, SettingsError, read_settings
from tests.conftest import OTHER_SECRET, TEST_SECRET, run_cartwh, write_delivery
from tests.content_hash import _value

NEW_SECRET = "new-secret-after-rotation-0123456789abcdef"


def _without_key(env: dict[str, str]) -> dict[str, str]:
    """``env`` with no key and no demo switch (run_cartwh inherits no CARTWH_* variable)."""
    return {
        k: v
        for k, v in env.items()
        if k not in ("CARTWH_SECRET", "CARTWH_NEW_SECRET", "CARTWH_DEMO")
    }


# --- settings ------------------------------------------------------------------------------


def test_a_missing_key_is_refused_outside_demo_mode_and_says_how_to_set_it():
    settings = read_settings({})  # reading settings needs no key: generate, sql, quality
    with pytest.raises(SettingsError) as refused:
        _ = settings.secret
    message = str(refused.value)
    assert message.startswith("CARTWH_SECRET is not set") and "export CARTWH_SECRET=" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("key", "says"),
    [
        ("x" * (MIN_SECRET_LENGTH - 1), f"fewer than the {MIN_SECRET_LENGTH} required"),
        (DEMO_SECRET, "published demo key"),
    ],
)
def test_a_short_key_or_the_demo_key_is_refused_outside_demo_mode(key, says):
    with pytest.raises(SettingsError, match=says) as refused:
        _ = read_settings({"CARTWH_SECRET": key}).secret
    assert "export CARTWH_SECRET=" in str(refused.value)
    assert read_settings({"CARTWH_SECRET": "x" * MIN_SECRET_LENGTH}).secret == "x" * 32


def test_demo_mode_uses_the_demo_key_only_when_asked():
    demo = read_settings({"CARTWH_DEMO": "1"})
    assert demo.secret == DEMO_SECRET and demo.uses_demo_key
    own = read_settings({"CARTWH_DEMO": "1", "CARTWH_SECRET": TEST_SECRET})
    assert own.secret == TEST_SECRET and not own.uses_demo_key
    with pytest.raises(SettingsError, match="CARTWH_DEMO='maybe' is not a switch"):
        read_settings({"CARTWH_DEMO": "maybe"})


def test_pseudonyms_are_stable_for_a_key_and_differ_for_another():
    from cartwh.transform.plugin import patient_key

    ids = [("xz", "P001"), ("xz", "P002"), ("tj", "P001")]
    first = [patient_key(TEST_SECRET, c, i) for c, i in ids]
    assert first == [patient_key(TEST_SECRET, c, i) for c, i in ids]
    assert first == [patient_key(TEST_SECRET, c, f" {i} ") for c, i in ids]  # trimmed
    assert len(set(first)) == len(ids)
    other = [patient_key(OTHER_SECRET, c, i) for c, i in ids]
    assert not set(first) & set(other)


def test_the_sql_function_keys_every_row_as_the_python_function_does():
    """The UDF hashes each distinct (centre, id) of a batch once; every row still gets the key
    of its own pair: many batches, repeated and interleaved patients, two centres, padded,
    blank and missing ids, a missing centre."""
    import duckdb

    from cartwh.transform.plugin import patient_key, register_patient_key

    rows = [("xz" if n % 7 else "tj", f"P{(n * 37) % 501:04d}") for n in range(6000)]
    rows += [("xz", " P0001 "), ("xz", "   "), ("xz", ""), ("xz", None), (None, "P0001")]
    with duckdb.connect() as conn:
        register_patient_key(conn, TEST_SECRET)
        conn.execute("create table ids (n integer, centre varchar, id varchar)")
        conn.executemany("insert into ids values (?, ?, ?)", [(n, *r) for n, r in enumerate(rows)])
        keys = conn.execute("select cartwh_patient_key(centre, id) from ids order by n").fetchall()
    expected = [
        patient_key(TEST_SECRET, c, i) if c is not None and i is not None and i.strip() else None
        for c, i in rows
    ]
    assert [k for (k,) in keys] == expected
    assert len({k for (k,) in keys}) > 900


# --- the command line ----------------------------------------------------------------------


def _small_landing(tmp_path: Path) -> dict[str, str]:
    from tests.conftest import INFUSIONS_CSV, PATIENTS_CSV

    landing = tmp_path / "landing"
    write_delivery(
        landing, "xz", "2023-01-01", {"patients.csv": PATIENTS_CSV, "infusions.csv": INFUSIONS_CSV}
    )
    return {
        "CARTWH_DATA": str(tmp_path),
        "CARTWH_LANDING": str(landing),
        "CARTWH_WAREHOUSE": str(tmp_path / "w.duckdb"),
        "CARTWH_OUTPUT": str(tmp_path / "output"),
    }


@pytest.mark.parametrize(
    ("key", "says"),
    [
        (None, "cartwh: CARTWH_SECRET is not set: it is required outside demo mode"),
        ("short-key", "cartwh: CARTWH_SECRET has 9 characters, fewer than the 32 required"),
        (DEMO_SECRET, "cartwh: CARTWH_SECRET is the published demo key"),
    ],
)
def test_refresh_without_a_usable_key_refuses_in_one_line(tmp_path, key, says):
    env = _without_key(_small_landing(tmp_path))
    if key is not None:
        env["CARTWH_SECRET"] = key
    result = run_cartwh(["refresh"], env)
    assert result.returncode == ExitCode.USAGE, result.stdout + result.stderr
    assert result.stderr.startswith(says) and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr and "export CARTWH_SECRET=" in result.stderr
    assert not (tmp_path / "w.duckdb").exists() and result.stdout == ""


@pytest.mark.parametrize("command", [["dbt", "debug"], ["lock", "x"], ["ui"]])
def test_the_other_commands_that_need_the_key_refuse_without_it(tmp_path, command):
    result = run_cartwh(command, _without_key(_small_landing(tmp_path)))
    assert result.returncode == ExitCode.USAGE, result.stdout + result.stderr
    assert result.stderr.startswith("cartwh: CARTWH_SECRET is not set")
    assert len(result.stderr.strip().splitlines()) == 1


def test_generate_needs_no_key(tmp_path):
    env = _without_key({"CARTWH_DATA": str(tmp_path)})
    result = run_cartwh(["generate", "--patients", "8", "--out", str(tmp_path / "landing")], env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "landing" / ".cartwh-generated").exists()


def test_demo_mode_says_it_uses_the_demo_key_and_only_on_a_generated_landing(tmp_path, capsys):
    from cartwh.cli import GENERATED_MARKER, _require_key

    env = _without_key(_small_landing(tmp_path)) | {"CARTWH_DEMO": "1"}
    settings = read_settings(env)
    with pytest.raises(SettingsError, match="was not written by `cartwh generate`"):
        _require_key(settings)
    (settings.landing / GENERATED_MARKER).write_text("")
    _require_key(settings)
    assert capsys.readouterr().err == (
        "demo mode: using the published demo key; set CARTWH_SECRET for real data\n"
    )
    _require_key(read_settings({**env, "CARTWH_SECRET": TEST_SECRET}))
    assert capsys.readouterr().err == ""


# --- the key is never written --------------------------------------------------------------


def _forms(key: str) -> dict[str, bytes]:
    raw = key.encode()
    return {
        "plain": raw,
        "hex": raw.hex().encode(),
        "HEX": raw.hex().upper().encode(),
        "base64": base64.b64encode(raw).rstrip(b"="),
        "urlsafe base64": base64.urlsafe_b64encode(raw).rstrip(b"="),
        "utf-16": key.encode("utf-16-le"),
    }


def _files_holding(roots: list[Path], key: str) -> list[str]:
    forms = _forms(key)
    found = []
    for root in roots:
        for path in [root] if root.is_file() else sorted(root.rglob("*")):
            if path.is_file() and not path.is_symlink():
                data = path.read_bytes()
                found += [f"{path} ({name})" for name, form in forms.items() if form in data]
    return found


def test_the_key_is_in_no_file_the_refresh_wrote(demo):
    """Compiled SQL, dbt manifests, run results and logs, the generated dbt project, the
    refresh logs, the Dagster home (event log, run storage), the state and plan files, the
    outputs and the warehouse file: none holds the key, in clear, hex or base64."""
    settings = demo.settings()
    roots = [settings.work, settings.output, settings.warehouse, settings.dagster_home]
    scanned = [p for r in roots for p in ([r] if r.is_file() else r.rglob("*")) if p.is_file()]
    names = {p.name for p in scanned}
    # the scan covers what it claims to: dbt artefacts, logs, Dagster storage, state, outputs
    assert {"manifest.json", "run_results.json", "dbt.log", "landing-state.json"} <= names
    assert any(p.suffix == ".sql" and "compiled" in p.parts for p in scanned)
    assert any(p.suffix in (".db", ".sqlite") for p in scanned) and "report.html" in names
    assert any(p.name.startswith("refresh-") and p.suffix == ".log" for p in scanned)
    assert _files_holding(roots, TEST_SECRET) == []
    # and the scan finds it where it is
    planted = settings.work / "planted.txt"
    planted.write_text(base64.b64encode(TEST_SECRET.encode()).decode())
    try:
        assert f"{planted} (base64)" in _files_holding([planted], TEST_SECRET)
    finally:
        planted.unlink()


# --- rotation ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rotated(demo, tmp_path_factory):
    """A copy of the demo, with the environment of the CLI pointed at it."""
    with demo.copy(tmp_path_factory.mktemp("keys")).as_environment() as copy:
        with pytest.MonkeyPatch.context() as patch:
            patch.delenv("CARTWH_NEW_SECRET", raising=False)
            yield copy


def _keyed_tables(conn) -> list[tuple[str, str]]:
    return conn.execute(
        "select c.table_schema, c.table_name from information_schema.columns c "
        "join information_schema.tables t using (table_catalog, table_schema, table_name) "
        "where c.column_name = 'patient_key' and t.table_type = 'BASE TABLE' order by all"
    ).fetchall()


def _base_tables(conn) -> list[tuple[str, str]]:
    return conn.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_type = 'BASE TABLE' and table_schema not in ('raw') order by all"
    ).fetchall()


def _columns(conn, schema: str, table: str) -> list[str]:
    rows = conn.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, table],
    ).fetchall()
    return [n for n, t in rows if n not in PROVENANCE_COLUMNS and t not in TIME_TYPES]


def _digest(rows) -> str:
    lines = sorted("\t".join(_value(v) for v in row) for row in rows)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _through_crosswalk(database: Path) -> dict[str, str]:
    """Every table but raw's, each patient_key replaced by the centre patient it stands for
    (joined through the crosswalk): equal before and after a rotation if only keys changed."""
    with duckdb.connect(str(database), read_only=True) as conn:
        keyed = set(_keyed_tables(conn))
        hashes = {}
        for schema, table in _base_tables(conn):
            if (schema, table) == ("history", "key_rotations"):
                continue
            columns = [c for c in _columns(conn, schema, table) if c != "patient_key"]
            select = ", ".join(f't."{c}"' for c in columns) or "1"
            if (schema, table) in keyed:
                sql = (
                    f"select {select}, w.centre_code as _centre, w.centre_patient_id as _patient "
                    f'from "{schema}"."{table}" t left join restricted.patient_crosswalk w '
                    "on w.patient_key = t.patient_key"
                )
            else:
                sql = f'select {select} from "{schema}"."{table}" t'
            hashes[f"{schema}.{table}"] = _digest(conn.execute(sql).fetchall())
        return hashes


def _all_keys(database: Path) -> set[str]:
    with duckdb.connect(str(database), read_only=True) as conn:
        union = " union ".join(
            f'select patient_key from "{s}"."{t}" where patient_key is not null'
            for s, t in _keyed_tables(conn)
        )
        return {k for (k,) in conn.execute(union).fetchall()}


def _exact(database: Path, schemas: tuple[str, ...]) -> dict[str, str]:
    with duckdb.connect(str(database), read_only=True) as conn:
        hashes = {}
        for schema, table in _base_tables(conn):
            if schema in schemas:
                columns = ", ".join(f'"{c}"' for c in _columns(conn, schema, table)) or "1"
                rows = conn.execute(f'select {columns} from "{schema}"."{table}"').fetchall()
                hashes[f"{schema}.{table}"] = _digest(rows)
        return hashes


def test_rekey_refuses_without_a_new_key_or_with_the_wrong_old_one(rotated):
    from cartwh.rekey import RekeyError, rekey

    before = hashlib.sha256(rotated.warehouse.read_bytes()).hexdigest()
    result = run_cartwh(["rekey"], {**rotated.env()})
    assert result.returncode == ExitCode.USAGE
    assert result.stderr.startswith("cartwh: CARTWH_NEW_SECRET is not set")
    assert len(result.stderr.strip().splitlines()) == 1
    same = run_cartwh(["rekey"], {**rotated.env(), "CARTWH_NEW_SECRET": TEST_SECRET})
    assert same.returncode == ExitCode.USAGE and "is the current key" in same.stderr
    wrong = read_settings({**rotated.env(), "CARTWH_SECRET": OTHER_SECRET})
    with pytest.raises(RekeyError, match="not the key this warehouse was pseudonymised with"):
        rekey(wrong, NEW_SECRET)
    refused = run_cartwh(
        ["rekey"],
        {**rotated.env(), "CARTWH_SECRET": OTHER_SECRET, "CARTWH_NEW_SECRET": NEW_SECRET},
    )
    assert refused.returncode == ExitCode.USAGE and "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert hashlib.sha256(rotated.warehouse.read_bytes()).hexdigest() == before


def test_rekey_changes_every_key_and_nothing_else_as_a_fresh_refresh_would(rotated, monkeypatch):
    from cartwh.cli import main
    from cartwh.rekey import key_check
    from cartwh.transform.plugin import patient_key

    through_before = _through_crosswalk(rotated.warehouse)
    keys_before = _all_keys(rotated.warehouse)
    assert len(keys_before) > 50

    result = run_cartwh(["rekey"], {**rotated.env(), "CARTWH_NEW_SECRET": NEW_SECRET})
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("re-keyed ") and result.stderr == ""

    # every patient_key changed, in every table; nothing else did
    keys_after = _all_keys(rotated.warehouse)
    assert not keys_before & keys_after and len(keys_after) == len(keys_before)
    assert _through_crosswalk(rotated.warehouse) == through_before
    with duckdb.connect(str(rotated.warehouse), read_only=True) as conn:
        walk = conn.execute(
            "select centre_code, centre_patient_id, patient_key from restricted.patient_crosswalk"
        ).fetchall()
        per_patient = conn.execute(
            "select count(*) from (select centre_code, centre_patient_id "
            "from restricted.patient_crosswalk group by all "
            "having count(distinct patient_key) <> 1)"
        ).fetchone()[0]
        rotation = conn.execute("select * from history.key_rotations").fetchall()
        # no old key is left in any text column (samples, messages) of any table
        old_keys = sorted(keys_before)
        for schema, table in _base_tables(conn):
            texts = [
                c
                for (c,) in conn.execute(
                    "select column_name from information_schema.columns where table_schema = ? "
                    "and table_name = ? and data_type = 'VARCHAR'",
                    [schema, table],
                ).fetchall()
            ]
            for column in texts:
                left = conn.execute(
                    "with o as (select unnest(?::varchar[]) as k) "
                    f'select count(*) from "{schema}"."{table}" t join o '
                    f'on contains(t."{column}", o.k)',
                    [old_keys],
                ).fetchone()[0]
                assert left == 0, f"{schema}.{table}.{column} still holds {left} old keys"
    assert per_patient == 0 and len({k for _, _, k in walk}) == len(walk)
    assert all(k == patient_key(NEW_SECRET, c, i) for c, i, k in walk)

    # the rotation is recorded with checks of both keys, never the keys
    assert len(rotation) == 1
    _, salt, old_check, new_check, tables, rows, patients = rotation[0]
    assert old_check == key_check(TEST_SECRET, salt) and new_check == key_check(NEW_SECRET, salt)
    assert patients == len(walk) and tables >= 5 and rows >= len(walk)
    assert _files_holding([rotated.warehouse], NEW_SECRET) == []
    assert _files_holding([rotated.warehouse], TEST_SECRET) == []

    # a fresh refresh with the new key gives exactly the re-keyed tables
    schemas = ("intermediate", "restricted", "mart", "quality", "analysis")
    rekeyed = _exact(rotated.warehouse, schemas)
    monkeypatch.setenv("CARTWH_SECRET", NEW_SECRET)
    assert main(["refresh", "--full", "--accept-data-warnings"]) == 0
    fresh = _exact(rotated.warehouse, schemas)
    assert sorted(t for t in fresh if fresh[t] != rekeyed.get(t)) == []
    assert set(fresh) == set(rekeyed)
