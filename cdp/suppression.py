"""Small-number suppression for board views: counts of 1-4 show as "<5" and cannot be worked back.

Primary suppression hides counts from 1 to threshold - 1 (0 is shown). Secondary suppression
hides further cells so that no hidden count can be recovered from a displayed total: whenever a
row or column that adds up to a displayed total has exactly one hidden cell (the total counted as
one of its cells), the smallest other non-zero count in it is hidden too, or, when there is none,
the total; this repeats until no row or column has exactly one hidden cell.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

THRESHOLD = 5
WITHHELD = "*"  # a count hidden only so that a small count cannot be worked out


def suppression_note(threshold: int = THRESHOLD) -> str:
    """The footnote for a suppressed table."""
    return (f"<{threshold}: a count from 1 to {threshold - 1}. {WITHHELD}: withheld so that a small "
            f"count cannot be worked out from the totals.")


def is_small(n, threshold: int = THRESHOLD) -> bool:
    """A count from 1 to threshold - 1: shown as "<5" on board views."""
    return n is not None and not pd.isna(n) and 1 <= n < threshold


def hide_small(counts: pd.Series, threshold: int = THRESHOLD) -> pd.Series:
    """Counts of 1 to threshold - 1 as missing, for charts shown to viewers who may not see small
    numbers (a chart point hides its value only if it is not drawn)."""
    counts = counts.astype(float)
    return counts.mask((counts >= 1) & (counts < threshold))


def suppress_count(n, threshold: int = THRESHOLD) -> str:
    """'0', '<5' for 1-4, else the count with thousands separators ('' when missing)."""
    if n is None or pd.isna(n):
        return ""
    if is_small(n, threshold):
        return f"<{threshold}"
    return f"{int(n):,}" if float(n).is_integer() else f"{n:,}"


def _sums(df: pd.DataFrame, count_columns: list, total_row, total_column) -> list[tuple[list, tuple]]:
    """Each displayed total as (its component cells, the total cell), cells as (row, column) positions."""
    index = list(df.index)
    columns = list(count_columns) + ([total_column] if total_column is not None else [])
    tr = index.index(total_row) if total_row is not None else None
    tc = columns.index(total_column) if total_column is not None else None
    body_rows = [r for r in range(len(index)) if r != tr]
    body_cols = list(range(len(count_columns)))
    sums = []
    if tc is not None:
        sums += [([(r, c) for c in body_cols], (r, tc)) for r in body_rows]
    if tr is not None:
        sums += [([(r, c) for r in body_rows], (tr, c)) for c in body_cols]
    if tr is not None and tc is not None:
        sums.append(([(tr, c) for c in body_cols], (tr, tc)))
        sums.append(([(r, tc) for r in body_rows], (tr, tc)))
    return sums


def suppression_mask(df: pd.DataFrame, count_columns: list, total_row=None, total_column=None,
                     threshold: int = THRESHOLD) -> pd.DataFrame:
    """Which cells to hide: 'primary' (1 to threshold - 1), 'secondary' or '' for shown.

    Covers `count_columns` plus `total_column`. `total_row` is the index label of a row of column
    totals; `total_column` a column of row totals (either may be None).
    """
    columns = list(count_columns) + ([total_column] if total_column is not None else [])
    values = df[columns].apply(pd.to_numeric, errors="coerce").to_numpy(float)
    primary = (values >= 1) & (values < threshold)
    hidden = primary.copy()
    sums = _sums(df, count_columns, total_row, total_column)
    changed = True
    while changed:
        changed = False
        for parts, total in sums:
            cells = parts + [total]
            if sum(hidden[cell] for cell in cells) != 1:
                continue
            candidates = [cell for cell in parts if not hidden[cell] and values[cell] > 0]
            pick = min(candidates, key=lambda cell: values[cell]) if candidates else total
            if hidden[pick]:  # nothing else to hide: only zeros beside a hidden total
                continue
            hidden[pick] = changed = True
    labels = np.where(primary, "primary", np.where(hidden, "secondary", ""))
    return pd.DataFrame(labels, index=df.index, columns=columns)


def suppress_table(df: pd.DataFrame, count_columns: list, total_row=None, total_column=None,
                   threshold: int = THRESHOLD) -> pd.DataFrame:
    """A copy of `df` with counts as display strings, primary and secondary suppression applied.

    Hidden small counts read "<5"; cells hidden only to protect them read "*" (see
    `suppression_note`). Other columns are left as they are.
    """
    mask = suppression_mask(df, count_columns, total_row, total_column, threshold)
    shown = df.copy()
    for column in mask.columns:
        shown[column] = [f"<{threshold}" if how == "primary" else WITHHELD if how == "secondary"
                         else suppress_count(v, threshold) for v, how in zip(df[column], mask[column])]
    return shown


class ChangeDisplay(NamedTuple):
    difference: str
    percent: str


def suppress_change(current, previous, threshold: int = THRESHOLD) -> ChangeDisplay:
    """Display strings for current - previous and the percentage change.

    Both read "*" when either count is from 1 to threshold - 1 (the difference would reveal it);
    the percentage reads "n/a" when previous is 0.
    """
    if is_small(current, threshold) or is_small(previous, threshold):
        return ChangeDisplay(WITHHELD, WITHHELD)
    difference = int(current) - int(previous)
    diff_text = f"{difference:+,}" if difference else "0"
    if not previous:
        return ChangeDisplay(diff_text, "n/a")
    pct = difference / previous * 100
    return ChangeDisplay(diff_text, f"{pct:+.0f}%" if round(pct) else "0%")
