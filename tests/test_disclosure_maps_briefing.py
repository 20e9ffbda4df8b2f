"""The attacker against the maps page and the board briefing, as a board viewer.

Every figure the board receives for a set of views (single wards, all wards but one, several
periods, each priority) is read off the pages run in AppTest (metrics, tables, markdown, the plotly
JSON sent to the browser, the CSV and HTML exports), mapped to the incidents it counts (from SQL on
the store, with the product's own filter conditions) and handed to tests/attacker.py. Base cells
are the atoms of everything shown: incidents grouped by which figures count them. The attacker's
integer program then asks, for every figure shown as "<5", the least and greatest true value all
of it allows together; none may be fixed. Direct checks beside it: no p-value or statistic, no
true count of a "<5" cell in chart JSON or exports, legends and classes from published values.
"""
from __future__ import annotations

import csv
import io
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp
from streamlit.runtime.media_file_manager import MediaFileManager

from attacker import Observations, shown_value
from conftest import chart_points, page_charts, shown_table
from cdp import briefing, places, queries, store, targets as plan
from cdp.counting import counted_condition
from cdp.disclosure import Published
from cdp.priorities import PRIORITIES, PRIORITY_BY_KEY, count_condition, counted_unit
from test_page_maps import plotly_array

ROOT = Path(__file__).resolve().parent.parent
MAPS, BRIEFING = "pages/maps.py", "pages/briefing.py"
P = Published()
STATISTIC = re.compile(r"\bp = \d|\bp < 0\.001|\bz = |ρ =|\br = -?\d")   # "p < 0.05" is the method
KEYS = [p.key for p in PRIORITIES]


# --- the attacker, over sets of incidents ------------------------------------------------------

class Attacker(Observations):
    """Observations whose cells are sets of incidents; "upto" is a figure drawn as empty, which
    says 0 to threshold - 1 (a density square of 1-4 is drawn so)."""

    def interval(self, shown, kind):
        if kind == "upto":
            return 0, self.published.rule.threshold - 1
        return super().interval(shown, kind)

    def add(self, cells, shown, kind="cell"):
        self.seen.append((frozenset(cells), shown, kind))

    def atoms(self):
        """Base cells: incidents grouped by the figures that count them; each figure as atoms."""
        constraints = self.constraints()
        membership: dict[int, list[int]] = {}
        for i, (cells, _) in enumerate(constraints):
            for incident in cells:
                membership.setdefault(incident, []).append(i)
        atom_of, sizes = {}, {}
        for incident, rows in membership.items():
            atom = atom_of.setdefault(tuple(rows), len(atom_of))
            sizes[atom] = sizes.get(atom, 0) + 1
        figures = [set() for _ in constraints]
        for rows, atom in atom_of.items():
            for i in rows:
                figures[i].add(atom)
        return constraints, figures, sizes

    def worked_back(self) -> list[tuple]:
        """Every figure shown as "<5" whose true value all the observations fix."""
        constraints, figures, sizes = self.atoms()
        n = len(sizes)
        a = np.zeros((len(constraints), n))
        for i, atoms in enumerate(figures):
            a[i, list(atoms)] = 1
        low = np.array([lo for _, (lo, _) in constraints], float)
        high = np.array([hi for _, (_, hi) in constraints], float)
        truth = np.array([sizes[i] for i in range(n)], float)
        assert (a @ truth >= low).all() and (a @ truth <= high).all(), "a figure was mapped wrongly"
        lc = LinearConstraint(a, low, high)
        bounds = Bounds(np.zeros(n), np.full(n, high.max() + 1))
        pinned, done = [], set()
        for i, (cells, shown, kind) in enumerate(self.seen_with_constraints()):
            if not _small(shown) or frozenset(figures[i]) in done:
                continue
            done.add(frozenset(figures[i]))
            c = np.zeros(n)
            c[list(figures[i])] = 1
            ends = []
            for sign in (1, -1):
                solved = milp(sign * c, constraints=[lc], integrality=np.ones(n), bounds=bounds)
                assert solved.success, solved.message
                ends.append(round(sign * solved.fun))
            if ends[0] == ends[1]:
                pinned.append((shown, kind, ends[0], c @ truth))
        return pinned

    def seen_with_constraints(self):
        return [(cells, shown, kind) for cells, shown, kind in self.seen
                if self.interval(shown, kind) is not None and cells]


def _small(shown) -> bool:
    return isinstance(shown, str) and shown.strip().startswith("<")


