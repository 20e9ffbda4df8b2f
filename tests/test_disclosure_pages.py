"""The attacker against the board's pages: everything a board viewer receives on the overview,
trends, substance and reoffending pages for a set of views (single wards, all wards but one,
several periods, every priority) is mapped to the base cells it sums, (ward, month, priority),
and no "<5" cell may be left one possible value by all of it together (tests/attacker.py).

The store is the session's small demo (40,000 incidents over five years and 20 wards: hundreds
of ward-month-priority cells hold 1 to 4). The true counts come straight from SQL: what
cdp.counting counts, incidents inside the wards, each once.
"""
from __future__ import annotations

import base64
import html
import json
import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from attacker import Observations, shown_value
from cdp import areas as nat_areas
from cdp import store, substance
from cdp.disclosure import Published, Rule
from cdp.filters import counted_condition
from cdp.priorities import PRIORITIES, PRIORITY_KEYS, count_condition, counted_unit
from cdp.queries import ward_names
from cdp.trends import WEEKDAYS
from conftest import ROOT, image_svg, page_charts, point_texts

CASTLE, BULWELL = "E05012277", "E05012275"
LATEST = pd.Timestamp("2025-03-01")                      # the demo's last month
PERIODS = {"Last 12 months": ("2024-04-01", "2025-03-01"), "Latest month": ("2025-03-01", "2025-03-01"),
           "Last 3 months": ("2025-01-01", "2025-03-01")}
LABEL_KEY = {p.label: p.key for p in PRIORITIES}
P = Published(Rule(5, 5))


# --- the store's true counts ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def truth(demo_db) -> dict:
    """The true count of every base cell: (ward, month, priority) and (ward, month, measure)."""
    con = store.connect(demo_db, read_only=True)
    try:
        names = ward_names(con)
        sums = [f"count(*) FILTER (WHERE {count_condition(k)}) AS {k}" for k in PRIORITY_KEYS]
        sums += [f"count(*) FILTER (WHERE {m.condition}) AS {m.key}" for m in substance.MEASURES]
        frame = con.execute(f"""SELECT ward_code, month, {", ".join(sums)} FROM incidents
                                WHERE {counted_condition()} GROUP BY ALL""").df()
    finally:
        con.close()
    counts = {}
    for row in frame.itertuples(index=False):
        for key in (*PRIORITY_KEYS, *(m.key for m in substance.MEASURES)):
            counts[(row.ward_code, pd.Timestamp(row.month), key)] = int(getattr(row, key))
    return {"counts": counts, "wards": names}


@pytest.fixture
def board(demo_db, monkeypatch):
    monkeypatch.setenv("CDP_STORE", str(demo_db))
    monkeypatch.setenv("CDP_ROLE", "board")

    def open_view(page: str, view: "View") -> AppTest:
        at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120).run()
        at.switch_page(page).run()
        if view.wards:
            at.multiselect(key="f_wards").set_value(list(view.wards)).run()
        if view.period != "Last 12 months":
            at.selectbox(key="f_period").set_value(view.period).run()
        assert not at.exception, [e.value for e in at.exception]
        return at
    return open_view


@dataclass(frozen=True)
class View:
    wards: tuple[str, ...] | None
    period: str = "Last 12 months"

    def codes(self, names: dict) -> tuple[str, ...]:
        return self.wards or tuple(names)

    @property
    def months(self) -> list[pd.Timestamp]:
        return list(pd.date_range(*PERIODS[self.period], freq="MS"))


def cells(wards, months, key) -> frozenset:
    return frozenset((w, pd.Timestamp(m), key) for w in wards for m in months)


# --- reading what the board receives ------------------------------------------------------------

def values(v) -> list:
    """A plotly JSON array (plain, or base64 typed array, flattened) as a list."""
    if isinstance(v, dict) and "bdata" in v:
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"]).tolist()
    return [x for row in v for x in values(row)] if v and isinstance(v[0], (list, dict)) else list(v)


