"""Per-centre mapping files (``docs/mapping-files.md``).

A centre without a mapping file delivers the canonical layout; its mapping
is built from :mod:`models.extract_format` so that the loader and staging
have one code path for every centre.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cartwh.project import DEFAULT_MAPPINGS_DIR, unit_conversions
from models.extract_format import ENTITIES

CENTRE_CODE = re.compile(r"^[a-z0-9]{2,16}$")
DECIMAL_MARKS = (".", ",")
#: "none": numbers carry no thousands mark; any other mark must group whole thousands
THOUSANDS_MARKS = ("none", ".", ",", " ", "'")
YAML_HINT = (
    "YAML reads unquoted yes/no/true/false/on/off as booleans and digits as numbers: "
    'quote them, e.g. codes: {"yes": "yes", "1": m}'
)


class MappingError(ValueError):
    """A mapping file that cannot be used, with the file named in the message."""


def _check_date_format(value: str | None) -> str | None:
    if value is not None and value not in ("iso", "excel_serial") and "%" not in value:
        raise ValueError(
            f"date_format {value!r} is not iso, excel_serial or a strptime pattern "
            '(write e.g. "%d.%m.%Y" for dd.mm.yyyy)'
        )
    if value is not None and "%" in value:
        _check_strptime_pattern(value)
    return value


def _check_strptime_pattern(pattern: str) -> None:
    """Refuse a pattern DuckDB cannot parse here, not in every centre's staging at refresh."""
    reason = _strptime_problem(pattern)
    if reason is not None:
        raise ValueError(
            f"date_format {pattern!r} is not a valid strptime pattern ({reason}); "
            'write e.g. "%d.%m.%Y" for dd.mm.yyyy'
        )


@functools.lru_cache(maxsize=1024)
def _strptime_problem(pattern: str) -> str | None:
    """Asked once per pattern and process: a mapping repeats its few patterns on every column,
    and a DuckDB connection per question made reading the registry take seconds."""
    import duckdb

    literal = "'" + pattern.replace("'", "''") + "'"
    try:
        with duckdb.connect() as conn:
            conn.execute(f"select try_strptime('', {literal})").fetchall()
    except duckdb.Error as exc:
        return str(exc).split(":", 2)[-1].strip() or "not a strptime pattern"
    return None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FileSettings(_Strict):
    format: Literal["csv", "excel"] | None = None
    encoding: str | None = None
    separator: str | None = None
    quote: str | None = None
    header_row: int | None = Field(default=None, ge=1)
    decimal: Literal[".", ","] | None = None
    thousands: Literal["none", ".", ",", " ", "'"] | None = None
    date_format: str | None = None
    null_values: tuple[str, ...] | None = None

    @field_validator("date_format")
    @classmethod
    def _date_format(cls, value: str | None) -> str | None:
        return _check_date_format(value)

    @field_validator("encoding")
    @classmethod
    def _known_codec(cls, value: str | None) -> str | None:
        if value is not None:
            import codecs

            try:
                codecs.lookup(value)
            except LookupError as exc:
                raise ValueError(f"unknown encoding {value!r}") from exc
        return value


RESOLVED_DEFAULTS = FileSettings(
    format="csv",
    encoding="utf-8",
    separator=",",
    quote='"',
    header_row=1,
    decimal=".",
    thousands="none",
    date_format="iso",
    null_values=("",),
)


class ColumnMapping(_Strict):
    source: str | None = None
    value: str | None = None
    codes: dict[str, str] | None = None
    unit: str | None = None
    date_format: str | None = None
    decimal: Literal[".", ","] | None = None
    thousands: Literal["none", ".", ",", " ", "'"] | None = None

    @field_validator("date_format")
    @classmethod
    def _date_format(cls, value: str | None) -> str | None:
        return _check_date_format(value)

    @model_validator(mode="after")
    def _source_or_value(self) -> ColumnMapping:
        if (self.source is None) == (self.value is None):
            raise ValueError("give exactly one of 'source' or 'value'")
        return self


class WideSpec(_Strict):
    pattern: str
    day_origin: Literal["index_infusion"] = "index_infusion"

    @field_validator("pattern")
    @classmethod
    def _has_groups(cls, value: str) -> str:
        compiled = re.compile(value)
        if not {"measure", "day"} <= set(compiled.groupindex):
            raise ValueError("pattern needs the named groups 'measure' and 'day'")
        return value


