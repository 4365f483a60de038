"""The landing area as fingerprints, from files alone (never the warehouse, which a running
refresh holds): which centres changed since the last published refresh, and whether a new
delivery is complete and still (for the sensor).

A centre's fingerprint covers its mapping and every delivery folder under it (file names and
their sha256); the set-up fingerprint covers what changes every centre's results (code, cut-off,
key, registry, acceptance-gate share). Checksums are cached by path, size and mtime in the work
folder, so a look at the landing area reads only new or changed files.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cartwh.ingest.discovery import (
    DeliveredFile,
    DeliveryFolder,
    DeliveryRejected,
    discover_deliveries,
    fingerprint,
    list_delivery,
    sha256_file,
    verify_manifest,
)
from cartwh.ingest.mapping import MappingError
from cartwh.project import PROJECT_ROOT

if TYPE_CHECKING:
    from cartwh.ingest.registry import CentreRegistry
    from cartwh.settings import Settings

HASH_CACHE = "landing-hashes.json"
PUBLISHED_STATE = "landing-state.json"
PLANS = "plans"
KEPT_PLANS = 50
#: the code whose change changes every result (statistics, clinical rules, intake)
CODE_FOLDERS = ("cartwh", "orchestration", "analysis_assets", "models", "dbt_project")
CODE_SUFFIXES = {".py", ".sql", ".yml", ".yaml", ".csv"}
SKIPPED_CODE_FOLDERS = {"__pycache__", "target", "logs", "generated", "dbt_packages"}


@dataclass(frozen=True)
class DeliveryState:
    label: str  # centre/delivery
    digest: str
    newest_mtime_ns: int
    #: why it would be rejected if loaded now (a required file missing, a manifest that does
    #: not match yet): a delivery being copied looks like this until the copy ends
    problem: str | None = None


@dataclass(frozen=True)
class LandingState:
    setup: str
    folders: str  # the landing area's own entries (unregistered or misnamed folders)
    centres: dict[str, str]
    deliveries: dict[str, DeliveryState] = field(default_factory=dict, compare=False)

    def digests(self) -> dict:
        return {"setup": self.setup, "folders": self.folders, "centres": dict(self.centres)}


def _digest(lines) -> str:
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


class HashCache:
    """sha256 of landing files by relative path, valid while size and mtime stay the same."""

    def __init__(self, path: Path):
        self.path = path
        try:
            self.entries: dict[str, list] = json.loads(path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            self.entries = {}
        self.used: dict[str, list] = {}

    def sha256(self, key: str, path: Path, size: int, mtime_ns: int) -> str:
        cached = self.entries.get(key)
        if cached and cached[0] == size and cached[1] == mtime_ns:
            digest = cached[2]
        else:
            digest = sha256_file(path)
        self.used[key] = [size, mtime_ns, digest]
        return digest

    def save(self) -> None:
        """Keeps the files seen this time only; written atomically (sensor and refresh may
        look at the same time)."""
        if self.used != self.entries:
            _write_json(self.path, self.used)


def delivery_state(delivery: DeliveryFolder, mapping, cache: HashCache) -> DeliveryState:
    """The delivery's fingerprint (as the loader computes it) and why it is not complete."""
    from cartwh.ingest.gate import missing_required_file
    from cartwh.ingest.load import claim_entity_files

    listing = list_delivery(delivery)
    files = [
        DeliveredFile(
            f.relative_path,
            f.path,
            cache.sha256(f"{delivery.label}/{f.relative_path}", f.path, f.bytes, f.mtime_ns),
            f.bytes,
            f.mtime_ns,
        )
        for f in listing.files
    ]
    problem = None
    if mapping is not None:
        problem = missing_required_file(
            delivery, mapping, claim_entity_files(mapping, files), files
        )
    if problem is None:
        try:
            verify_manifest(delivery, files)
        except DeliveryRejected as rejected:
            problem = str(rejected)
    return DeliveryState(
        delivery.label,
        fingerprint(files, listing.not_read),
        max((f.mtime_ns for f in listing.files), default=0),
        problem,
    )


def _mapping_digest(registry: CentreRegistry, centre: str) -> tuple[str, object]:
    path = registry.mappings_dir / f"{centre}.yml"
    try:
        mapping = registry.mapping(centre)
    except MappingError:
        mapping = None
    text = sha256_file(path) if path.is_file() else "canonical"
    return text, mapping