def charts(at) -> list[tuple[str, dict]]:
    """(widget id, plotly JSON) of every chart: what the browser receives."""
    return [(chart.proto.id, json.loads(chart.proto.spec)) for chart in at.get("plotly_chart")]


def title(spec: dict) -> str:
    return html.unescape(((spec.get("layout") or {}).get("title") or {}).get("text", ""))


def page_text(at) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info]
                     + [m.value for m in at.metric] + [s.value for s in at.success])


def missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def month_of(text: str) -> pd.Timestamp:
    return pd.Timestamp(pd.to_datetime(text, format="%b %Y"))


def months_in(text: str) -> list[pd.Timestamp]:
    """The months of 'Apr 2023 to Mar 2024' or 'Mar 2024'."""
    first, _, last = text.partition(" to ")
    return list(pd.date_range(month_of(first), month_of(last or first), freq="MS"))


# --- what each page's figures are sums of --------------------------------------------------------

def observe_overview(at, view: View, names: dict, seen: Observations) -> None:
    wards = view.codes(names)
    for column in at.columns:
        for block in column.children.values():
            elements = list(getattr(block, "children", {}).values())
            heads = [e.value for e in elements if type(e).__name__ == "Subheader"]
            if not heads:
                continue
            key = LABEL_KEY[heads[0]]
            metric = next(e for e in elements if type(e).__name__ == "Metric")
            seen.add(cells(wards, view.months, key), metric.value, "total")
            for e in elements:
                said = re.match(r"Against .*?\((\w{3} \d{4}(?: to \w{3} \d{4})?)[;)].*\(was ([^)]+)\)",
                                getattr(e, "value", "") if type(e).__name__ == "Markdown" else "")
                if said:
                    seen.add(cells(wards, months_in(said.group(1)), key), said.group(2), "total")
            for image in (e for e in elements if e.type == "image"):   # the sparkline: each month
                for month, shown in point_texts(image_svg(image)).items():
                    seen.add(cells(wards, [month], key), shown)


def observe_series(spec: dict, key: str, view: View, names: dict, seen: Observations) -> None:
    """A trend chart's lines: each ward's (or the whole selection's) months, the same months a
    year earlier and the rolling 12-month totals."""
    code_of = {html.unescape(n): c for c, n in names.items()}
    for trace in spec["data"]:
        name = html.unescape(trace["name"])
        area, _, what = name.partition(": ")
        ward = code_of.get(area)
        wards = (ward,) if ward else view.codes(names)
        kind = "cell" if ward else "total"          # the whole selection: totals of the wards
        for x, y in zip(values(trace["x"]), values(trace["y"])):
            month = pd.Timestamp(x)
            if what == "":
                window, text = [month], "<5" if missing(y) and ward else y
            elif what == "same month last year":
                window, text = [month - pd.DateOffset(years=1)], "<5" if missing(y) and ward else y
            elif what in ("rolling 12 months", "baseline year total"):
                window, text, kind_here = pd.date_range(end=month, periods=12, freq="MS"), y, "total"
                if not missing(text):
                    seen.add(cells(wards, window, key), text, kind_here)
                continue
            else:
                raise AssertionError(f"an unexpected line {name!r}")
            if not missing(text):
                seen.add(cells(wards, window, key), text, kind)


TREND_SECTIONS = ["What changed", "Series", "Control chart", "Rhythm"]   # its tabs, drawn only while open
# Each page's tabs (widgets.sections), drawn only while open: the attacker opens every one.
PAGE_SECTIONS = {
    "pages/trends.py": ("tr_section", TREND_SECTIONS),
    "pages/substance.py": ("substance_section", ["Treatment", "Drug and alcohol demand", "Wards and premises"]),
    "pages/reoffending.py": ("reoffending_section", ["Proven reoffending", "Repeat offending in the partner extract",
                                                     "Most frequent offenders", "IOM cohort before and after entry"]),
}
OPENED = {"pages/reoffending.py": {"reoffending_cohorts_open": True}}   # lists drawn only once opened


