"""Small-number suppression: primary, secondary (no working back from totals) and changes."""
from __future__ import annotations

import itertools

import pandas as pd

from cdp.suppression import (ChangeDisplay, suppress_change, suppress_count, suppress_table,
                             suppression_mask, suppression_note)


def test_suppress_count():
    assert [suppress_count(n) for n in (0, 1, 4, 5, 1234)] == ["0", "<5", "<5", "5", "1,234"]
    assert suppress_count(None) == "" and suppress_count(float("nan")) == ""
    assert suppress_count(9, threshold=10) == "<10"


def test_total_of_12_does_not_reveal_3():
    # 9 + 3 = 12: showing 9 next to 12 gives away the 3, so 9 is withheld too.
    table = pd.DataFrame({"ward": ["A"], "asb": [9], "drugs": [3], "total": [12]})
    shown = suppress_table(table, ["asb", "drugs"], total_column="total")
    assert shown.iloc[0].tolist() == ["A", "*", "<5", "12"]


def test_secondary_suppression_picks_the_next_smallest_cell():
    # 20 + 7 + 3 = 30: the 3 is hidden; the next smallest, 7, is withheld; 20 stays.
    table = pd.DataFrame({"a": [20], "b": [7], "c": [3], "total": [30]})
    shown = suppress_table(table, ["a", "b", "c"], total_column="total")
    assert shown.iloc[0].tolist() == ["20", "*", "<5", "30"]


def test_small_totals_are_hidden_like_any_count():
    # Row B: 0 + 3 = 3 and row C: 0 + 2 = 2: the totals are small themselves, so each row has
    # two hidden cells and the zeros can stay.
    table = pd.DataFrame({"x": [0, 0], "y": [3, 2], "total": [3, 2]}, index=["B", "C"])
    shown = suppress_table(table, ["x", "y"], total_column="total")
    assert shown.to_dict("list") == {"x": ["0", "0"], "y": ["<5", "<5"], "total": ["<5", "<5"]}


def test_total_is_withheld_when_no_other_cell_can_be():
    #      x  y  total     Primary: A.y = 3. Rows first, then columns, then the total row/column:
    # A    9  3   12       row A: one hidden -> withhold A.x (9, the only other count);
    # B    0  5    5       column x: only A.x, and B.x is 0 -> withhold the total T.x;
    # T    9  8   17       column y: only A.y -> withhold B.y (5);
    #                      total row: only T.x -> withhold T.y (8);
    #                      total column: nothing hidden yet. Second pass: row B has only B.y and
    #                      B.x is 0 -> withhold its total B.total (5); total column then has only
    #                      B.total -> withhold A.total (12, its only other count).
    table = pd.DataFrame({"x": [9, 0, 9], "y": [3, 5, 8], "total": [12, 5, 17]}, index=["A", "B", "T"])
    shown = suppress_table(table, ["x", "y"], total_row="T", total_column="total")
    assert shown.to_dict("list") == {"x": ["*", "0", "*"], "y": ["<5", "*", "*"],
                                     "total": ["*", "*", "17"]}


def test_cascade_across_rows_and_columns():
    #      x   y  total        Primary: B.x = 3.
    # A    9   6   15          Row B has one hidden cell -> withhold B.y (7).
    # B    3   7   10          Column x has one (B.x) -> withhold A.x (9).
    # T   12  13   25          Column y now has one (B.y) -> withhold A.y (6). Row A has two: done.
    table = pd.DataFrame({"x": [9, 3, 12], "y": [6, 7, 13], "total": [15, 10, 25]},
                         index=["A", "B", "T"])
    mask = suppression_mask(table, ["x", "y"], total_row="T", total_column="total")
    assert mask.to_dict("list") == {"x": ["secondary", "primary", ""],
                                    "y": ["secondary", "secondary", ""],
                                    "total": ["", "", ""]}
    shown = suppress_table(table, ["x", "y"], total_row="T", total_column="total")
    assert shown.loc["T"].tolist() == ["12", "13", "25"]
    # Every row and column holds 0 or at least 2 hidden cells: nothing can be solved alone.
    hidden = mask != ""
    for r in ["A", "B"]:
        assert hidden.loc[r].sum() != 1
    for c in ["x", "y", "total"]:
        assert hidden.loc[["A", "B"], c].sum() + hidden.loc["T", c] != 1


def test_no_working_back_by_brute_force():
    # Try every value 0..20 in each hidden cell: the small count B.x = 2 must stay ambiguous
    # (more than one value fits all the shown totals).
    table = pd.DataFrame({"x": [9, 2, 11], "y": [8, 12, 20], "total": [17, 14, 31]},
                         index=["A", "B", "T"])
    mask = suppression_mask(table, ["x", "y"], total_row="T", total_column="total")
    hidden = [(r, c) for r in table.index for c in mask.columns if mask.loc[r, c]]
    assert ("B", "x") in hidden and len(hidden) > 1
    known = table.to_dict("index")
    fits = set()
    for guess in itertools.product(range(21), repeat=len(hidden)):
        cell = {r: dict(v) for r, v in known.items()}
        for (r, c), value in zip(hidden, guess):
            cell[r][c] = value
        rows_ok = all(cell[r]["x"] + cell[r]["y"] == cell[r]["total"] for r in cell)
        cols_ok = all(cell["A"][c] + cell["B"][c] == cell["T"][c] for c in ("x", "y", "total"))
        if rows_ok and cols_ok:
            fits.add(cell["B"]["x"])
    assert len(fits) > 1


def test_primary_only_without_totals():
    table = pd.DataFrame({"n": [0, 2, 8]})
    assert suppress_table(table, ["n"])["n"].tolist() == ["0", "<5", "8"]


def test_suppress_change():
    assert suppress_change(12, 10) == ChangeDisplay("+2", "+20%")
    assert suppress_change(5, 10) == ("-5", "-50%")
    assert suppress_change(3, 10) == ("*", "*")   # 10 - 7 would reveal the 3
    assert suppress_change(10, 4) == ("*", "*")
    assert suppress_change(0, 7) == ("-7", "-100%")
    assert suppress_change(6, 0) == ("+6", "n/a")
    assert suppress_change(8, 8) == ("0", "0%")


def test_note():
    assert suppression_note().startswith("<5: a count from 1 to 4.")
