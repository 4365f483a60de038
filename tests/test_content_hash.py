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