class EntityMapping(FileSettings):
    file: str | None = None
    sheet: str | None = None
    wide: WideSpec | None = None
    columns: dict[str, ColumnMapping] = Field(default_factory=dict)

    @field_validator("columns", mode="before")
    @classmethod
    def _short_form(cls, value):
        if not isinstance(value, dict):
            return value
        return {k: ({"source": v} if isinstance(v, str) else v) for k, v in value.items()}


class CentreMapping(_Strict):
    centre_code: str
    mapping_version: Literal[1] = 1
    description: str = ""
    defaults: FileSettings = FileSettings()
    entities: dict[str, EntityMapping]
    canonical: bool = False

    @field_validator("centre_code")
    @classmethod
    def _code(cls, value: str) -> str:
        if not CENTRE_CODE.match(value):
            raise ValueError("centre_code must be 2-16 lower-case letters or digits")
        return value

    @model_validator(mode="after")
    def _known_names(self) -> CentreMapping:
        for entity_name, entity in self.entities.items():
            if entity_name not in ENTITIES:
                raise ValueError(f"unknown entity {entity_name!r}; known: {sorted(ENTITIES)}")
            known = set(ENTITIES[entity_name].column_names)
            unknown = sorted(set(entity.columns) - known)
            if unknown:
                raise ValueError(f"entity {entity_name}: unknown canonical columns {unknown}")
            settings = self.settings(entity_name)
            for column_name, column in entity.columns.items():
                canonical = ENTITIES[entity_name].column(column_name)
                where = f"entity {entity_name}, column {column_name}"
                if column.codes is not None and canonical.dtype != "code":
                    raise ValueError(
                        f"{where}: 'codes' is only for code columns, and {column_name} is "
                        f"{canonical.dtype}; remove codes (the trimmed text is used as it is)"
                    )
                if column.unit is not None:
                    self._check_unit(entity_name, column_name, column.unit)
                if settings.format == "excel" and (column.decimal or column.thousands):
                    raise ValueError(
                        f"{where}: decimal/thousands marks apply to CSV files only; Excel "
                        "numeric cells arrive as numbers (remove the setting)"
                    )
                targets = set(column.codes.values()) if column.codes else set()
                if column.value is not None and canonical.dtype == "code":
                    targets.add(column.value)
                stray = sorted(targets - set(canonical.codes)) if canonical.dtype == "code" else []
                if stray:
                    raise ValueError(
                        f"entity {entity_name}, column {column_name}: "
                        f"{stray} are not canonical codes {list(canonical.codes)}"
                    )
            id_column = entity.columns.get("centre_patient_id")
            if entity.wide and (id_column is None or id_column.source is None):
                raise ValueError(
                    f"entity {entity_name}: a wide entity needs the source column of "
                    "centre_patient_id (its rows are patients)"
                )
            if settings.format == "excel" and not entity.sheet:
                raise ValueError(f"entity {entity_name}: an excel entity needs 'sheet'")
            if settings.format == "excel" and (entity.decimal or entity.thousands):
                raise ValueError(
                    f"entity {entity_name}: decimal/thousands marks apply to CSV files only; "
                    "Excel numeric cells arrive as numbers (remove the setting)"
                )
            for column_name in entity.columns:
                decimal, thousands = self.number_marks(entity_name, column_name)
                if decimal == thousands:
                    raise ValueError(
                        f"entity {entity_name}, column {column_name}: decimal and thousands "
                        f"marks are both {decimal!r}; they must differ"
                    )
        return self

    def _check_unit(self, entity_name: str, column_name: str, unit: str) -> None:
        units = unit_conversions()
        if (column_name, unit) in units:
            return
        available = sorted(u for (c, u) in units if c == column_name)
        raise ValueError(
            f"centre {self.centre_code}, entity {entity_name}, column {column_name}: unit "
            f"{unit!r} has no conversion in the unit table "
            f"(dbt_project/seeds/unit_conversions.csv); units available for {column_name}: "
            + (", ".join(available) if available else "none (the column takes no unit)")
        )

    def number_marks(self, entity_name: str, column_name: str) -> tuple[str, str]:
        """(decimal, thousands) of one column: column > entity > defaults; Excel: ('.', 'none')."""
        settings = self.settings(entity_name)
        if settings.format == "excel":
            return ".", "none"
        column = self.entities[entity_name].columns.get(column_name)
        decimal = (column.decimal if column else None) or settings.decimal
        thousands = (column.thousands if column else None) or settings.thousands
        return decimal, thousands

    def settings(self, entity_name: str) -> FileSettings:
        """File-level settings of one entity: entity > defaults > canonical defaults."""
        entity = self.entities[entity_name]
        merged = {}
        for key in FileSettings.model_fields:
            for layer in (entity, self.defaults, RESOLVED_DEFAULTS):
                value = getattr(layer, key)
                if value is not None:
                    merged[key] = value
                    break
        if merged["format"] == "excel":  # numeric cells arrive as numbers: no marks apply
            merged.update(decimal=".", thousands="none")
        return FileSettings(**merged)

    def file_pattern(self, entity_name: str) -> str:
        entity = self.entities[entity_name]
        return entity.file or ENTITIES[entity_name].file_name


