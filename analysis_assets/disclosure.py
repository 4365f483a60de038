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
  the audit asks, by linear programming under exactly that knowledge, whether another value
  is possible (:func:`pinned_cells`); a cell with one possible value is exactly recoverable,
  and one more cell of its relations is suppressed, until no primary cell is recoverable. A
  cell that stays recoverable with every count of its relations withheld (a whole table below
  the threshold) is reported (:attr:`SuppressionResult.unprotected`): its table must not be
  printed.

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
    "UnprotectableTable",
    "primary_label",
    "suppress",
    "suppress_table",
    "pinned_cells",
]

#: how a complementary-suppressed count is printed (it is not small: only withheld)
COMPLEMENTARY_MARK = "*"
Key = Hashable


class UnprotectableTable(ValueError):
    """Small counts stay recoverable with every count withheld (the table must not be shown)."""

    def __init__(self, cells: list):
        super().__init__(f"small counts recoverable whatever is withheld: {cells}")
        self.cells = cells


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
    #: primary cells still recoverable when nothing is left to suppress (every count of
    #: their relations is small or withheld: e.g. a whole table below the threshold); a
    #: table holding one must not be printed
    unprotected: set[Key] = field(default_factory=set)

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


def pinned_cells(
    values: dict[Key, int],
    relations: list[Relation],
    shown: set[Key],
    bounds: dict[Key, tuple[float, float | None]],
    targets: Iterable[Key],
) -> list[Key]:
    """The targets an attacker can recover exactly: their minimum equals their maximum.

    Parameters
    ----------
    values : dict
        Every cell's true value (read for the shown cells, and as a known feasible point).
    relations : list of Relation
    shown : set
        Cells the attacker reads; every other cell of a relation is an unknown.
    bounds : dict of key -> (lower, upper or None)
        What the attacker knows of an unknown (default 0..unbounded).
    targets : iterable of keys
        Unknown cells to test.

    Returns
    -------
    list of keys

    Notes
    -----
    By linear programming (HiGHS): a target is safe once any feasible point gives it another
    value than its true one; every solution of one target's programme is checked for all the
    targets, so most need no programme of their own.
    """
    targets = list(targets)
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
    true = np.array([values[k] for k in unknown], dtype=float)
    position = np.array([index[k] for k in targets], dtype=int)
    safe = np.zeros(len(targets), dtype=bool)
    for i, key in enumerate(targets):
        for direction in (-1.0, 1.0):  # maximise, then minimise
            if safe[i]:
                break
            c = np.zeros(len(unknown))
            c[index[key]] = direction
            solved = linprog(c, A_eq=a_eq, b_eq=b_eq, bounds=box, method="highs")
            if solved.status == 3:  # unbounded: not pinned
                safe[i] = True
            elif solved.status == 0:
                safe |= np.abs(solved.x[position] - true[position]) >= 0.5
            else:
                raise RuntimeError(f"the attacker's programme has no solution: {solved.message}")
    return [key for key, ok in zip(targets, safe) if not ok]


def attacker_bounds(result: SuppressionResult) -> dict[Key, tuple[float, float | None]]:
    """What the printed labels tell: ``<t`` is 1..t-1, the complementary mark at least t."""
    bounds: dict[Key, tuple[float, float | None]] = {
        k: (1, result.threshold - 1) for k in result.primary
    }
    bounds.update({k: (result.threshold, None) for k in result.complementary})
    return bounds


def _unknown_components(relations: list[Relation], unknown: set[Key]) -> list[list[Relation]]:
    """The relations grouped by the unknown cells they link (an attacker's linear programme
    falls apart into these independent pieces; relations without an unknown are dropped)."""
    parent: dict[Key, Key] = {}

    def root(key: Key) -> Key:
        while parent.setdefault(key, key) != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    linking = []
    for relation in relations:
        cells = [k for k in relation.cells() if k in unknown]
        if cells:
            linking.append((relation, cells[0]))
            for other in cells[1:]:
                parent[root(other)] = root(cells[0])
    pieces: dict[Key, list[Relation]] = {}
    for relation, cell in linking:
        pieces.setdefault(root(cell), []).append(relation)
    return list(pieces.values())


def _recoverable(
    values: dict[Key, int],
    relations: list[Relation],
    hidden: set[Key],
    result: SuppressionResult,
    audited: set[frozenset],
) -> list[Key]:
    """The primary cells an attacker pins exactly; ``audited`` caches the pieces (sets of
    unknown cells with their bounds) found safe, as suppression only grows elsewhere."""
    unknown = result.suppressed | hidden
    bounds = attacker_bounds(result)
    pinned = []
    for piece in _unknown_components(relations, unknown):
        cells = {k for r in piece for k in r.cells() if k in unknown}
        signature = frozenset((k, k in result.primary) for k in cells)
        targets = sorted(cells & result.primary, key=repr)
        if not targets or signature in audited:
            continue
        shown = {k for r in piece for k in r.cells()} - unknown
        found = pinned_cells(values, piece, shown, bounds, targets)
        if found:
            pinned += found
        else:
            audited.add(signature)
    return pinned


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
    around: dict[Key, list[Relation]] = {}
    for relation in relations:
        for key in relation.cells():
            around.setdefault(key, []).append(relation)
    audited: set[frozenset] = set()
    while True:
        pinned = _recoverable(values, relations, hidden, result, audited)
        if not pinned:
            return result
        added = False
        for key in pinned:  # one more cell next to each pinned one, then audit again
            near = [k for r in around[key] for k in r.cells()]
            extra = _cheapest(near, values, hidden, degree, result)
            if extra is None:  # its own relations are spent: the cheapest cell of any relation
                extra = _cheapest(list(degree), values, hidden, degree, result)
            if extra is None:
                result.unprotected.add(key)
            else:
                result.complementary.add(extra)
                added = True
        if not added:
            return result
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

    Raises
    ------
    UnprotectableTable
        When a small count stays recoverable with everything withheld.
    """
    values, relations = table_problem(table, row_total, column_total)
    result = suppress(values, relations, threshold)
    if result.unprotected:
        raise UnprotectableTable(sorted(result.unprotected, key=repr))
    return pd.DataFrame(
        [[result.label((r, c), table.at[r, c]) for c in table.columns] for r in table.index],
        index=table.index,
        columns=table.columns,
    )
