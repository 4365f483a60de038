"""The centre registry: which centres the warehouse loads, from configuration only.

A centre is registered by its mapping file ``<mappings>/<centre>.yml`` (its own layout) or by
being listed in ``<mappings>/canonical-centres.yml`` (the canonical extract format). The asset
graph is built from the registry, never from the folders that happen to be in the landing
area: a landing folder of an unregistered centre is reported, not loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from cartwh.ingest.confinement import SYMLINK_REASON
from cartwh.ingest.discovery import SkippedFolder, summarised
from cartwh.ingest.mapping import CENTRE_CODE, CentreMapping, mapping_for, plain_yaml

CANONICAL_CENTRES_FILE = "canonical-centres.yml"


class RegistryError(ValueError):
    """The registry cannot be read; the message names the file and the fix."""


@dataclass(frozen=True)
class CentreRegistry:
    mappings_dir: Path
    canonical: tuple[str, ...]
    mapped: tuple[str, ...]

    @property
    def centres(self) -> tuple[str, ...]:
        return tuple(sorted((*self.canonical, *self.mapped)))

    def mapping(self, centre: str) -> CentreMapping:
        """The centre's mapping (its file, or the canonical layout); MappingError if unusable."""
        if centre not in self.centres:
            raise KeyError(centre)
        return mapping_for(centre, self.mappings_dir)

    def unregistered_folders(self, landing: Path) -> list[SkippedFolder]:
        """The entries of the landing area that are not a registered centre's folder."""
        if not landing.is_dir():
            return []
        skipped = []
        for entry in sorted(p for p in landing.iterdir() if not p.name.startswith(".")):
            name = entry.name
            if name in self.centres and entry.is_dir():
                continue  # the centre's own scan reports it (also when it is a link)
            if entry.is_symlink():
                reason = SYMLINK_REASON
            elif not entry.is_dir():
                reason = "a file, not a centre folder; deliveries go in <centre>/<delivery_id>/"
            elif name.lower() in self.centres:
                reason = f"centre codes are lower-case: rename {name} to {name.lower()}"
            else:
                reason = (
                    f"unknown centre {name}: add it to the registry "
                    f"({self.mappings_dir / CANONICAL_CENTRES_FILE} for the canonical layout, "
                    f"or a mapping file {self.mappings_dir / (name + '.yml')})"
                )
            skipped.append(SkippedFolder(name, "", f"{reason}; not loaded"))
        return summarised(skipped)


def load_registry(mappings_dir: Path) -> CentreRegistry:
    """The registry of ``mappings_dir`` (mapping files are validated when used, per centre)."""
    if not mappings_dir.is_dir():
        raise RegistryError(f"mappings folder {mappings_dir} does not exist (CARTWH_MAPPINGS)")
    listing = mappings_dir / CANONICAL_CENTRES_FILE
    canonical: list[str] = []
    if listing.exists():
        try:
            data = plain_yaml(listing.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise RegistryError(f"{listing}: not valid YAML ({exc})") from None
        canonical = data.get("centres") or [] if isinstance(data, dict) else None
        if not isinstance(canonical, list) or not all(isinstance(c, str) for c in canonical):
            raise RegistryError(f"{listing}: write `centres: [code, ...]`")
    mapped = sorted(p.stem for p in mappings_dir.glob("*.yml") if p.name != listing.name)
    for code in [*canonical, *mapped]:
        if not CENTRE_CODE.match(code):
            raise RegistryError(
                f"{mappings_dir}: centre {code!r} is not a centre code "
                "(2-16 lower-case letters or digits)"
            )
    both = sorted(set(canonical) & set(mapped))
    if both:
        raise RegistryError(
            f"{listing}: {both} also have a mapping file; list a centre "
            "as canonical or give it a mapping file, not both"
        )
    if len(set(canonical)) != len(canonical):
        raise RegistryError(f"{listing}: a centre is listed twice")
    return CentreRegistry(mappings_dir, tuple(sorted(canonical)), tuple(mapped))