def each_section(at, page: str):
    """`at` with each of the page's tabs open in turn (once, as it is, for a page without tabs),
    every list that is drawn only once opened opened."""
    key, sections = PAGE_SECTIONS.get(page, (None, [None]))
    for opened, value in OPENED.get(page, {}).items():
        at.session_state[opened] = value
    for section in sections:
        if key:
            at.session_state[key] = section
            at.run()
            assert not at.exception, [e.value for e in at.exception]
        yield at


def observe_trends(at, view: View, names: dict, seen: Observations) -> None:
    for _ in each_section(at, "pages/trends.py"):
        observe_trends_section(at, view, names, seen)


def observe_trends_section(at, view: View, names: dict, seen: Observations) -> None:
    wards = view.codes(names)
    titles = {f"{p.label} ({counted_unit(p.key)})": p.key for p in PRIORITIES}
    for _, spec in charts(at):
        heading = title(spec)
        if heading in titles:
            observe_series(spec, titles[heading], view, names, seen)
        elif ": " in heading and heading.split(": ")[0] in titles:   # the control chart
            key = titles[heading.split(": ")[0]]
            trace = next(t for t in spec["data"] if t["name"].startswith("Count per month"))
            for x, y in zip(values(trace["x"]), values(trace["y"])):
                seen.add(cells(wards, [pd.Timestamp(x)], key), y)
    code_of = {n: c for c, n in names.items()}
    for frame in at.dataframe:
        table = frame.value
        if "observed" not in table:
            continue
        for row in table.itertuples():
            ward = code_of.get(row.ward)
            seen.add(cells((ward,) if ward else wards, [LATEST], LABEL_KEY[row.priority_label]), row.observed)


def observe_substance(at, view: View, names: dict, areas: nat_areas.Areas, seen: Observations) -> None:
    metrics, frames = [], []
    for _ in each_section(at, "pages/substance.py"):
        metrics += list(at.metric)
        frames += list(at.dataframe)
    wards = view.codes(names)
    measures = [m for m in substance.MEASURES]
    assert len(metrics) == len(measures)
    for m, metric in zip(measures, metrics):
        seen.add(cells(wards, view.months, m.key), metric.value, "total")
    by_label = {m.label: m.key for m in measures}
    code_of = {n: c for c, n in names.items()}
    assert frames
    for frame in frames:
        table = frame.value
        if "Ward" in table and "Premises" not in table:
            for _, row in table.iterrows():
                for label, key in by_label.items():
                    seen.add(cells([code_of[row["Ward"]]], view.months, key), row[label])
        elif "NAT area" in table:
            for _, row in table.iterrows():
                area = areas.get(row["NAT area"])
                members = [w for w in wards if (area and w in area.ward_codes)
                           or (not area and not any(w in a.ward_codes for a in areas.areas))]
                for label, key in by_label.items():
                    seen.add(cells(members, view.months, key), row[label], "total")
    for _, spec in charts(at):
        if not title(spec).endswith("a month"):
            continue   # the treatment charts: the reference file's, not the store's cells
        for trace in spec["data"]:
            key = by_label[trace["name"]]
            for x, shown in zip(values(trace["x"]), trace["customdata"]):
                seen.add(cells(wards, [pd.Timestamp(x)], key), shown)


# --- the attacks ---------------------------------------------------------------------------------

def assert_nothing_pinned(seen: Observations, truth: dict) -> None:
    counts = truth["counts"]
    assert seen.check_consistent(counts) == [], "a figure does not say what the rule says of its cells"
    assert len(seen.suppressed(counts)) > 0, "no suppressed cell was observed: the views test nothing"
    assert seen.pinned(counts) == {}


