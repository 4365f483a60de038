"""Small-cell suppression of aggregate counts: primary and complementary, audited by linear
programming (plain functions, no Dagster).

A *problem* is a set of count cells (any hashable key -> non-negative integer) and the linear
relations between them that a reader can use: ``total = sum(members)`` (a row and its total, a
flow step and its parent, groups and the overall column). A cell may be ``hidden``: not
printed, but derivable (the non-responders of a printed rate, the patients left out of a
comparison); hidden cells take part in the relations like printed ones and cost nothing to
suppress.

Rules (:func:`suppress`):

* **primary**: a count from 1 to ``threshold - 1`` is suppressed (printed ``<threshold``);
  0 is shown;
* **complementary**: every relation holding exactly one suppressed cell gets a second one, the
  cheapest candidate (hidden cells first, then the smallest count); candidates are counts of
  at least ``threshold`` (a zero protects nothing: it is often structural), iterated to a
  fixed point;
* **audit**: an attacker knows every shown cell, every relation, that counts are
  non-negative, that a ``<threshold`` cell lies in 1..threshold-1 and that a complementary
  cell (printed :data:`COMPLEMENTARY_MARK`) is at least ``threshold``. For each primary cell
  the audit minimises and maximises it by linear programming under exactly that knowledge; a
  cell whose minimum equals its maximum is exactly recoverable, and one more cell of its
  relations is suppressed, until no primary cell is recoverable.

Protection criterion (tested by ``tests/test_disclosure.py`` with an independent attacker):
**no primary-suppressed cell is exactly recoverable** — its feasible interval under the
attacker's knowledge above holds at least two integers. The ``<threshold`` label already says
the cell is in 1..threshold-1; the criterion is that nothing printed narrows it to one value
(for two-way tables with margins the constraint matrix is totally unimodular, so the linear
programme's bounds are attained by integer tables and the interval is exact).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import linprog

__all__ = [
    "COMPLEMENTARY_MARK",
    "Relation",
    "SuppressionResult",
    "primary_label",
    "suppress",
    "suppress_table",
    "feasible_intervals",
]

#: how a complementary-suppressed count is printed (it is not small: only withheld)
COMPLEMENTARY_MARK = "*"
Key = Hashable


def primary_label(threshold: int) -> str:
    """``<5``: how a count from 1 to ``threshold - 1`` is printed."""
    return f"<{threshold}"


@dataclass(frozen=True)
class Relation:
    """``total = sum(members)``, as a reader can use it."""

    total: Key
    members: tuple[Key, ...]

    def cells(self) -> tuple[Key, ...]:
        return (self.total, *self.members)


@dataclass
class SuppressionResult:
    """Which cells are withheld, and why."""

    threshold: int
    primary: set[Key] = field(default_factory=set)
    complementary: set[Key] = field(default_factory=set)

    @property
    def suppressed(self) -> set[Key]:
        return self.primary | self.complementary

    def label(self, key: Key, value) -> str:
        """The printed text of a count: the number, ``<threshold`` or the complementary mark."""
        if key in self.primary:
            return primary_label(self.threshold)
        if key in self.complementary:
            return COMPLEMENTARY_MARK
        return f"{int(value)}"


def _check(values: dict[Key, int], relations: list[Relation], threshold: int) -> None:
    if threshold < 1:
        raise ValueError(f"threshold must be 1 or more, not {threshold}")
    for relation in relations:
        unknown = [k for k in relation.cells() if k not in values]
        if unknown:
            raise ValueError(f"relation names cells without a value: {unknown}")
        if values[relation.total] != sum(values[m] for m in relation.members):
            raise ValueError(f"relation does not hold: {relation}")
    negative = [k for k, v in values.items() if v < 0]
    if negative:
        raise ValueError(f"negative counts: {negative}")


def _cheapest(
    cells: Iterable[Key],
    values: dict[Key, int],
    hidden: set[Key],
    degree: dict[Key, int],
    result: SuppressionResult,
) -> Key | None:
    """The cheapest not yet suppressed candidate (a count of at least the threshold): hidden
    first, then the cell in the fewest relations (withholding a group size or a total spreads
    through every relation it is in), then the smallest count, then the key's text."""
    candidates = [k for k in cells if k not in result.suppressed and values[k] >= result.threshold]
    if not candidates:
        return None
    return min(candidates, key=lambda k: (k not in hidden, degree.get(k, 0), values[k], repr(k)))


def _complete_relations(
    values: dict[Key, int],
    relations: list[Relation],
    hidden: set[Key],
    degree: dict[Key, int],
    result: SuppressionResult,
) -> None:
    """Suppress a second cell in every relation holding exactly one, to a fixed point."""
    changed = True
    while changed:
        changed = False
        for relation in relations:
            cells = relation.cells()
            if sum(k in result.suppressed for k in cells) == 1:
                extra = _cheapest(cells, values, hidden, degree, result)
                if extra is not None:
                    result.complementary.add(extra)
                    changed = True