def canonical_mapping(centre_code: str) -> CentreMapping:
    """The mapping of a centre that delivers the canonical layout."""
    return CentreMapping(
        centre_code=centre_code,
        description="canonical extract format, version 1",
        canonical=True,
        entities={
            name: EntityMapping(columns={c: ColumnMapping(source=c) for c in e.column_names})
            for name, e in ENTITIES.items()
        },
    )


#: a mapping file is a page of YAML; anything much larger is not one (or is a YAML bomb)
MAX_MAPPING_FILE_BYTES = 1 << 20


class _NoAliasLoader(yaml.SafeLoader):
    """PyYAML's safe loader without anchors and aliases: a mapping file has no use for them,
    and a few nested aliases expand into billions of values (a "billion laughs" YAML bomb)
    once pydantic walks them."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None,
                None,
                f"an alias (*{event.anchor}): anchors and aliases are not allowed, "
                "write the values out",
                event.start_mark,
            )
        event = self.peek_event()
        if getattr(event, "anchor", None) is not None:
            raise yaml.composer.ComposerError(
                None,
                None,
                f"an anchor (&{event.anchor}): anchors and aliases are not allowed, "
                "write the values out",
                event.start_mark,
            )
        return super().compose_node(parent, index)


def plain_yaml(text: str):
    """``text`` read as plain YAML: no tags (``!!python/...``), no anchors or aliases.

    Raises
    ------
    yaml.YAMLError
        Anything else, with the line and column.
    """
    return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """A YAML error on one line: where, and what (PyYAML's own text spans several lines)."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: "
        return where + " ".join(f"{exc.context or ''} {exc.problem or ''}".split())
    return " ".join(str(exc).split())


def load_mapping_file(path: Path) -> CentreMapping:
    """Read and validate a mapping file; any problem is one :class:`MappingError` line."""
    try:
        if path.stat().st_size > MAX_MAPPING_FILE_BYTES:
            raise MappingError(
                f"mapping file {path}: larger than {MAX_MAPPING_FILE_BYTES} bytes; "
                "a mapping file is a page of YAML"
            )
        data = plain_yaml(path.read_text(encoding="utf-8"))
        mapping = CentreMapping.model_validate(data)
    except MappingError:
        raise
    except ValidationError as exc:
        raise MappingError(f"mapping file {path}: {_problems(exc)}") from None
    except yaml.YAMLError as exc:
        raise MappingError(
            f"mapping file {path}: not valid YAML ({_yaml_problem(exc)}); "
            "plain YAML only (no tags such as !!python, no anchors or aliases)"
        ) from None
    except (OSError, ValueError) as exc:
        raise MappingError(f"mapping file {path}: {' '.join(str(exc).split())}") from None
    if mapping.centre_code != path.stem:
        raise MappingError(
            f"mapping file {path}: centre_code {mapping.centre_code!r} "
            f"does not match the file name {path.stem!r}"
        )
    return mapping


def _problem(error) -> str:
    loc = [str(p) for p in error["loc"]]
    what = "value"
    if loc and loc[-1] == "[key]":
        loc, what = loc[:-2], "key"
    message = error["msg"].removeprefix("Value error, ")
    value = error.get("input")
    if error["type"] == "string_type":
        message = f"the {what} {value!r} is not text: {YAML_HINT}"
    elif error["type"] == "literal_error" and isinstance(value, (bool, int, float)):
        message += f" (got {value!r}, not text: {YAML_HINT})"
    return f"{'.'.join(loc)}: {message}" if loc else message


def _problems(exc: ValidationError) -> str:
    return "; ".join(dict.fromkeys(_problem(error) for error in exc.errors()))


def mapping_for(centre_code: str, mappings_dir: Path | None = None) -> CentreMapping:
    """The mapping of one centre: its file if it has one, the canonical layout otherwise."""
    path = (mappings_dir or DEFAULT_MAPPINGS_DIR) / f"{centre_code}.yml"
    if path.exists():
        return load_mapping_file(path)
    return canonical_mapping(centre_code)