# --- the store's incidents -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def incidents(demo_db) -> pd.DataFrame:
    """Every counted incident of the demo store: ward, month, each priority, easting, northing,
    street key and premises."""
    con = store.connect(demo_db, read_only=True)
    try:
        flags = ", ".join(f"{count_condition(k)} AS {k}" for k in KEYS)
        frame = con.execute(f"""
            SELECT rowid AS id, ward_code, month, NOT is_asb AS crime, {flags}, easting, northing,
                   {places.street_key_sql()} AS street_key, premises_id
            FROM incidents WHERE {counted_condition()}""").df()
    finally:
        con.close()
    frame["month"] = pd.to_datetime(frame["month"])
    return frame


def ids(frame: pd.DataFrame, mask) -> frozenset:
    return frozenset(frame.loc[mask, "id"])


def in_period(frame, start, end):
    return frame["month"].between(pd.Timestamp(start), pd.Timestamp(end))


def small_view(incidents: pd.DataFrame):
    """The priority and ward with the most ward-months of 1-4 in the latest month: the views
    the attacker works on."""
    last = incidents["month"].max()
    latest = incidents[incidents["month"] == last]
    best = None
    for key in KEYS:
        counts = latest[latest[key]].groupby("ward_code").size()
        small = counts[(counts >= 1) & (counts <= 4)]
        if len(small) and (best is None or len(small) > best[2]):
            best = (key, small.index[0], len(small))
    assert best, "the demo store has no ward-month of 1-4"
    return best[0], best[1]


# --- reading the pages ---------------------------------------------------------------------------

