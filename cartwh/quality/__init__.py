"""The quality layer's Python side: reading its results (for the CLI and the asset checks),
the great-expectations suites of the mart, and the query files sent back to the centres.
The rules themselves live in dbt and the pandera contracts: see docs/quality-checks.md."""
