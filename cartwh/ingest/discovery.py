"""Finding deliveries in the landing folder and fingerprinting their files."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from cartwh.ingest.mapping import CENTRE_CODE

DELIVERY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
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
class DeliveredFile:
    relative_path: str
    path: Path
    sha256: str
    bytes: int


def discover_deliveries(
    landing: Path, centres: list[str] | None = None
) -> tuple[list[DeliveryFolder], list[str]]:
    """Delivery folders ``<landing>/<centre>/<delivery_id>/`` sorted by centre and id.

    Returns the deliveries and a list of warnings about folders that are not
    deliveries (bad names, stray files), which are skipped.
    """
    deliveries: list[DeliveryFolder] = []
    warnings: list[str] = []
    if not landing.is_dir():
        return deliveries, [f"landing folder {landing} does not exist"]
    for centre_dir in sorted(landing.iterdir()):
        if centre_dir.name.startswith("."):
            continue
        if not centre_dir.is_dir() or not CENTRE_CODE.match(centre_dir.name):
            warnings.append(
                f"{centre_dir.name}: not a centre folder (2-16 lower-case letters/digits); skipped"
            )
            continue
        if centres and centre_dir.name not in centres:
            continue
        for delivery_dir in sorted(centre_dir.iterdir()):
            if delivery_dir.name.startswith("."):
                continue
            if not delivery_dir.is_dir() or not DELIVERY_ID.match(delivery_dir.name):
                warnings.append(
                    f"{centre_dir.name}/{delivery_dir.name}: not a delivery folder; skipped"
                )
                continue
            deliveries.append(DeliveryFolder(centre_dir.name, delivery_dir.name, delivery_dir))
    return deliveries, warnings


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def delivered_files(delivery: DeliveryFolder) -> list[DeliveredFile]:
    files = []
    for path in sorted(p for p in delivery.path.rglob("*") if p.is_file()):
        relative = path.relative_to(delivery.path).as_posix()
        if any(part.startswith(".") for part in relative.split("/")):
            continue
        files.append(DeliveredFile(relative, path, sha256_file(path), path.stat().st_size))
    return files


def fingerprint(files: list[DeliveredFile]) -> str:
    listing = "\n".join(f"{f.relative_path}\t{f.sha256}" for f in files)
    return hashlib.sha256(listing.encode("utf-8")).hexdigest()


def verify_manifest(delivery: DeliveryFolder, files: list[DeliveredFile]) -> None:
    """Check ``manifest.json`` when present; raise :class:`DeliveryRejected` on any mismatch."""
    by_name = {f.relative_path: f for f in files}
    if MANIFEST not in by_name:
        return
    where = f"delivery {delivery.label}: {MANIFEST}"
    try:
        manifest = json.loads(by_name[MANIFEST].path.read_text(encoding="utf-8-sig"))
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