def test_overview_two_ward_selections_and_sparklines_beside_their_totals(board, truth):
    """All wards, all wards but Castle and Castle alone, over 12 months, 3 months and the latest
    month: the totals differ by Castle's, and Castle's sparkline sits beside its own total."""
    names, seen = truth["wards"], Observations(P)
    but_castle = tuple(c for c in names if c != CASTLE)
    views = [View(None), View(but_castle), View((CASTLE,)), View((CASTLE,), "Latest month"),
             View(None, "Latest month"), View(but_castle, "Latest month"), View((CASTLE, BULWELL), "Last 3 months")]
    for view in views:
        observe_overview(board("pages/overview.py", view), view, names, seen)
    castle = {c for c in seen.suppressed(truth["counts"]) if c[0] == CASTLE}
    assert castle, "Castle has no suppressed month: the differencing attack is not exercised"
    assert_nothing_pinned(seen, truth)


def test_trends_series_rolling_totals_exceptions_and_control_chart(board, truth):
    """Two wards side by side (their months, the same months a year earlier, their rolling
    12-month totals), the whole area's latest month with its exceptions and control chart, and
    one ward's quarter. (All wards but one is the overview's attack: here it would draw 19
    wards' series and take the solver minutes.)"""
    names, seen = truth["wards"], Observations(P)
    for view in (View((CASTLE, BULWELL)), View(None, "Latest month"), View((CASTLE,), "Last 3 months")):
        observe_trends(board("pages/trends.py", view), view, names, seen)
    assert_nothing_pinned(seen, truth)


def test_substance_page_total_minus_the_wards_shown(board, truth, demo_db):
    """The period's total beside every ward's count and each NAT area's total, for all wards and
    for all wards but one."""
    names, seen = truth["wards"], Observations(P)
    areas = nat_areas.load_areas(names)
    for view in (View(None), View(tuple(c for c in names if c != CASTLE)), View((CASTLE,), "Latest month")):
        observe_substance(board("pages/substance.py", view), view, names, areas, seen)
    assert_nothing_pinned(seen, truth)


def test_day_by_hour_grid_beside_its_total(board, demo_db):
    """The day-and-hour grid of one ward's month, whose cells are nearly all 0 or 1-4, beside the
    caption's total: no blank cell is fixed, and the total is not exact."""
    view = View((CASTLE,), "Latest month")
    at = board("pages/trends.py", view)
    at.session_state["tr_section"] = "Rhythm"
    at.run()
    at.selectbox(key="tr_heat_priority").set_value("weapons").run()
    con = store.connect(demo_db, read_only=True)
    try:
        rows = con.execute(f"""SELECT isodow(occurred_at) - 1, hour(occurred_at), count(*) FROM incidents
                               WHERE {counted_condition()} AND {count_condition('weapons')}
                               AND ward_code = ? AND month = ? AND time_precision = 'datetime'
                               GROUP BY ALL""", [CASTLE, LATEST.date()]).fetchall()
    finally:
        con.close()
    truth = {(d, h): n for d, h, n in rows}
    spec = next(s for _, s in charts(at) if title(s).endswith("by day and hour"))
    grid = spec["data"][0]
    seen = Observations(P)
    for d, row in enumerate(grid["text"]):
        for h, shown in enumerate(row):
            seen.add({(d, h)}, shown)
    total = re.search(r"([\d,<]+) incidents with a time of day", page_text(at)).group(1)
    seen.add(set(truth) | {(d, h) for d in range(7) for h in range(24)}, total, "total")
    assert sum(truth.values()) > 0 and seen.check_consistent(truth) == []
    assert seen.suppressed(truth)
    assert seen.pinned(truth) == {}
    # The colours come from the published values only.
    z = values(grid["z"])
    assert all(missing(v) or v == 0 or (v >= 5 and v % 5 == 0) for v in z)
    assert [WEEKDAYS[0]] == values(grid["y"])[:1]


