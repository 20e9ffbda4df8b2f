"""The attacker itself, on hand-made tables: exact totals beside a "<5" fix it, the rule's do not."""
from __future__ import annotations

import pytest

from cdp.disclosure import Published, Rule
from tests.attacker import Observations, shown_value

P = Published(Rule(5, 5))


def test_shown_texts_parse():
    assert shown_value("1,235") == 1235 and shown_value("0") == 0 and shown_value(15.0) == 15
    assert shown_value("*") is None and shown_value("") is None
    assert shown_value("<5") != shown_value("<5")   # NaN: "<5"
    with pytest.raises(ValueError):
        shown_value("about 10")


def test_an_exact_total_beside_its_parts_pins_the_small_one():
    truth = {"A": 3, "B": 10}
    seen = Observations(P)
    seen.add({"A"}, "<5")
    seen.add({"B"}, "10", "exact")
    seen.add({"A", "B"}, "13", "exact")
    assert seen.pinned(truth) == {"A": 3}


def test_two_exact_selections_subtracted_pin_the_ward_between_them():
    truth = {"A": 2, "B": 40, "C": 17}
    seen = Observations(P)
    seen.add({"A"}, "<5")
    seen.add({"A", "B", "C"}, "59", "exact")
    seen.add({"B", "C"}, "57", "exact")
    assert seen.pinned(truth) == {"A": 2}


def test_four_small_parts_and_a_small_total_pin_each_one():
    """Even through intervals: four "<5" parts and a total read "<5" (1 to 4) say each is 1."""
    truth = {c: 1 for c in "ABCD"}
    seen = Observations(P)
    for c in "ABCD":
        seen.add({c}, "<5")
    seen.add(set("ABCD"), "<5", "cell")
    assert seen.pinned(truth) == {c: 1 for c in "ABCD"}


def test_the_rules_figures_pin_nothing():
    truth = {"A": 3, "B": 10, "C": 17, "D": 4, "E": 4}
    seen = Observations(P)
    for cell, n in truth.items():
        seen.add({cell}, P.text(n))
    for group in ("AB", "ABC", "BC", "DE", "ABCDE", "BCDE"):
        parts = [truth[c] for c in group]
        seen.add(set(group), P.total_text(sum(parts), parts), "total")
    assert seen.check_consistent(truth) == []
    assert seen.suppressed(truth) == {"A", "D", "E"}
    assert seen.pinned(truth) == {}


def test_inconsistent_observations_are_reported():
    seen = Observations(P)
    seen.add({"A"}, "<5")
    seen.add({"A"}, "20")
    with pytest.raises(AssertionError, match="inconsistent"):
        seen.pinned({"A": 3})
def test_range():
    seen = Observations(P)
    seen.add({"A"}, "<5")
    seen.add({"A", "B"}, "10")
    seen.add({"B"}, "10")
    assert seen.range_of("A") == (1, 4)
