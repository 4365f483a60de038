"""The demo's published tables are what they were before the refactoring of issue 8.

The reference (tests/reference/demo_content_hashes.json) was written by
``python -m tests.content_hash <warehouse> --write ...`` on the demo warehouse built by the
code before the refactoring. A deliberate change of the output updates it in the same commit,
with the reason in the commit message.
"""

from __future__ import annotations

import json

from tests.content_hash import REFERENCE, content_hashes


def test_demo_tables_unchanged(demo):
    expected = json.loads(REFERENCE.read_text(encoding="utf-8"))
    actual = content_hashes(demo.warehouse)
    assert sorted(actual) == sorted(expected), "the set of published tables changed"
    changed = sorted(t for t in expected if actual[t] != expected[t])
    assert not changed, f"content changed: {changed}"


def test_each_refresh_records_the_hashes_of_what_it_published(demo):
    from cartwh.content_hash import content_digest
    from cartwh.history import recorded_digest

    with demo.connect() as conn:
        [(run_id,)] = conn.execute("select distinct run_id from analysis.provenance").fetchall()
        recorded = dict(
            conn.execute(
                "select table_name, content_hash from history.content_hashes "
                "where run_id = ? and table_name <> '*'",
                [run_id],
            ).fetchall()
        )
        digest = recorded_digest(conn, run_id)
    assert recorded == content_hashes(demo.warehouse)
    assert digest == content_digest(recorded)


def test_the_hash_ignores_row_order_and_float_noise_but_not_a_changed_value(tmp_path):
    import duckdb

    from cartwh.content_hash import content_hashes as hashes_of

    def hashed(rows: str) -> str:
        with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
            conn.execute("create schema if not exists mart")
            conn.execute(f"create or replace table mart.t as select * from (values {rows}) v(a, x)")
            return hashes_of(conn, ("mart",))["mart.t"]

    first = hashed("('p1', 0.1 + 0.2), ('p2', null), ('p2', null)")
    assert hashed("('p2', null), ('p1', 0.3), ('p2', null)") == first  # order, 13th digit
    assert hashed("('p1', 0.3), ('p2', null)") != first  # a duplicate row counts
    assert hashed("('p1', 0.3000001), ('p2', null), ('p2', null)") != first
