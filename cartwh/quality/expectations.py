"""great-expectations suites on the mart, and Data Docs that render offline.

These suites hold what is true of the cohort rather than of each row: distributions
(medians, means, proportions, "mostly" ranges) and cross-patient plausibility (ICANS
usually after CRS, plausible dose and follow-up bounds). Row-level rules live elsewhere and are
not repeated here: types, ranges and code lists in the pandera contract of the mart
(``models/patient_outcomes.py``), one-row invariants, keys and code lists as dbt tests beside
the mart models (``docs/quality-checks.md``). A failed expectation is a warning, never
blocking. Windows come from the study parameters (``cartwh.parameters``).

Data Docs are built into ``<output>/data_docs`` and their CDN assets are replaced by vendored
copies (``vendor/data_docs``, see scripts/vendor_data_docs_assets.sh), so they render styled
without internet access.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from cartwh.project import VENDOR_DIR
from cartwh.warehouse import quoted_name

DATA_DOCS_VENDOR_DIR = VENDOR_DIR / "data_docs"

CDN_ASSETS = {
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "bootstrap/bootstrap.min.css",  # noqa: E501
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "bootstrap/bootstrap.min.js",  # noqa: E501
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": "fontawesome/css/all.min.css",  # noqa: E501
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": "bootstrap-table/bootstrap-table.min.css",  # noqa: E501
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": "bootstrap-table/bootstrap-table.min.js",  # noqa: E501
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css": "bootstrap-table/bootstrap-table-filter-control.min.css",  # noqa: E501
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css": "bootstrap-table/bootstrap-table-filter-control.min.css",  # noqa: E501
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js": "bootstrap-table/bootstrap-table-filter-control.min.js",  # noqa: E501
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": "popper/popper.min.js",  # noqa: E501
    "https://cdn.jsdelivr.net/npm/vega@5": "vega/vega.min.js",
    "https://cdn.jsdelivr.net/npm/vega-lite@5": "vega/vega-lite.min.js",
    "https://cdn.jsdelivr.net/npm/vega-embed@6": "vega/vega-embed.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css": "datepicker/bootstrap-datepicker.min.css",  # noqa: E501
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js": "datepicker/bootstrap-datepicker.min.js",  # noqa: E501
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css": "bootstrap-dark/bootstrap-prefers-dark.css",  # noqa: E501
}
_REMOTE_ASSET = re.compile(
    r"""<(?:script|link|img)\b[^>]*\b(?:src|href)=["'](https?://[^"']+)["']"""
)
_REMOTE_LOGO = re.compile(r'"https://great-expectations-web-assets[^"]*/([\w-]+\.png)[^"]*"')


@dataclass
class SuiteResult:
    suite: str
    table: str
    rows: int
    evaluated: int
    successful: int
    failed: list[dict] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return not self.failed


#: a patient's maximum ASTCT grade: 0-4, or 5 for a death from the toxicity (clinical-rules.md);
#: the same list as the accepted_values of mart.patient_outcomes (a test compares them)
MAX_GRADES = (0, 1, 2, 3, 4, 5)


def _suites(gxe, parameters) -> dict[str, tuple[str, list]]:
    """Suite name -> (mart table, expectations), for the study parameters given."""
    between = gxe.ExpectColumnValuesToBeBetween
    return {
        "patient_outcomes": (
            "mart.patient_outcomes",
            [
                gxe.ExpectTableRowCountToBeBetween(min_value=1),
                gxe.ExpectColumnValuesToNotBeNull(column="os_days", mostly=0.99),
                between(column="age_at_infusion", min_value=1, max_value=90, mostly=0.99),
                gxe.ExpectColumnMedianToBeBetween(
                    column="cell_dose_per_kg", min_value=1e5, max_value=1e7
                ),
                *(
                    gxe.ExpectColumnValuesToBeInSet(column=column, value_set=list(MAX_GRADES))
                    for column in ("crs_max_grade", "icans_max_grade")
                ),
                between(column="crs_onset_day", min_value=0, max_value=14, mostly=0.95),
                gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                    column_A="icans_onset_day",
                    column_B="crs_onset_day",
                    or_equal=True,
                    mostly=0.8,
                    ignore_row_if="either_value_is_missing",
                ),
                gxe.ExpectColumnMedianToBeBetween(
                    column="peak_il6_pg_ml", min_value=1, max_value=10000
                ),
                between(column="steroid_dex_equiv_mg", min_value=0, max_value=2000, mostly=0.99),
                between(column="tocilizumab_total_mg", min_value=0, max_value=3200),
                gxe.ExpectColumnMeanToBeBetween(column="os_event", min_value=0.05, max_value=0.95),
            ],
        ),
        "time_to_event": (
            "mart.time_to_event",
            [
                between(column="aval_days", min_value=0, max_value=7300),
            ],
        ),
        "daily_toxicity": (
            "mart.daily_toxicity",
            [
                between(column="study_day", min_value=0, max_value=parameters.toxicity_window_days),
                gxe.ExpectColumnMeanToBeBetween(column="crs_grade", min_value=0, max_value=2),
            ],
        ),
    }


#: the arguments of an expectation that name its columns
COLUMN_ARGUMENTS = ("column", "column_A", "column_B", "column_list")


def columns_named(expectations) -> list[str] | None:
    """The columns that a suite's expectations name, in order: the suite reads only these (a row
    per patient-day is 3 M rows at 100,000 patients). None when an expectation looks at the
    whole table (row count, column set)."""
    names: list[str] = []
    for expectation in expectations:
        arguments = expectation.configuration.kwargs
        named = [arguments[k] for k in COLUMN_ARGUMENTS if k in arguments]
        if not named:
            return None
        for value in named:
            names += value if isinstance(value, list) else [value]
    return list(dict.fromkeys(names))


def validate_mart(
    conn: duckdb.DuckDBPyConnection, docs_dir: Path, parameters=None
) -> list[SuiteResult]:
    """Run the suites on the mart tables and (re)build offline Data Docs in ``docs_dir``.

    ``parameters``: the study parameters the suites use (default: the declared ones,
    ``cartwh.parameters.study_parameters()``).
    """
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.data_context.types.base import ProgressBarsConfig

    if parameters is None:
        from cartwh.parameters import study_parameters

        parameters = study_parameters()

    if docs_dir.exists():
        shutil.rmtree(docs_dir)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    context.add_data_docs_site(
        site_name="cartwh",
        site_config={
            "class_name": "SiteBuilder",
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(docs_dir),
            },
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    source = context.data_sources.add_pandas("mart")
    results = []
    for name, (table, expectations) in _suites(gxe, parameters).items():
        named = columns_named(expectations)
        read = ", ".join(map(quoted_name, named)) if named else "*"
        frame = conn.execute(f"select {read} from {table}").df()
        batch = source.add_dataframe_asset(name).add_batch_definition_whole_dataframe("all rows")
        suite = context.suites.add(gx.ExpectationSuite(name=name))
        for expectation in expectations:
            suite.add_expectation(expectation)
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=name, data=batch, suite=suite)
        )
        outcome = definition.run(batch_parameters={"dataframe": frame})
        failed = [
            {
                "expectation": r.expectation_config.type,
                "column": r.expectation_config.kwargs.get("column")
                or r.expectation_config.kwargs.get("column_A"),
                "observed": str(r.result.get("observed_value", r.result.get("unexpected_count"))),
            }
            for r in outcome.results
            if not r.success
        ]
        stats = outcome.statistics
        results.append(
            SuiteResult(
                name,
                table,
                len(frame),
                stats["evaluated_expectations"],
                stats["successful_expectations"],
                failed,
            )
        )
    context.build_data_docs(site_names=["cartwh"])
    make_offline(docs_dir)
    return results


def make_offline(docs_dir: Path) -> None:
    """Point every CDN asset of the docs at a vendored copy; fail on any remaining remote one."""
    import great_expectations

    target = docs_dir / "static" / "vendor"
    shutil.copytree(DATA_DOCS_VENDOR_DIR, target, dirs_exist_ok=True)
    package_images = (
        Path(great_expectations.__file__).parent / "render" / "view" / "static" / "images"
    )
    shutil.copytree(package_images, docs_dir / "static" / "images", dirs_exist_ok=True)
    for page in docs_dir.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        prefix = "/".join([".."] * (len(page.relative_to(docs_dir).parts) - 1)) or "."
        for url, local in CDN_ASSETS.items():
            html = html.replace(f'"{url}"', f'"{prefix}/static/vendor/{local}"')
        html = re.sub(r'\s(?:integrity|crossorigin)="[^"]*"', "", html)
        html = _REMOTE_LOGO.sub(
            lambda m, prefix=prefix: f'"{prefix}/static/images/{m.group(1)}"', html
        )
        remote = _REMOTE_ASSET.findall(html)
        if remote:
            raise RuntimeError(
                f"{page}: assets still loaded from the network: {sorted(set(remote))}"
            )
        page.write_text(html, encoding="utf-8")
