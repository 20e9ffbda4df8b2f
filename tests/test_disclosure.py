"""The disclosure rule on hand-checkable tables, and a brute-force attacker on small tables: for
every combination of true counts, every "<5" must fit more than one true value given everything
published beside it (the parts, the total, and knowledge of the rule)."""
from __future__ import annotations

import collections
import itertools
import math

import pandas as pd
import pytest

from cdp.disclosure import (WITHHELD, DisclosureConfigError, Published, Rule, TrueValues,
                            configured_rule)

P = Published(Rule())


def test_counts_small_suppressed_others_rounded_to_5():
    assert [P.text(n) for n in (0, 1, 4, 5, 7, 8, 12, 13, 1234)] == \
        ["0", "<5", "<5", "5", "5", "10", "10", "15", "1,235"]
    assert P.text(None) == "" and P.text(float("nan")) == ""
    assert math.isnan(P.count(3)) and P.count(0) == 0 and P.count(1234) == 1235


def test_what_each_published_figure_allows():
    assert P.interval(0) == (0, 0)
    assert P.interval(3) == (1, 4)
    assert P.interval(6) == (5, 7)        # "5": 3 and 4 would read "<5"
    assert P.interval(12) == (8, 12)
    assert Published(Rule(10, 5)).interval(11) == (10, 12)


def test_totals_rounded_on_their_own():
    # 20 + 7 + 3 = 30: the rows read 20, 5, <5 and the total 30, not their sum.
    assert [P.text(n) for n in (20, 7, 3)] == ["20", "5", "<5"]
    assert P.total_text(30, [20, 7, 3]) == "30"
    assert P.total_text(1000, [900, 97, 3]) == "1,000"


def test_a_total_that_would_fix_small_parts_is_rounded_the_other_way():
    # 4 + 4 = 8 rounds to 10, which only 4 + 4 gives: it reads 5 instead (3 + 4, 4 + 3 or 4 + 4).
    assert P.total_text(8, [4, 4]) == "5"
    # 1 + 1 + 1 + 1 = 4 would read "<5", which only four ones give: it reads 5 instead.
    assert P.total_text(4, [1, 1, 1, 1]) == "5"
    assert P.total_text(2, [1, 1]) == "<5"


def test_exact_totals_beside_a_small_part_are_withheld():
    exact = Published(Rule(threshold=5, base=1))
    assert exact.total_text(13, [10, 3]) == WITHHELD
    assert exact.total_text(13, [10, 3, 0]) == WITHHELD
    assert exact.total_text(20, [10, 10]) == "20"


def test_derived_figures_from_published_counts_only_when_publishable():
    assert P.share(7, 13) == 5 / 15              # 7 -> 5, 13 -> 15: not 7/13
    assert P.share(3, 40) is None and P.share(0, 40) == 0
    assert P.pct_change(13, 7) == pytest.approx(200.0)   # 15 against 5
    assert P.pct_change(13, 4) is None and P.difference(4, 13) is None
    assert P.difference(13, 7) == 10
    assert P.rate(12, 2000) == pytest.approx(5.0)        # 10 per 2,000 residents
    assert P.publishable(0, 5, 100) and not P.publishable(5, 4)


def test_true_values_for_unrestricted_viewers():
    t = TrueValues()
    assert [t.text(n) for n in (0, 3, 1234)] == ["0", "3", "1,234"]
    assert t.share(7, 13) == 7 / 13 and t.pct_change(13, 7) == pytest.approx(600 / 7)
    assert t.total_text(8, [4, 4]) == "8" and not t.restricted and P.restricted


def test_frames_and_series_publish_named_columns():
    df = pd.DataFrame({"ward": ["A", "B", "C"], "count": [0, 3, 12], "population": [100, 200, 300]})
    out = P.frame(df, ["count"])
    assert out["count"].tolist()[0] == 0 and math.isnan(out["count"][1]) and out["count"][2] == 10
    assert out["population"].tolist() == [100, 200, 300] and df["count"].tolist() == [0, 3, 12]


def test_the_rule_is_configuration():
    assert configured_rule({}) == Rule(5, 5)
    assert configured_rule({"CDP_DISCLOSURE_THRESHOLD": "10", "CDP_DISCLOSURE_ROUNDING": "1"}) == Rule(10, 1)
    with pytest.raises(DisclosureConfigError, match="CDP_DISCLOSURE_THRESHOLD"):
        configured_rule({"CDP_DISCLOSURE_THRESHOLD": "five"})
    with pytest.raises(DisclosureConfigError):
        Rule(threshold=1)
    assert "<10" in Published(Rule(10, 5)).statement


@pytest.mark.parametrize("rule, parts", [(Rule(5, 5), 2), (Rule(5, 5), 3), (Rule(5, 5), 4),
                                         (Rule(10, 5), 3), (Rule(5, 10), 3), (Rule(3, 1), 3)], ids=str)
def test_no_table_fixes_a_small_count(rule, parts):
    """Every combination of true counts: group them by what is published (each part and the
    total); within a group, every "<5" part must take more than one value."""
    published = Published(rule)
    top = rule.threshold + 2 * rule.base + 4
    groups = collections.defaultdict(list)
    for values in itertools.product(range(top), repeat=parts):
        shown = tuple(published.text(v) for v in values) + (published.total_text(sum(values), values),)
        groups[shown].append(values)
    for shown, candidates in groups.items():
        if any(max(v) >= top - rule.base - 2 for v in candidates):
            continue   # the enumeration's upper edge, not the rule, would narrow these
        for i in range(parts):
            if shown[i].startswith("<"):
                assert len({v[i] for v in candidates}) > 1, (shown, candidates)


@pytest.mark.parametrize("rule", [Rule(5, 5), Rule(10, 5), Rule(5, 10)], ids=str)
def test_what_a_figure_allows_always_holds_the_true_value(rule):
    published = Published(rule)
    for values in itertools.product(range(rule.threshold + 3 * rule.base), repeat=3):
        for v in values:
            low, high = published.interval(v)
            assert low <= v <= high
        total = published.total(sum(values), values)
        if total is not None:
            low, high = published.total_interval_of(total)
            assert low <= sum(values) <= high, (values, total)
