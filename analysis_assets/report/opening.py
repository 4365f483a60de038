"""The report's opening (title, cut-off, deliveries used, code version, cohort summary) and
its closing provenance table."""

from __future__ import annotations

from analysis_assets.formatting import format_date
from analysis_assets.report.common import ReportInputs, escape

__all__ = ["TITLE", "FINGERPRINT_PREFIX", "header_section", "provenance_section"]

TITLE = "CAR-T toxicity and outcome study: results"
#: characters of a delivery's sha256 fingerprint shown in the opening (the whole one is in
#: the provenance table at the end)
FINGERPRINT_PREFIX = 12


def _deliveries_table(inputs: ReportInputs) -> str:
    rows = "".join(
        f"<tr><td>{escape(d.centre_code)}</td><td>{escape(d.delivery_id)}</td>"
        f"<td><code>{escape(d.fingerprint[:FINGERPRINT_PREFIX])}</code></td>"
        f'<td class="num">{d.files:,}</td><td class="num">{d.rows:,}</td></tr>'
        for d in inputs.provenance.deliveries
    )
    return (
        '<table id="deliveries"><thead><tr><th>Centre</th><th>Delivery</th>'
        "<th>sha256 (prefix)</th><th>Files</th><th>Rows</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def _cohort_summary(inputs: ReportInputs) -> list[str]:
    if not inputs.provenance.intake:
        return []
    first, *centres = inputs.provenance.intake
    items = "".join(f"<li>{escape(line)}</li>" for line in centres)
    return [f'<h3>Data received</h3><p class="intake">{escape(first)}.</p><ul>{items}</ul>']


def header_section(inputs: ReportInputs) -> list[str]:
    """Title, data cut-off, the deliveries used, the code version and the cohort summary."""
    parts = [f"<h1>{escape(TITLE)}</h1>"]
    provenance = inputs.provenance
    if provenance is None:
        return parts
    parts += [
        f"<p>Data cut-off: {escape(provenance.cutoff.isoformat())}.</p>",
        f'<p class="meta">Results as of the cut-off date ({escape(format_date(provenance.cutoff))})'
        f", from the deliveries below; code version {escape(provenance.code_version)}.</p>",
        "<h3>Deliveries used</h3>",
        _deliveries_table(inputs),
    ]
    return parts + _cohort_summary(inputs)


def provenance_section(inputs: ReportInputs) -> list[str]:
    """Cut-off, deliveries used (whole fingerprints), code version, run and time, as a table."""
    if inputs.provenance is None:
        return []
    parts = ['<h2>Provenance</h2><table class="prov"><tbody>']
    for heading, lines in inputs.provenance.rows():
        shown = "<br>".join(escape(line) for line in lines)
        parts.append(f"<tr><td>{escape(heading)}</td><td>{shown}</td></tr>")
    parts.append("</tbody></table>")
    return parts
