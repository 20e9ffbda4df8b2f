"""The attacker of disclosure control: everything a restricted viewer is shown, as linear
constraints on the true counts of base cells, and which suppressed cells those constraints fix.

A base cell is the finest unit the figures are sums of, e.g. (ward_code, month, priority_key).
Each published figure says that the sum of the true counts of its cells lies in an interval:
`Published.interval_of` for a count, `Published.total_interval_of` for a total (which the rule may
round the other way or withhold). `pinned(truth)` asks an integer linear program, for every cell
that reads "<5", the least and greatest value it can take given every observation; a cell whose
least and greatest are equal has been worked back.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Hashable, Iterable, Mapping

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from cdp.disclosure import Published, WITHHELD

Cell = Hashable


def shown_value(text) -> float | None:
    """The published figure a text states: NaN for "<5", None for no constraint ("*", "")."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return None
    if isinstance(text, (int, float, np.integer, np.floating)):
        return float(text)
    text = str(text).strip()
    if not text or text == WITHHELD:
        return None
    if text.startswith("<"):
        return math.nan
    number = re.fullmatch(r"-?[\d,]+(?:\.0+)?", text)
    if not number:
        raise ValueError(f"not a published count: {text!r}")
    return float(text.replace(",", ""))


@dataclass
class Observations:
    """What a viewer was shown: (cells, shown text, kind) with kind "cell" or "total"."""
    published: Published = field(default_factory=Published)
    seen: list[tuple[frozenset, str, str]] = field(default_factory=list)

    def add(self, cells: Iterable[Cell], shown, kind: str = "cell") -> None:
        if kind not in ("cell", "total", "exact"):
            raise ValueError(f"unknown kind {kind!r}")
        self.seen.append((frozenset(cells), shown, kind))

    def interval(self, shown, kind: str) -> tuple[float, float] | None:
        """What one observation says of the sum of its cells (None: nothing)."""
        value = shown_value(shown)
        if value is None:
            return None
        if kind == "exact":            # an unrounded figure (for the attacker's own tests)
            return value, value
        if kind == "total":
            return self.published.total_interval_of(value)
        return self.published.interval_of(value)

    def constraints(self) -> list[tuple[frozenset, tuple[float, float]]]:
        out = []
        for cells, shown, kind in self.seen:
            bounds = self.interval(shown, kind)
            if bounds is not None and cells:
                out.append((cells, bounds))
        return out

    def suppressed(self, truth: Mapping[Cell, int]) -> set:
        """Cells whose true count is 1 to threshold - 1 and that were shown on their own as "<5"."""
        threshold = self.published.rule.threshold
        shown_small = {next(iter(cells)) for cells, shown, kind in self.seen
                       if len(cells) == 1 and kind == "cell" and _is_small_text(shown)}
        return {c for c in shown_small if 1 <= truth.get(c, 0) < threshold}

    @staticmethod
    def program(cells: list, constraints) -> tuple[dict, dict]:
        """The integer program of `constraints` over `cells`: its column of each cell and the
        arguments milp takes besides the objective."""
        index = {c: i for i, c in enumerate(cells)}
        rows, columns = [], []
        for row, (group, _) in enumerate(constraints):
            rows += [row] * len(group)
            columns += [index[c] for c in group]
        a = sparse.csr_array((np.ones(len(rows)), (rows, columns)), shape=(len(constraints), len(cells)))
        low = np.array([lo for _, (lo, _) in constraints], dtype=float)
        high = np.array([hi for _, (_, hi) in constraints], dtype=float)
        # A cell no observation bounds above can be as large as the sum of everything allows.
        upper = float(high.sum()) + 1
        return index, {"constraints": [LinearConstraint(a, low, high)], "integrality": np.ones(len(cells)),
                       "bounds": Bounds(np.zeros(len(cells)), np.full(len(cells), upper))}

    @staticmethod
    def bound(cell: Cell, program: tuple[dict, dict], sign: int) -> int:
        """The least (`sign` 1) or greatest (-1) value of `cell` in `program`."""
        index, arguments = program
        objective = np.zeros(len(index))
        objective[index[cell]] = sign
        solved = milp(objective, **arguments)
        if not solved.success:
            raise AssertionError(f"the observations are inconsistent ({solved.message}): "
                                 "a figure was shown that the rule cannot produce")
        return round(sign * solved.fun)

    def pinned(self, truth: Mapping[Cell, int]) -> dict:
        """The suppressed cells whose value every observation together fixes: {cell: value}.

        Each cell is solved within the observations connected to it (cells linked through
        shared figures); the true counts are one solution, so a cell is fixed only when its least
        value is its true one and so is its greatest."""
        constraints = self.constraints()
        component = _components(constraints)
        targets: dict = {}
        for cell in self.suppressed(truth):
            targets.setdefault(component[cell], []).append(cell)
        out = {}
        for root, cells_to_solve in targets.items():
            mine = [c for c in constraints if component[next(iter(c[0]))] == root]
            program = self.program(sorted({c for group, _ in mine for c in group}, key=repr), mine)
            for cell in sorted(cells_to_solve, key=repr):
                low = self.bound(cell, program, 1)
                if low == truth[cell] and self.bound(cell, program, -1) == low:
                    out[cell] = low
        return out

    def range_of(self, cell: Cell) -> tuple[int, int]:
        """The least and greatest value of `cell` consistent with every observation."""
        constraints = self.constraints()
        program = self.program(sorted({c for group, _ in constraints for c in group}, key=repr), constraints)
        return self.bound(cell, program, 1), self.bound(cell, program, -1)

    def check_consistent(self, truth: Mapping[Cell, int]) -> list:
        """Observations the true counts do not satisfy (a mapping from figures to cells is wrong)."""
        wrong = []
        for cells, bounds in self.constraints():
            value = sum(truth.get(c, 0) for c in cells)
            if not bounds[0] <= value <= bounds[1]:
                wrong.append((sorted(cells, key=repr), value, bounds))
        return wrong


def _components(constraints) -> dict:
    """Each cell's connected component: cells are linked when one observation covers both."""
    parent: dict = {}

    def root(c):
        while parent.setdefault(c, c) != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    for group, _ in constraints:
        first = root(next(iter(group)))
        for c in group:
            parent[root(c)] = first
    return {c: root(c) for c in parent}


def _is_small_text(shown) -> bool:
    value = shown_value(shown) if not isinstance(shown, str) or shown.strip() else None
    return value is not None and math.isnan(value)
