"""cdp.charts: the overview's sparkline, an SVG image of the counts as published."""
from __future__ import annotations

import re
from datetime import date

import pandas as pd

from cdp import charts, disclosure
from conftest import point_texts

MONTHS = pd.date_range("2024-01-01", periods=4, freq="MS")


def test_a_sparkline_draws_the_published_counts_with_a_gap_for_a_small_month():
    svg = charts.sparkline_svg(pd.Series([10, 3, 12, 0], index=MONTHS), disclosure.published(),
                               highlight_from=date(2024, 3, 1), label="ASB <b>x</b>")
    assert point_texts(svg) == dict(zip(MONTHS, ["10", "<5", "10", "0"]))   # rounded to 5s
    assert svg.count("<polyline") == 2                        # the "<5" month is a gap in the line
    assert "<b>" not in svg and 'aria-label="ASB &lt;b&gt;x&lt;/b&gt;"' in svg
    xs = [float(x) for x in re.findall(r'<circle cx="([\d.]+)"', svg)]
    shade = float(re.search(r'<rect x="([\d.]+)"', svg).group(1))   # the period: March on
    assert xs[1] < shade < xs[2]


def test_a_sparkline_of_true_counts_and_of_one_month():
    svg = charts.sparkline_svg(pd.Series([1234, 3], index=MONTHS[:2]))
    assert point_texts(svg) == {MONTHS[0]: "1,234", MONTHS[1]: "3"} and "<rect" not in svg
    assert point_texts(charts.sparkline_svg(pd.Series([7], index=MONTHS[:1]))) == {MONTHS[0]: "7"}
