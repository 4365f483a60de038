"""The study's parameters are declared once: the vars of dbt_project.yml.

dbt models, macros and tests read them as ``var(name)`` without an inline default (a default
would be a second declaration that can go stale), and the Python contracts read the same
values through ``cartwh.parameters.study_parameters()``.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import yaml

from cartwh.parameters import study_parameters
from models.patient_outcomes import PatientOutcomes

DBT_PROJECT = Path(__file__).resolve().parent.parent / "dbt_project"
DBT_SOURCES = ("models", "macros", "tests", "analyses", "snapshots", "seeds")
VAR_CALL = re.compile(r"\bvar\s*\(")


def _dbt_files() -> list[Path]:
    return sorted(
        path
        for folder in DBT_SOURCES
        for path in (DBT_PROJECT / folder).rglob("*")
        if path.suffix in (".sql", ".yml", ".yaml") and path.is_file()
    )


def _var_calls(text: str) -> list[tuple[int, list[str]]]:
    """(line, arguments) of every ``var(...)`` call, arguments split at top-level commas."""
    calls = []
    for match in VAR_CALL.finditer(text):
        depth, quote, arguments, current = 1, None, [], ""
        for char in text[match.end() :]:
            if quote:
                quote = None if char == quote else quote
            elif char in "'\"":
                quote = char
            elif char in "([{":
                depth += 1
            elif char in ")]}":
                depth -= 1
                if depth == 0:
                    break
            elif char == "," and depth == 1:
                arguments.append(current.strip())
                current = ""
                continue
            current += char
        arguments.append(current.strip())
        calls.append((text.count("\n", 0, match.start()) + 1, arguments))
    return calls


def test_the_scanner_sees_a_default():
    assert _var_calls("{{ var('a') }} {{ var(\"b\", 'x,y') }}\n{{ var('c', f(1, 2)) }}") == [
        (1, ["'a'"]),
        (1, ['"b"', "'x,y'"]),
        (2, ["'c'", "f(1, 2)"]),
    ]


def test_no_var_has_an_inline_default():
    files = _dbt_files()
    assert len(files) > 50
    defaults = [
        f"{path.relative_to(DBT_PROJECT)}:{line}: var({', '.join(arguments)})"
        for path in files
        for line, arguments in _var_calls(path.read_text(encoding="utf-8"))
        if len(arguments) > 1
    ]
    assert not defaults, "declare study parameters once, in dbt_project.yml vars:\n" + "\n".join(
        defaults
    )


def test_every_var_used_is_declared():
    declared = set(yaml.safe_load((DBT_PROJECT / "dbt_project.yml").read_text())["vars"])
    used = {
        arguments[0].strip("'\"")
        for path in _dbt_files()
        for _, arguments in _var_calls(path.read_text(encoding="utf-8"))
    }
    assert used and used <= declared, sorted(used - declared)


def test_the_cut_off_is_read_through_one_macro():
    """Models use cutoff_date(); only the macro reads var('cutoff') to compute with it."""
    readers = [
        str(path.relative_to(DBT_PROJECT))
        for path in _dbt_files()
        if path.suffix == ".sql"
        and any(
            arguments[0].strip("'\"") == "cutoff"
            for _, arguments in _var_calls(_without_comments(path.read_text(encoding="utf-8")))
        )
    ]
    assert readers == ["macros/clinical/codes.sql"]


def _without_comments(sql: str) -> str:
    return re.sub(r"\{#.*?#\}", "", sql, flags=re.DOTALL)


def test_python_reads_every_declared_parameter():
    declared = yaml.safe_load((DBT_PROJECT / "dbt_project.yml").read_text())["vars"]
    values = dataclasses.asdict(study_parameters())
    values["cutoff"] = values["cutoff"].isoformat()
    assert values == declared


def test_the_mart_contract_takes_the_response_window_from_the_parameters():
    parameters = study_parameters()
    statistics = {}
    for check in PatientOutcomes.to_schema().columns["cr_day"].checks:
        statistics.update(check.statistics)
    assert statistics == {
        "min_value": parameters.response_window_first_day,
        "max_value": parameters.response_window_last_day,
    }
