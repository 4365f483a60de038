"""What the Dagster UI's catalogue says: the asset groups, one per layer of the warehouse (who
owns each, what it holds, whether it holds identifying data, PHI), and dbt tests in words.

Dagster 1.13 has no description for a group (its GraphQL ``AssetGroup`` has a name and asset
keys only), so each asset carries its layer's description as metadata (``layer``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dagster import MetadataValue

DATA_MANAGEMENT = "team:data-management"
BIOSTATISTICS = "team:biostatistics"
STAGING_MODEL = re.compile(r"^stg_(?P<centre>[a-z0-9]+)__")
REF = re.compile(r"ref\(\s*['\"]([^'\"]+)['\"]\s*\)")
JINJA_COMMENT = re.compile(r"\{#(.*?)#\}", re.S)


@dataclass(frozen=True)
class Layer:
    name: str
    description: str
    owner: str
    phi: bool

    def tags(self, **extra: str) -> dict[str, str]:
        return {"layer": self.name, "phi": "true" if self.phi else "false", **extra}

    def metadata(self) -> dict[str, MetadataValue]:
        return {"layer": MetadataValue.text(f"{self.name}: {self.description}")}

    def spec_kwargs(self, **tags: str) -> dict:
        """The group, owners, tags and layer metadata of an asset of this layer."""
        return {
            "group_name": self.name,
            "owners": [self.owner],
            "tags": self.tags(**tags),
            "metadata": self.metadata(),
        }


LAYERS = {
    layer.name: layer
    for layer in (
        Layer(
            "raw",
            "every delivery of every centre as it was sent (all text), the delivery ledger and "
            "the landing-area scan; identifying data",
            DATA_MANAGEMENT,
            phi=True,
        ),
        Layer(
            "staging",
            "one model per centre and entity, from the centre's mapping file: canonical "
            "columns, codes and units; identifying data stops here",
            DATA_MANAGEMENT,
            phi=True,
        ),
        Layer(
            "intermediate",
            "all centres unioned and pseudonymised (patient_key), the quality gate, ASTCT "
            "grading, treatments, response and survival endpoints",
            DATA_MANAGEMENT,
            phi=False,
        ),
        Layer(
            "mart",
            "the analysis-ready tables (patient_outcomes, daily_toxicity, time_to_event, "
            "cohort_flow, cohort_exclusions, grade_concordance, and for the robustness "
            "analyses patient_exposures and exposure_intervals); pseudonymous, no calendar "
            "dates",
            DATA_MANAGEMENT,
            phi=False,
        ),
        Layer(
            "restricted",
            "the only tables where a centre's patient ids and the patient_key meet (crosswalk, "
            "queries back to the centres); restricted access",
            DATA_MANAGEMENT,
            phi=True,
        ),
        Layer(
            "quality",
            "quarantine, nulled fields, reconciliation, check results, great-expectations "
            "Data Docs and the query files for the centres",
            DATA_MANAGEMENT,
            phi=False,
        ),
        Layer(
            "reference",
            "seeds: the check catalogue, unit conversions and drug classes",
            DATA_MANAGEMENT,
            phi=False,
        ),
        Layer(
            "analysis",
            "the study's statistics (tables in schema analysis and CSV), built aside and "
            "published by the last step",
            BIOSTATISTICS,
            phi=False,
        ),
        Layer(
            "report",
            "figures, the self-contained report.html, and the step that publishes a complete "
            "refresh",
            BIOSTATISTICS,
            phi=False,
        ),
    )
}


def staging_centre(model: str) -> str | None:
    """The centre of a generated staging model (stg_<centre>__<entity>)."""
    match = STAGING_MODEL.match(model)
    return match["centre"] if match else None


def describe_dbt_test(test: Mapping[str, Any], model: str) -> str:
    """A dbt test in words: its own description if it has one, else what the generic test
    asserts (not_null, unique, accepted_values, ...) or the comment heading a singular test;
    then whether a failure stops the assets downstream."""
    severity = (test.get("config", {}).get("severity") or "error").lower()
    effect = (
        "A failure stops the assets downstream."
        if severity == "error"
        else "A failure is a warning; nothing downstream stops."
    )
    text = (test.get("description") or "").strip() or _generic_test_text(test, model)
    return f"{' '.join(text.split())} {effect}"


def _generic_test_text(test: Mapping[str, Any], model: str) -> str:
    generic = test.get("test_metadata") or {}
    kwargs = generic.get("kwargs", {})
    column = f"{model}.{kwargs.get('column_name')}"
    match generic.get("name"):
        case "not_null":
            return f"{column} is never missing."
        case "unique":
            return f"{column} is unique: no two rows share a value."
        case "accepted_values":
            values = ", ".join(str(v) for v in kwargs.get("values", []))
            return f"{column} takes only the values: {values}."
        case "relationships":
            target = REF.search(str(kwargs.get("to", "")))
            table = target[1] if target else kwargs.get("to")
            return f"Every {column} is found in {table}.{kwargs.get('field')}."
        case "unique_combination":
            return f"No two rows of {model} share ({', '.join(kwargs.get('columns', []))})."
        case "expression_is_true":
            return f"Every row of {model} satisfies: {kwargs.get('expression')}."
        case None:
            comment = JINJA_COMMENT.search(test.get("raw_code", ""))
            lines = [
                line
                for line in (comment[1] if comment else "").splitlines()
                if "depends_on" not in line and "ref(" not in line
            ]
            text = " ".join(" ".join(lines).split())
            return text or f"The singular test {test.get('original_file_path')} returns no rows."
        case name:
            return f"dbt test {name} on {model} ({kwargs})."
