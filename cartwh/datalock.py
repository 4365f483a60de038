"""Data locks: freeze the state of a warehouse, and rebuild exactly that state later.

``cartwh lock NAME`` writes ``<work>/locks/NAME.json``: each current delivery (centre, id,
fingerprint, every file with its sha256 from the ledger), the cut-off, the code version and
a keyed check of ``CARTWH_SECRET`` (HMAC-SHA256 of a random salt: it shows whether a key is
the same, not what it is). It only reads the warehouse.

``cartwh refresh --lock NAME`` rebuilds that state in its own folder ``<work>/locks/NAME/``:
a landing copy of the locked delivery folders only (each file verified against its sha256),
its own warehouse, output and work folder, the locked cut-off; it refuses when the code
version or the key differ.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from cartwh.erasure.exclusions import carry_exclusions
from cartwh.ingest.discovery import sha256_file
from cartwh.settings import Settings, SettingsError
from cartwh.version import code_version
from cartwh.warehouse import run

LOCK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
LOCK_FORMAT = 1

#: every file of each current delivery that the ledger has a sha256 for
_LOCKED_FILES = """
select d.centre_code, d.delivery_id, any_value(d.delivery_fingerprint),
    list(distinct {'path': regexp_replace(d.source_file, '\\[.*\\]$', ''), 'sha256': d.sha256})
from raw.current_deliveries c join raw.deliveries d using (centre_code, delivery_id)
where d.status not in ('rejected', 'skipped') and d.sha256 is not null and d.source_file <> ''
group by all order by 1
"""


class LockError(SettingsError):
    """A lock that cannot be taken or rebuilt; the message is one line naming the fix."""


def locks_folder(settings: Settings) -> Path:
    return settings.work / "locks"


def lock_file(settings: Settings, name: str) -> Path:
    if not LOCK_NAME.match(name):
        raise LockError(
            f"lock name {name!r}: use letters, digits, '.', '_' or '-' (at most 64, "
            "starting with a letter or digit)"
        )
    return locks_folder(settings) / f"{name}.json"


def key_check(secret: str, salt: str) -> str:
    return hmac.new(secret.encode(), f"cartwh lock {salt}".encode(), hashlib.sha256).hexdigest()


def published_cutoff(conn: duckdb.DuckDBPyConnection) -> date | None:
    """The cut-off of the published analysis (None before the first one)."""
    found = run(
        conn,
        "select count(*) from information_schema.tables "
        "where table_schema = 'analysis' and table_name = 'provenance'",
    )
    if not found[0][0]:
        return None
    rows = run(conn, "select distinct cutoff from analysis.provenance")
    return rows[0][0] if len(rows) == 1 else None


def take_lock(conn: duckdb.DuckDBPyConnection, settings: Settings, name: str) -> Path:
    """Write the lock file of the warehouse's current state; LockError if NAME exists."""
    path = lock_file(settings, name)
    if path.exists():
        raise LockError(f"lock {name} exists ({path}): choose another name")
    deliveries = [
        {
            "centre_code": centre,
            "delivery_id": delivery,
            "fingerprint": fingerprint,
            "files": sorted(files, key=lambda f: f["path"]),
        }
        for centre, delivery, fingerprint, files in run(conn, _LOCKED_FILES)
    ]
    if not deliveries:
        raise LockError(f"{settings.warehouse} has no current delivery to lock: refresh first")
    salt = secrets.token_hex(16)
    lock = {
        "format": LOCK_FORMAT,
        "name": name,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "warehouse": str(settings.warehouse),
        "landing": str(settings.landing),
        "cutoff": (published_cutoff(conn) or settings.cutoff).isoformat(),
        "code_version": code_version(),
        "key_check": {"salt": salt, "hmac_sha256": key_check(settings.secret, salt)},
        "deliveries": deliveries,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(lock, indent=2) + "\n", encoding="utf-8")
    try:
        os.link(temporary, path)  # fails if another process took NAME meanwhile
    except FileExistsError:
        raise LockError(f"lock {name} exists ({path}): choose another name") from None
    finally:
        temporary.unlink()
    return path


def read_lock(settings: Settings, name: str) -> dict:
    path = lock_file(settings, name)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LockError(f"no lock {name} ({path}): take it with `cartwh lock {name}`") from None
    except json.JSONDecodeError as exc:
        raise LockError(f"lock file {path} is not valid JSON ({exc})") from None


def locked_settings(settings: Settings, name: str) -> Settings:
    """The settings that rebuild lock NAME in its own folder, after verifying the code, the
    key and every locked file (copied into the lock's own landing folder)."""
    lock = read_lock(settings, name)
    now = code_version()
    if lock["code_version"] != now:
        raise LockError(
            f"lock {name} was taken with code {lock['code_version']}, this is {now}: "
            "check out that version to rebuild it"
        )
    check = lock["key_check"]
    if not hmac.compare_digest(key_check(settings.secret, check["salt"]), check["hmac_sha256"]):
        raise LockError(
            f"CARTWH_SECRET is not the key lock {name} was taken with: set that key to rebuild it"
        )
    root = locks_folder(settings) / name
    landing = root / "landing"
    for delivery in lock["deliveries"]:
        for file in delivery["files"]:
            _copy_verified(settings.landing, landing, delivery, file)
    work = root / "work"
    locked = replace(
        settings,
        landing=landing,
        warehouse=root / "warehouse.duckdb",
        output=root / "output",
        analyst=root / "analyst",
        work=work,
        dagster_home=work / "dagster",
        cutoff=date.fromisoformat(lock["cutoff"]),
    )
    # patients erased since the lock was taken stay erased in its rebuild (cartwh erase)
    carry_exclusions(settings.warehouse, locked.warehouse)
    return locked


def _copy_verified(source_landing: Path, landing: Path, delivery: dict, file: dict) -> None:
    """Copy one locked file into the lock's landing folder (kept when already there and
    intact), or LockError naming centre, delivery and file."""
    relative = Path(delivery["centre_code"], delivery["delivery_id"], file["path"])
    target = landing / relative
    if target.is_file() and sha256_file(target) == file["sha256"]:
        return
    where = (
        f"centre {delivery['centre_code']}, delivery {delivery['delivery_id']}, file {file['path']}"
    )
    source = source_landing / relative
    if not source.is_file() or source.is_symlink():
        raise LockError(f"{where}: missing from {source_landing}; the lock cannot be rebuilt")
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.copy2(source, temporary)
    if sha256_file(temporary) != file["sha256"]:
        temporary.unlink()
        raise LockError(
            f"{where}: changed since the lock (sha256 differs); the lock cannot be rebuilt"
        )
    os.replace(temporary, target)
