"""Finding deliveries in the landing folder and fingerprinting their files."""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from cartwh.ingest.confinement import SYMLINK_REASON, OutsideLanding, inside
from cartwh.ingest.mapping import CENTRE_CODE

DELIVERY_ID = re.compile(r"^(\d{4}-\d{2}-\d{2})([a-z]{0,8})$")
DELIVERY_ID_RULE = "delivery ids are YYYY-MM-DD with an optional lower-case suffix (2023-03-01b)"
MANIFEST = "manifest.json"


class DeliveryRejected(Exception):
    """The whole delivery is refused; the message names centre, delivery and file."""


@dataclass(frozen=True)
class DeliveryFolder:
    centre_code: str
    delivery_id: str
    path: Path

    @property
    def label(self) -> str:
        return f"{self.centre_code}/{self.delivery_id}"


@dataclass(frozen=True)
class FileStat:
    """A regular file of a delivery as ``stat`` sees it (nothing read yet)."""

    relative_path: str
    path: Path
    bytes: int
    mtime_ns: int


@dataclass(frozen=True)
class DeliveredFile:
    relative_path: str
    path: Path
    sha256: str
    bytes: int
    mtime_ns: int = 0


@dataclass(frozen=True)
class DeliveryListing:
    """What a delivery folder holds: its regular files, and the entries that are not read
    (symbolic links, devices) with the reason, by relative path."""

    files: list[FileStat]
    not_read: dict[str, str]


@dataclass(frozen=True)
class SkippedFolder:
    """A folder of the landing area that is not loaded, and the rule it breaks."""

    centre_code: str  # the centre folder's name as found
    delivery_id: str  # the delivery folder's name, "" for a centre folder
    reason: str

    @property
    def label(self) -> str:
        return f"{self.centre_code}/{self.delivery_id}" if self.delivery_id else self.centre_code


#: more entries than this skipped at one level for the same reason are summarised in one line
MAX_LISTED = 5


def summarised(skipped: list[SkippedFolder]) -> list[SkippedFolder]:
    """``skipped`` with every group of more than :data:`MAX_LISTED` entries of one folder and
    reason (3,000 stray files in a centre folder) made one entry that counts them and names
    the first few, so that the ledger, the log and the warnings stay a page long."""
    groups: dict[tuple[str, str], list[SkippedFolder]] = {}
    for folder in skipped:
        level = folder.centre_code if folder.delivery_id else ""
        name = folder.delivery_id or folder.centre_code
        generic = folder.reason.replace(repr(name), "the name")  # "'x1' is not a delivery id"
        groups.setdefault((level, generic), []).append(folder)
    kept: list[SkippedFolder] = []
    for (level, reason), folders in groups.items():
        if len(folders) <= MAX_LISTED:
            kept += folders
            continue
        names = [f.delivery_id or f.centre_code for f in folders]
        where = f"{level}/" if level else "the landing area"
        first = ", ".join(names[:MAX_LISTED])
        summary = f"{len(folders):,} unexpected entries in {where} (first {MAX_LISTED}: {first}): "
        label = f"({len(folders):,} entries)"
        kept.append(
            SkippedFolder(level, label, summary + reason)
            if level
            else SkippedFolder(label, "", summary + reason)
        )
    return kept


def _inside(path: Path, root: Path) -> bool:
    try:
        inside(path, root)
    except OutsideLanding:
        return False
    return True


def delivery_order(delivery_id: str) -> tuple[date, str]:
    """Sort key of a valid delivery id: its date, then its suffix."""
    match = DELIVERY_ID.match(delivery_id)
    if match is None:
        raise ValueError(f"{delivery_id!r}: {DELIVERY_ID_RULE}")
    return date.fromisoformat(match.group(1)), match.group(2)


def delivery_id_problem(name: str) -> str | None:
    """Why a folder name is not a delivery id, or None when it is one."""
    try:
        delivery_order(name)
    except ValueError:
        return f"{name!r} is not a delivery id: {DELIVERY_ID_RULE}; rename the folder"
    return None


