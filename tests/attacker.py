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

    def range_of(self, cell: Cell, cells: list, constraints) -> tuple[float, float]:
        """The least and greatest value of `cell` consistent with every constraint."""
        index = {c: i for i, c in enumerate(cells)}
        a = np.zeros((len(constraints), len(cells)))
        low, high = np.zeros(len(constraints)), np.zeros(len(constraints))
        for row, (group, (lo, hi)) in enumerate(constraints):
            for c in group:
                a[row, index[c]] = 1
            low[row], high[row] = lo, hi
        # A cell no observation bounds above can be as large as the sum of everything allows.
        upper = sum(hi for _, (_, hi) in constraints) + 1
        bounds = Bounds(np.zeros(len(cells)), np.full(len(cells), upper))
        integrality = np.ones(len(cells))
        lc = LinearConstraint(a, low, high)
        result = []
        for sign in (1, -1):
            c = np.zeros(len(cells))
            c[index[cell]] = sign
            solved = milp(c, constraints=[lc], integrality=integrality, bounds=bounds)
            if not solved.success:
                raise AssertionError(f"the observations are inconsistent ({solved.message}): "
                                     "a figure was shown that the rule cannot produce")
            result.append(round(sign * solved.fun))
        return result[0], result[1]

    def pinned(self, truth: Mapping[Cell, int]) -> dict:
        """The suppressed cells whose value every observation together fixes: {cell: value}."""
        constraints = self.constraints()
        cells = sorted({c for group, _ in constraints for c in group}, key=repr)
        out = {}
        for cell in sorted(self.suppressed(truth), key=repr):
            low, high = self.range_of(cell, cells, constraints)
            if low == high:
                out[cell] = low
        return out

    def check_consistent(self, truth: Mapping[Cell, int]) -> list:
        """Observations the true counts do not satisfy (a mapping from figures to cells is wrong)."""
        wrong = []
        for cells, bounds in self.constraints():
            value = sum(truth.get(c, 0) for c in cells)
            if not bounds[0] <= value <= bounds[1]:
                wrong.append((sorted(cells, key=repr), value, bounds))
        return wrong


def _is_small_text(shown) -> bool:
    value = shown_value(shown) if not isinstance(shown, str) or shown.strip() else None
    return value is not None and math.isnan(value)