def feasible_intervals(
    values: dict[Key, int],
    relations: list[Relation],
    shown: set[Key],
    bounds: dict[Key, tuple[float, float | None]],
    targets: Iterable[Key],
) -> dict[Key, tuple[float, float]]:
    """The smallest and largest value of each target an attacker can infer.

    Parameters
    ----------
    values : dict
        Every cell's true value (read for the shown cells only).
    relations : list of Relation
    shown : set
        Cells the attacker reads; every other cell of a relation is an unknown.
    bounds : dict of key -> (lower, upper or None)
        What the attacker knows of an unknown (default 0..unbounded).
    targets : iterable of keys
        Unknown cells to bound.

    Returns
    -------
    dict of key -> (minimum, maximum)
        By linear programming (HiGHS); ``inf`` when unbounded.
    """
    unknown = sorted(
        {k for r in relations for k in r.cells() if k not in shown} | set(targets), key=repr
    )
    index = {k: i for i, k in enumerate(unknown)}
    rows, rhs = [], []
    for relation in relations:
        row = np.zeros(len(unknown))
        constant = 0.0
        for key, sign in [(relation.total, -1.0)] + [(m, 1.0) for m in relation.members]:
            if key in index:
                row[index[key]] += sign
            else:
                constant += sign * values[key]
        if row.any():
            rows.append(row)
            rhs.append(-constant)
    a_eq = np.array(rows) if rows else None
    b_eq = np.array(rhs) if rows else None
    box = [bounds.get(k, (0, None)) for k in unknown]
    out = {}
    for key in targets:
        c = np.zeros(len(unknown))
        c[index[key]] = 1.0
        low = linprog(c, A_eq=a_eq, b_eq=b_eq, bounds=box, method="highs")
        high = linprog(-c, A_eq=a_eq, b_eq=b_eq, bounds=box, method="highs")
        if low.status != 0 and high.status != 0:
            raise RuntimeError(f"the attacker's programme has no solution: {low.message}")
        out[key] = (
            low.fun if low.status == 0 else -np.inf,
            -high.fun if high.status == 0 else np.inf,
        )
    return out


def attacker_bounds(result: SuppressionResult) -> dict[Key, tuple[float, float | None]]:
    """What the printed labels tell: ``<t`` is 1..t-1, the complementary mark at least t."""
    bounds: dict[Key, tuple[float, float | None]] = {
        k: (1, result.threshold - 1) for k in result.primary
    }
    bounds.update({k: (result.threshold, None) for k in result.complementary})
    return bounds


def _recoverable(
    values: dict[Key, int], relations: list[Relation], hidden: set[Key], result: SuppressionResult
) -> list[Key]:
    shown = set(values) - result.suppressed - hidden
    targets = [
        k for k in sorted(result.primary, key=repr) if any(k in r.cells() for r in relations)
    ]
    intervals = feasible_intervals(values, relations, shown, attacker_bounds(result), targets)
    return [k for k, (low, high) in intervals.items() if high - low < 0.5]


def suppress(
    values: dict[Key, int],
    relations: Iterable[Relation] = (),
    threshold: int = 5,
    hidden: Iterable[Key] = (),
) -> SuppressionResult:
    """Primary and complementary suppression of ``values`` (see the module's docstring).

    Parameters
    ----------
    values : dict of key -> int
        Every count, printed or hidden.
    relations : iterable of Relation
        Every ``total = sum(members)`` a reader can use (across tables too: a key shared by
        two tables is one cell).
    threshold : int
        Counts from 1 to ``threshold - 1`` are suppressed.
    hidden : iterable of keys
        Cells not printed but derivable.

    Returns
    -------
    SuppressionResult
    """
    values = {k: int(v) for k, v in values.items()}
    relations = list(relations)
    hidden = set(hidden)
    _check(values, relations, threshold)
    result = SuppressionResult(
        threshold, primary={k for k, v in values.items() if 1 <= v < threshold}
    )
    degree: dict[Key, int] = {}
    for relation in relations:
        for key in relation.cells():
            degree[key] = degree.get(key, 0) + 1
    _complete_relations(values, relations, hidden, degree, result)
    while True:
        pinned = _recoverable(values, relations, hidden, result)
        if not pinned:
            return result
        key = pinned[0]
        around = [r for r in relations if key in r.cells()]
        extra = _cheapest([k for r in around for k in r.cells()], values, hidden, degree, result)
        if extra is None:  # its own relations are spent: the cheapest cell of any relation
            every = [k for r in relations for k in r.cells()]
            extra = _cheapest(every, values, hidden, degree, result)
        if extra is None:
            raise RuntimeError(f"cannot protect cell {key!r}: nothing left to suppress")
        result.complementary.add(extra)
        _complete_relations(values, relations, hidden, degree, result)


def table_problem(
    table: pd.DataFrame, row_total: str | None = None, column_total: str | None = None
) -> tuple[dict[Key, int], list[Relation]]:
    """The cells ``(row, column)`` of a count table and its row/column total relations.

    ``row_total`` names the column holding each row's total (it sums the other columns),
    ``column_total`` the row (index label) holding each column's total.
    """
    values = {(r, c): int(table.at[r, c]) for r in table.index for c in table.columns}
    relations = []
    inner_rows = [r for r in table.index if r != column_total]
    inner_columns = [c for c in table.columns if c != row_total]
    if row_total is not None:
        relations += [
            Relation((r, row_total), tuple((r, c) for c in inner_columns)) for r in table.index
        ]
    if column_total is not None:
        relations += [
            Relation((column_total, c), tuple((r, c) for r in inner_rows)) for c in table.columns
        ]
    return values, relations


def suppress_table(
    table: pd.DataFrame,
    threshold: int = 5,
    row_total: str | None = None,
    column_total: str | None = None,
) -> pd.DataFrame:
    """A count table with its small cells suppressed, as text (``<5``, ``*`` or the count).

    Parameters
    ----------
    table : DataFrame of int
    threshold : int
    row_total : str, optional
        The column of row totals, when printed.
    column_total : str, optional
        The index label of the row of column totals, when printed.

    Returns
    -------
    DataFrame of str
    """
    values, relations = table_problem(table, row_total, column_total)
    result = suppress(values, relations, threshold)
    return pd.DataFrame(
        [[result.label((r, c), table.at[r, c]) for c in table.columns] for r in table.index],
        index=table.index,
        columns=table.columns,
    )