def discover_deliveries(
    landing: Path, centres: list[str] | None = None
) -> tuple[list[DeliveryFolder], list[SkippedFolder]]:
    """Delivery folders ``<landing>/<centre>/<delivery_id>/`` by centre, then date and suffix.

    Returns the deliveries and the folders (and stray files) that are not deliveries, which
    are not loaded. With ``centres``, only those centres' folders are looked at.
    """
    deliveries: list[DeliveryFolder] = []
    skipped: list[SkippedFolder] = []
    if not landing.is_dir():
        raise FileNotFoundError(f"landing folder {landing} does not exist (CARTWH_LANDING)")
    for centre_dir in sorted(landing.iterdir()):
        if centre_dir.name.startswith("."):
            continue
        if centres and centre_dir.name not in centres:
            continue
        if centre_dir.is_symlink():
            skipped.append(SkippedFolder(centre_dir.name, "", SYMLINK_REASON))
            continue
        if not centre_dir.is_dir() or not CENTRE_CODE.match(centre_dir.name):
            skipped.append(
                SkippedFolder(
                    centre_dir.name, "", "not a centre folder (2-16 lower-case letters/digits)"
                )
            )
            continue
        found = []
        for delivery_dir in sorted(centre_dir.iterdir()):
            if delivery_dir.name.startswith("."):
                continue
            problem = delivery_id_problem(delivery_dir.name)
            if delivery_dir.is_symlink():
                problem = SYMLINK_REASON
            elif not _inside(delivery_dir, landing):
                problem = "resolves outside the landing area: not read"
            elif not delivery_dir.is_dir():
                problem = "a file, not a delivery folder; put it inside a delivery folder"
            if problem:
                skipped.append(SkippedFolder(centre_dir.name, delivery_dir.name, problem))
                continue
            found.append(DeliveryFolder(centre_dir.name, delivery_dir.name, delivery_dir))
        deliveries += sorted(found, key=lambda d: delivery_order(d.delivery_id))
    return deliveries, summarised(skipped)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def list_delivery(delivery: DeliveryFolder) -> DeliveryListing:
    """The delivery's files by ``stat`` alone; symbolic links are listed, never followed.

    Hidden entries (a leading dot) are left out.
    """
    files: list[FileStat] = []
    not_read: dict[str, str] = {}

    def walk(folder: Path, prefix: str) -> None:
        with os.scandir(folder) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                if entry.name.startswith("."):
                    continue
                relative = prefix + entry.name
                if entry.is_symlink():
                    not_read[relative] = SYMLINK_REASON
                elif entry.is_dir(follow_symlinks=False):
                    walk(Path(entry.path), relative + "/")
                elif entry.is_file(follow_symlinks=False):
                    stat = entry.stat(follow_symlinks=False)
                    files.append(
                        FileStat(relative, Path(entry.path), stat.st_size, stat.st_mtime_ns)
                    )
                else:
                    not_read[relative] = "not a regular file: not read"

    walk(delivery.path, "")
    # ordered as paths (part by part), as fingerprints have always been
    return DeliveryListing(sorted(files, key=lambda f: Path(f.relative_path).parts), not_read)


def hashed(listing: DeliveryListing) -> list[DeliveredFile]:
    """The listed files with their sha256 (each file read once)."""
    return [
        DeliveredFile(f.relative_path, f.path, sha256_file(f.path), f.bytes, f.mtime_ns)
        for f in listing.files
    ]


def delivered_files(delivery: DeliveryFolder) -> list[DeliveredFile]:
    """Every regular file of the delivery with its sha256 (symbolic links left out)."""
    return hashed(list_delivery(delivery))


def fingerprint(files: list[DeliveredFile], not_read: dict[str, str] | None = None) -> str:
    """sha256 over the delivery's file names and their sha256 (and its unread entries)."""
    lines = [f"{f.relative_path}\t{f.sha256}" for f in files]
    lines += [f"{name}\tnot read" for name in sorted(not_read or {})]
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def verify_manifest(delivery: DeliveryFolder, files: list[DeliveredFile]) -> None:
    """Check ``manifest.json`` when present; raise :class:`DeliveryRejected` on any mismatch."""
    by_name = {f.relative_path: f for f in files}
    if MANIFEST not in by_name:
        return
    where = f"delivery {delivery.label}: {MANIFEST}"
    try:
        manifest = json.loads(
            inside(by_name[MANIFEST].path, delivery.path).read_text(encoding="utf-8-sig")
        )
    except (ValueError, UnicodeDecodeError) as exc:
        raise DeliveryRejected(f"{where} is not valid JSON ({exc})") from exc
    if not isinstance(manifest, dict):
        raise DeliveryRejected(f"{where} must be a JSON object")
    for key, expected in (
        ("centre_code", delivery.centre_code),
        ("delivery_id", delivery.delivery_id),
    ):
        if key in manifest and manifest[key] != expected:
            raise DeliveryRejected(
                f"{where} says {key}={manifest[key]!r} but the folder is {expected!r}"
            )
    listed = manifest.get("files", {})
    if not isinstance(listed, dict):
        raise DeliveryRejected(f"{where}: 'files' must map file names to sha256 checksums")
    for name, checksum in sorted(listed.items()):
        if name not in by_name:
            raise DeliveryRejected(f"{where} lists {name}, which is not in the delivery")
        actual = by_name[name].sha256
        if str(checksum).lower() != actual:
            raise DeliveryRejected(
                f"delivery {delivery.label}: file {name} does not match its manifest checksum "
                f"(manifest {str(checksum)[:12]}…, file {actual[:12]}…)"
            )