def test_an_exact_total_would_have_been_caught(truth):
    """The same attacker on the demo's cells: a ward's twelve months beside their exact total fix
    its one "<5" month; beside the rule's total they do not."""
    counts = truth["counts"]
    months = list(pd.date_range(*PERIODS["Last 12 months"], freq="MS"))
    series = {(w, k): [counts.get((w, m, k), 0) for m in months] for w in truth["wards"] for k in PRIORITY_KEYS}
    ward, key = next(wk for wk, v in series.items() if sum(1 <= n <= 4 for n in v) == 1)
    values = series[(ward, key)]
    exact, rule = Observations(P), Observations(P)
    for seen in (exact, rule):
        for month, n in zip(months, values):
            seen.add(cells([ward], [month], key), P.text(n))
    exact.add(cells([ward], months, key), str(sum(values)), "exact")
    rule.add(cells([ward], months, key), P.total_text(sum(values), values), "total")
    small = next(m for m, n in zip(months, values) if 1 <= n <= 4)
    assert exact.pinned(counts) == {(ward, small, key): counts[(ward, small, key)]}
    assert rule.pinned(counts) == {}


def test_a_rate_per_1000_residents_with_the_population_beside_it():
    """A rate from the published count gives back only the published count."""
    population = 12_345
    for true in range(0, 40):
        rate = P.rate(true, population)
        if not P.publishable(true):
            assert rate is None
            continue
        worked_back = rate * population / 1000
        assert worked_back == pytest.approx(P.count(true))
        seen = Observations(P)
        seen.add({"a"}, P.text(true))
        seen.add({"a"}, round(worked_back))
        assert seen.check_consistent({"a": true}) == []


# --- what the board receives, directly ------------------------------------------------------------

COUNT_CHARTS = re.compile(r"\((crimes|ASB incidents)\)|a month$|by day and hour$")


@pytest.mark.parametrize("page", ["pages/overview.py", "pages/trends.py", "pages/substance.py",
                                  "pages/reoffending.py"])
def test_board_receives_only_published_counts_and_no_p_values(board, page, truth):
    """Every count in the charts' JSON (y, customdata, text, z) is 0, a multiple of 5 or "<5";
    no sentence gives an exact p-value or a count of 1 to 4 ("of the 1 crimes"); the disclosure
    statement is on the page."""
    at = board(page, View((CASTLE,), "Latest month"))
    for _ in each_section(at, page):
        assert_only_published(at)
    said = "\n".join(page_text(at) for _ in each_section(at, page))
    assert P.statement.split(";")[0] in said


def assert_only_published(at) -> None:
    """What one run of a page sent the board: its charts' counts, its sentences and tables."""
    for widget, spec in charts(at):
        heading = title(spec)
        counts = "-trend-" in widget or COUNT_CHARTS.search(heading) or heading.startswith("People in treatment")
        if not counts or "limit" in heading.lower():
            continue
        for trace in spec["data"]:
            if trace.get("name") in ("Upper control limit", "Mean", "Lower control limit"):
                continue
            numbers = values(trace.get("z" if trace.get("type") == "heatmap" else "y") or [])
            texts = [v for key in ("customdata", "text", "hovertext")
                     for v in np.ravel(np.array(trace.get(key) or [], dtype=object)) if isinstance(v, str)]
            for v in numbers:
                assert missing(v) or v == 0 or (v >= 5 and v % 5 == 0), (heading, trace.get("name"), v)
            for v in texts:
                if re.fullmatch(r"[\d,]+", v):
                    n = int(v.replace(",", ""))
                    assert n == 0 or n % 5 == 0, (heading, v)
    for svg in page_charts(at):       # charts drawn as images: each point's count, its tooltip
        for text in point_texts(svg).values():
            number = re.match(r"[\d,]+", text)
            assert number is None or int(number.group().replace(",", "")) % 5 == 0, text
    said = page_text(at)
    assert not re.search(r"\bp = 0?\.\d|p < 0\.001", said), "an exact p-value beside a rounded count"
    unit = r"(crimes?|incidents?|offences?|offenders?|members?|people|completions)"
    assert not re.search(rf"(?<![\d,.%])[1-4] {unit}\b", said), re.findall(rf"(?<![\d,.%])[1-4] {unit}", said)
    for frame in at.dataframe:
        for column in frame.value.columns:
            for v in frame.value[column]:
                if isinstance(v, (int, float, np.integer, np.floating)) and not missing(v):
                    assert v == 0 or v % 5 == 0 or not float(v).is_integer(), (column, v)