def open_app(page: str):
    """A dashboard page in AppTest on the store CDP_STORE names (the embedded demo store here)."""
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60).run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture
def downloads(monkeypatch) -> dict:
    """Every download button's file, by name: a function making its bytes, as the export layer does."""
    made = {}
    original = MediaFileManager.add_deferred

    def record(self, data_callable, mimetype, coordinates, file_name=None, **kwargs):
        made[file_name] = data_callable
        return original(self, data_callable, mimetype, coordinates, file_name, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add_deferred", record)
    return made


@pytest.fixture
def board(demo_db, monkeypatch, downloads):
    """Pages as the board sees them, on the demo store, with every download's bytes kept."""
    monkeypatch.setenv("CDP_ROLE", "board")
    monkeypatch.setenv("CDP_STORE", str(demo_db))
    monkeypatch.delenv("CDP_TREATMENT", raising=False)
    monkeypatch.delenv("CDP_TARGETS", raising=False)

    def open_page(page):
        downloads.clear()
        return open_app(page), downloads
    return open_page


@pytest.fixture
def population(tmp_path, monkeypatch, demo_db):
    """A ward population file, so rates per 1,000 residents are shown beside the population."""
    con = store.connect(demo_db, read_only=True)
    codes = sorted(queries.ward_names(con))
    con.close()
    path = tmp_path / "population.csv"
    path.write_text("ward_code,population\n" + "".join(f"{c},{8_000 + 137 * i}\n" for i, c in enumerate(codes)))
    monkeypatch.setenv("CDP_POPULATION", str(path))
    return {c: 8_000 + 137 * i for i, c in enumerate(codes)}


def plotly(at) -> list[dict]:
    return [json.loads(e.proto.spec) for e in at.get("plotly_chart")]


def strings_in(value):
    """Every string in a plotly figure's JSON (hovers, text, names, titles, customdata)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings_in(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings_in(v)


def page_text(at) -> list[str]:
    texts = ([e.value for e in at.markdown] + [e.value for e in at.caption] + [e.value for e in at.info]
             + [e.value for e in at.warning] + [str(m.value) for m in at.metric]
             + [str(m.proto.delta) for m in at.metric] + [m.proto.help for m in at.metric]
             + [h.value for h in at.subheader] + [h.value for h in at.header])
    return [re.sub(r"\\(.)", r"\1", t) for t in texts]


def table(at, column: str) -> pd.DataFrame | None:
    """The page's table (a data grid or a static table, as it reads) with a `column`."""
    grid = next((d.value for d in at.dataframe if column in d.value.columns), None)
    return shown_table(at, column) if grid is None else grid


def no_statistic(texts, where: str) -> None:
    for text in texts:
        assert not STATISTIC.search(text), f"{where}: a statistic beside published counts: {text!r}"


# --- the maps page -------------------------------------------------------------------------------

def set_view(at, priority, period=None, wards=None, ward=None, per_resident=False):
    if per_resident:
        at.toggle(key="maps_per_resident").set_value(True).run()
    if period:
        at.selectbox(key="f_period").set_value(period).run()
    if wards is not None:
        at.multiselect(key="f_wards").set_value(list(wards)).run()
    at.selectbox(key="maps_priority").set_value(priority).run()
    if ward:
        at.selectbox(key="maps_ward").set_value(ward).run()
    assert not at.exception, [e.value for e in at.exception]
    return at.session_state["filters"]


def observe_maps(at, made, f, key, incidents, names, seen: Attacker, population=None, drilled=None,
                 premises=None):
    """Everything the maps page showed for this view, as observations and direct checks."""
    unit = counted_unit(key)
    rows = incidents[incidents[key]]
    now = rows[in_period(rows, f.start, f.end)]
    year = f.year_earlier()
    before = rows[in_period(rows, year.start, year.end)]
    chosen = list(f.wards) or sorted(names)
    codes = {v: k for k, v in names.items()}
    now = now[now["ward_code"].isin(chosen)]
    texts = page_text(at)

    # The metric: the mapped wards' total, rounded on its own beside the wards.
    total = next(m.value for m in at.metric if m.label.endswith("in the mapped wards"))
    seen.add(ids(now, slice(None)), total, "total")

    # The ward table, one count (and a year earlier) per ward (a tab away from the drill-down).
    wards = table(at, "Ward")
    wards = wards.set_index("Ward") if wards is not None else pd.DataFrame(columns=["Count"])
    assert drilled or sorted(codes[w] for w in wards.index) == sorted(chosen)
    for name, row in wards.iterrows():
        code = codes[name]
        seen.add(ids(now, now["ward_code"] == code), row["Count"])
        if "A year earlier" in wards and row["A year earlier"]:
            seen.add(ids(before, before["ward_code"] == code), row["A year earlier"])
        true = int((now["ward_code"] == code).sum())
        assert row["Count"] == ("<5" if 1 <= true <= 4 else f"{P.count(true):,.0f}"), (name, true)
        if "Per 1,000" in wards and population:
            rate = float(row["Per 1,000"].replace(",", "")) if row["Per 1,000"] else math.nan
            if row["Count"] == "<5":
                assert pd.isna(rate), f"{name}: a rate beside a \"<5\" would give it away"
            elif not pd.isna(rate):       # from the published count: rate x population / 1,000
                assert abs(rate * population[code] / 1000 - shown_value(row["Count"])) < 0.05 * population[code] / 1000 + 1e-9

    # The NAT area table: totals of the chosen wards of each area, rounded on their own.
    areas = table(at, "NAT area")
    if areas is not None:
        from cdp import areas as nat
        loaded = nat.load_areas(names)
        owner = {c: a.name for a in loaded.areas for c in a.ward_codes}
        for _, row in areas.iterrows():
            members = [c for c in chosen if owner.get(c, nat.NO_AREA) == row["NAT area"]]
            seen.add(ids(now, now["ward_code"].isin(members)), row["Count"], "total")
            if "A year earlier" in areas and row["A year earlier"]:
                seen.add(ids(before, before["ward_code"].isin(members)), row["A year earlier"], "total")

    # The map sent to the browser: hovers read as the table; legend and classes from published values.
    ward_map = next((fig for fig in plotly(at) if any(t["type"] == "choropleth" for t in fig["data"])), None)
    if ward_map is not None:
        for trace in ward_map["data"]:
            if trace["type"] != "choropleth":
                continue
            label = re.sub(r" \(\d+ wards?\)$", "", trace.get("name", ""))   # "5–10 (1 ward)"
            assert not re.search(r"(?<![\d,.])[1-4](?![\d,.])", label), \
                f"a legend entry names a count of 1-4: {trace['name']}"
            for code, hover in zip(trace["locations"], trace.get("text", [])):
                if code not in chosen:
                    continue
                true = int((now["ward_code"] == code).sum())
                shown = "<5" if 1 <= true <= 4 else f"{P.count(true):,.0f}"
                assert f"{unit[0].upper()}{unit[1:]}: {shown}<br>" in hover + "<br>", hover
                if 1 <= true <= 4:
                    assert not re.search(rf": {true}(?![\d.,])", hover), hover
            assert plotly_array(trace["z"]).tolist() == [1.0] * len(trace["locations"])
        no_statistic(strings_in(ward_map), "the ward map")
        page = made[f"cdp-ward-map-{key}.html"]().decode("utf-8")    # the map as a file
        page = page[page.rindex("Plotly.newPlot"):]                  # its data, after plotly.js
        for code in chosen:
            true = int((now["ward_code"] == code).sum())
            if 1 <= true <= 4:
                assert not re.search(rf"{unit}: {true}(<br>|\\u003cbr|\\\\u003cbr)", page, re.IGNORECASE)
        no_statistic([page], "the map's HTML file")

    # The CSV: counts as shown, the class column from published values, no p-value.
    csv_name = f"cdp-wards-{key}-{f.start:%Y-%m}-{f.end:%Y-%m}.csv"   # made by this view's run
    if csv_name in made and len(wards):
        exported = list(csv.DictReader(io.StringIO(made[csv_name]().decode("utf-8"))))
        assert "p_value" not in exported[0]
        class_column = next(c for c in exported[0] if c.startswith("Class"))
        for line in exported:
            assert line["count"] == wards.loc[line["ward_name"], "Count"]
            for number in re.findall(r"[\d,]+(?:\.\d+)?", line[class_column]):
                if "rate" not in class_column.lower() and "%" not in line[class_column]:
                    assert float(number.replace(",", "")) % 5 == 0, line[class_column]
            if line["count"] == "<5":
                assert line["rate_per_1000"] == "" and line["pct_change"] in ("*", "")
            if population and line["rate_per_1000"] and line["count"] not in ("<5", "*"):
                assert abs(float(line["rate_per_1000"]) * float(line["population"]) / 1000
                           - shown_value(line["count"])) < 0.01 * float(line["population"]) / 1000 + 1e-6

    # Gi*: the caption's total ("of the N crimes placed on the grid"), categories only in hovers;
    # CCTV: "A of N" incidents in a camera's view, N the same total.
    located = now[now["easting"].notna()]
    for text in texts:
        found = re.search(r"of the (\S+) .* placed on the grid", text)
        if found:
            assert found.group(1) == "<5" or shown_value(found.group(1)) % 5 == 0
            seen.add(ids(located, slice(None)), found.group(1), "total")
    for m in at.metric:
        if m.label.endswith("in a camera's view") and m.proto.delta:
            seen.add(ids(located, slice(None)), m.proto.delta.split(" of ")[1], "total")
    grid = next((fig for fig in plotly(at) if any(t["type"] == "heatmap" for t in fig["data"])), None)
    if grid is not None:
        heat = next(t for t in grid["data"] if t["type"] == "heatmap")
        for text in strings_in(heat.get("text", [])):
            assert not re.search(r"\d", text.replace(" m square", "").replace("250", "")), text

    # The drill-down: the ward's line, its streets and premises, the density squares.
    if drilled:
        here = now[now["ward_code"] == drilled]
        line = next((t for t in texts if t.startswith(f"**{names[drilled]}**:")), None)
        if line is not None:                 # the drill-down's tab (else the wards' table's)
            seen.add(ids(now, now["ward_code"] == drilled), line.split(":")[1].split()[0])
            if len(wards):
                assert line.split(":")[1].split()[0] == wards.loc[names[drilled], "Count"]
        for frame in [d.value for d in at.dataframe if "Place" in d.value.columns]:
            for _, row in frame.iterrows():
                assert row["Count"] != "<5"          # places of 1-4 are not listed for the board
                if "Type" in frame:                  # a premises, by its label
                    cell = here["premises_id"] == premises.get(row["Place"])
                else:                                # a street, by its key
                    cell = here["street_key"] == places.street_key(pd.Series([row["Place"]])).iat[0]
                if cell.any():
                    seen.add(ids(here, cell), row["Count"])
        density = next((fig for fig in plotly(at) if any(t["type"] == "contour" for t in fig["data"])), None)
        if density is not None:
            trace = next(t for t in density["data"] if t["type"] == "contour")
            xs, ys, zs = (plotly_array(trace[k]) for k in ("x", "y", "z"))
            placed = here[here["easting"].notna()]
            col = np.floor(placed["easting"] / 100).astype(int)
            row = np.floor(placed["northing"] / 100).astype(int)
            for x, y, z in zip(xs, ys, zs):
                cell = ids(placed, (col == int(x // 100)) & (row == int(y // 100)))
                true = len(cell)
                assert z == 0 or z % 5 == 0, z
                if 1 <= true <= 4:
                    assert z == 0, f"a density square of {true} is drawn as {z}"
                seen.add(cell, "0", "upto") if z == 0 else seen.add(cell, f"{z:.0f}")
            assert all(text in ("0", "") or shown_value(text) % 5 == 0 for text in trace.get("text", []))
    no_statistic(texts, "the maps page")


MAP_SECTIONS = ("Hot spots (Gi*)", "CCTV coverage", "Deprivation", "By NAT area")   # the tabs under the maps


def observe_every_section(at, *args, **kwargs) -> None:
    """observe_maps with each tab under the maps open in turn: only the open one is sent."""
    for section in MAP_SECTIONS:
        at.session_state["maps_section"] = section
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        observe_maps(at, *args, **kwargs)


def test_the_board_cannot_work_back_a_small_count_from_the_maps_page(board, incidents, demo_db, population):
    key, ward = small_view(incidents)
    con = store.connect(demo_db, read_only=True)
    names = queries.ward_names(con)
    premises = places.premises_table(con).set_index("label")["premises_id"].to_dict()
    con.close()
    everyone = sorted(names)
    seen = Attacker()
    views = [("Latest month", everyone, None), ("Latest month", [w for w in everyone if w != ward], None),
             ("Latest month", [ward], ward), ("Last 3 months", everyone, ward),
             ("Last 3 months", [w for w in everyone if w != ward], None)]
    for i, (period, wards, drilled) in enumerate(views):
        at, made = board(MAPS)
        f = set_view(at, key, period, wards if wards != everyone else [], drilled, per_resident=i % 2 == 1)
        observe_every_section(at, made, f, key, incidents, names, seen, population, drilled, premises)
        if drilled:                          # the wards' table beside the map, a tab away
            at.session_state["maps_view"] = "All wards"
            at.run()
            observe_maps(at, made, f, key, incidents, names, seen, population, drilled, premises)
    # Each priority, all wards, the latest month.
    for other in KEYS:
        if other == key:
            continue
        at, made = board(MAPS)
        f = set_view(at, other, "Latest month")
        observe_every_section(at, made, f, other, incidents, names, seen, population)
    assert sum(_small(shown) for _, shown, _ in seen.seen) >= 5   # the views hold several "<5"
    assert seen.worked_back() == []


def test_an_analyst_sees_true_counts_and_may_download_the_csv_for_publication(
        demo_db, incidents, population, downloads, monkeypatch):
    monkeypatch.setenv("CDP_STORE", str(demo_db))
    key, ward = small_view(incidents)
    at = open_app(MAPS)
    f = set_view(at, key, "Latest month")
    at.toggle(key="maps_per_resident").set_value(True).run()
    wards = table(at, "Ward").set_index("Ward")
    assert (wards["Count"] != "<5").all() and (wards["Per 1,000"] != "").all()   # true values
    name = f"cdp-wards-{key}-{f.start:%Y-%m}-{f.end:%Y-%m}"
    analyst = list(csv.DictReader(io.StringIO(downloads[f"{name}.csv"]().decode("utf-8"))))
    assert "p_value" in analyst[0] and not any(line["count"] == "<5" for line in analyst)
    at.toggle(key="maps_public").set_value(True).run()
    assert not at.exception
    published = list(csv.DictReader(io.StringIO(downloads[f"{name}-published.csv"]().decode("utf-8"))))
    assert "p_value" not in published[0]
    for true, shown in zip(analyst, published):
        assert shown["count"] == P.text(int(true["count"]))
        if shown["count"] == "<5":
            assert shown["rate_per_1000"] == ""      # a rate beside its population would give it away
    assert any(line["count"] == "<5" for line in published)
    assert (table(at, "Ward").set_index("Ward")["Count"] == wards["Count"]).all()   # the page is unchanged


# --- the briefing --------------------------------------------------------------------------------

def observe_briefing(at, made, wards, incidents, names, seen: Attacker, con) -> None:
    targets = plan.load_targets()
    data = briefing.briefing_data(con, tuple(wards), targets)
    chosen = list(wards) or sorted(names)
    here = incidents[incidents["ward_code"].isin(chosen)]
    latest = in_period(here, data.latest_start, data.latest_end)
    baseline = in_period(here, targets.baseline_start, targets.baseline_end)
    texts = page_text(at)
    headers = [h.value for h in at.subheader]
    metrics = [m.value for m in at.metric]
    charts = page_charts(at)
    no_statistic(texts, "the briefing")
    keys = ["crime" if t == "All recorded crime" else next(p.key for p in PRIORITIES if p.label == t)
            for t in headers]
    for key, headline in zip(keys, metrics):   # the latest 12 months, rounded on their own
        rows = here[here[key]]
        seen.add(ids(rows, latest[rows.index]), headline, "total")
    # The control charts, in panel order: each of the last 24 months as published, a month with
    # no point being a gap for "<5".
    months = pd.date_range(end=pd.Timestamp(data.latest_end), periods=briefing.CHART_MONTHS, freq="MS")
    for key, svg in zip(keys, charts):
        rows = here[here[key]]
        plotted = chart_points(svg)
        for month in months:
            cell = ids(rows, rows["month"] == month)
            true, y = len(cell), plotted.get(month, math.nan)
            if 1 <= true <= 4:
                assert math.isnan(y), f"{key} {month:%b %Y}: a month of {true} plotted as {y}"
            seen.add(cell, "<5" if math.isnan(y) else f"{y:.0f}")
    # The baseline totals, in panel order.
    against = [re.search(r"Against (\S+) in the baseline year", t) for t in texts]
    against = [m.group(1) for m in against if m]
    for key, shown in zip(keys, against):
        rows = here[here[key]]
        seen.add(ids(rows, baseline[rows.index]), shown, "total")
    # Exceptions: a ward's latest 3 months, and its baseline months (expected x years).
    for _, row in data.exceptions.iterrows():
        name = names.get(row["ward_code"], row["ward_code"])
        label = PRIORITY_BY_KEY[row["priority"]].label
        sentence = next((t for t in texts if t.startswith(f"- {label} in {name}:")), None)
        if sentence is None:
            continue
        observed, expected = re.search(r": (\S+) \w+ in .* than the ([\d,.]+) expected", sentence).groups()
        rows = incidents[incidents[row["priority"]] & (incidents["ward_code"] == row["ward_code"])]
        end = pd.Timestamp(data.latest_end)
        current = [end - pd.DateOffset(months=k) for k in range(3)]
        before = [m - pd.DateOffset(years=y) for y in range(1, int(row["baseline_years"]) + 1) for m in current]
        seen.add(ids(rows, rows["month"].isin(current)), observed if observed != "no" else "0")
        seen.add(ids(rows, rows["month"].isin(before)), f"{float(expected) * row['baseline_years']:.0f}")
    # The HTML deck says what the page says: every sentence of it is on the page.
    deck = made["board-briefing.html"]().decode("utf-8")
    no_statistic([deck], "the HTML deck")
    page = " ".join(texts)
    for sentence in re.findall(r"<p>([^<]+)</p>", deck):
        sentence = sentence.replace("&#x27;", "'").replace("&quot;", '"').replace("&lt;", "<").replace("&amp;", "&")
        assert sentence.rstrip(".") in page, sentence
    for headline in re.findall(r'<p class="headline">([^<]+)<small>', deck):
        assert headline.replace("&lt;", "<") in metrics


def test_the_board_cannot_work_back_a_small_count_from_the_briefing(board, incidents, demo_db):
    key, ward = small_view(incidents)
    con = store.connect(demo_db, read_only=True)
    names = queries.ward_names(con)
    everyone = sorted(names)
    seen = Attacker()
    try:
        for wards in ([], [ward], [w for w in everyone if w != ward]):
            at, made = board(BRIEFING)
            if wards:
                at.multiselect(key="f_wards").set_value(wards).run()
            assert not at.exception
            observe_briefing(at, made, wards, incidents, names, seen, con)
    finally:
        con.close()
    assert sum(_small(shown) for _, shown, _ in seen.seen) >= 3
    assert seen.worked_back() == []


def test_an_exact_total_beside_the_parts_would_be_caught(incidents):
    """The attacker is not toothless here: an unrounded total beside the wards gives a "<5" away."""
    key, ward = small_view(incidents)
    last = incidents["month"].max()
    rows = incidents[incidents[key] & (incidents["month"] == last)]
    seen = Attacker()
    for code, group in rows.groupby("ward_code"):
        seen.add(ids(group, slice(None)), P.text(len(group)))
    seen.add(ids(rows, slice(None)), f"{len(rows)}", "exact")
    others = rows[rows["ward_code"] != ward]
    seen.add(ids(others, slice(None)), f"{len(others)}", "exact")
    assert seen.worked_back()