def code_digest(root: Path = PROJECT_ROOT) -> str:
    """Of the code's files by name, size and mtime: a changed rule or statistic rebuilds all."""
    lines = []
    for folder in CODE_FOLDERS:
        for dirpath, dirnames, filenames in os.walk(root / folder):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_CODE_FOLDERS)
            for name in sorted(filenames):
                if Path(name).suffix in CODE_SUFFIXES:
                    stat = os.stat(os.path.join(dirpath, name))
                    relative = os.path.relpath(os.path.join(dirpath, name), root)
                    lines.append(f"{relative}\t{stat.st_size}\t{stat.st_mtime_ns}")
    return _digest(lines)


def setup_digest(settings: Settings, registry: CentreRegistry) -> str:
    key = hmac.new(settings.secret.encode(), b"cartwh landing state", hashlib.sha256).hexdigest()
    return _digest(
        [
            code_digest(),
            settings.cutoff.isoformat(),
            key,
            f"{settings.max_patient_drop:.6f}",
            ",".join(registry.centres),
        ]
    )


def landing_state(settings: Settings, registry: CentreRegistry) -> LandingState:
    """What the landing area holds now, centre by centre."""
    cache = HashCache(settings.work / HASH_CACHE)
    deliveries, skipped = discover_deliveries(settings.landing, list(registry.centres))
    by_centre: dict[str, list[DeliveryFolder]] = {}
    for delivery in deliveries:
        by_centre.setdefault(delivery.centre_code, []).append(delivery)
    states: dict[str, DeliveryState] = {}
    centres: dict[str, str] = {}
    for centre in registry.centres:
        mapping_text, mapping = _mapping_digest(registry, centre)
        lines = [f"mapping\t{mapping_text}"]
        for delivery in by_centre.get(centre, []):
            state = delivery_state(delivery, mapping, cache)
            states[state.label] = state
            lines.append(f"{state.label}\t{state.digest}")
        lines += [f"skipped\t{s.label}\t{s.reason}" for s in skipped if s.centre_code == centre]
        centres[centre] = _digest(lines)
    cache.save()
    folders = _digest(
        f"{s.label}\t{s.reason}" for s in registry.unregistered_folders(settings.landing)
    )
    return LandingState(setup_digest(settings, registry), folders, centres, states)


@dataclass(frozen=True)
class PublishedState:
    """The landing state of the refresh whose results are published."""

    setup: str
    folders: str
    centres: dict[str, str]
    run_id: str
    published_at: str
    data_warnings: list[str] = field(default_factory=list)

    def digests(self) -> dict:
        return {"setup": self.setup, "folders": self.folders, "centres": dict(self.centres)}


def read_published(work: Path) -> PublishedState | None:
    try:
        return PublishedState(**json.loads((work / PUBLISHED_STATE).read_text(encoding="utf-8")))
    except (FileNotFoundError, ValueError, TypeError):
        return None


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def write_plan(work: Path, digests: dict) -> str:
    """Store what a run is about to load (its landing state); the id goes into the run's tags."""
    plan_id = _digest([json.dumps(digests, sort_keys=True)])[:16]
    plans = work / PLANS
    _write_json(plans / f"{plan_id}.json", digests)
    for old in sorted(plans.glob("*.json"), key=lambda p: p.stat().st_mtime)[:-KEPT_PLANS]:
        old.unlink(missing_ok=True)
    return plan_id


def record_published_plan(work: Path, plan_id: str | None, run_id: str, published_at: str) -> None:
    """After a run published: its plan becomes the published landing state. A run without a
    plan (launched by hand in the Dagster UI) leaves the state unknown: the next refresh is
    whole."""
    path = work / PUBLISHED_STATE
    try:
        digests = json.loads((work / PLANS / f"{plan_id}.json").read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError, TypeError):
        path.unlink(missing_ok=True)
        return
    _write_json(path, {**digests, "run_id": run_id, "published_at": published_at})


def record_data_warnings(work: Path, run_id: str, warnings: list[str]) -> None:
    """The intake warnings of the published refresh, repeated by a refresh with nothing new."""
    published = read_published(work)
    if published is not None and published.run_id == run_id:
        _write_json(work / PUBLISHED_STATE, {**asdict(published), "data_warnings": warnings})


def forget_centre(work: Path, centre: str) -> None:
    """A decision on a delivery (accept, withdraw) changes the centre without a new file: the
    next refresh reloads it."""
    published = read_published(work)
    if published is not None and centre in published.centres:
        centres = {c: d for c, d in published.centres.items() if c != centre}
        _write_json(work / PUBLISHED_STATE, {**asdict(published), "centres": centres})
