"""Hotspot maps: ward counts, rates and changes, class breaks, ward drill-down, Gi* hot spots and
the concentration headline.

Queries take a DuckDB connection first and hashable arguments (so pages can cache them with
`context.cached`) and aggregate in DuckDB; row-level pulls are bounded to one ward, one priority
and one period. Figure builders take those results and return plotly figures that draw offline:
ward and grid polygons on a blank geo layer; street tiles under the grid maps only through cdp.basemap.
"""
from __future__ import annotations

import hashlib
import json
import math
import threading
import urllib.parse
import warnings
from dataclasses import dataclass

import duckdb
import geopandas as gpd
import mapclassify
import numpy as np
import pandas as pd
import plotly.colors as pcolors
import plotly.graph_objects as go
import shapely
from scipy import stats as sstats

from . import basemap, counting, disclosure, geography, hotspots, places
from . import filters as flt
from .areas import NO_AREA, Areas, by_area
from .charts import PALETTE
from .disclosure import WITHHELD, TrueValues
from .markup import chart, chart_series
from .stats import compare_periods, format_p

CELL_SIZE_M = 250
TOP_SHARE = 0.05
ALPHA = 0.05
PERMUTATIONS = 999
WARD_TOLERANCE_M = 20  # simplification of ward outlines for drawing
DENSITY_CELL_M = 100   # the drill-down's density surface is built from 100 m bins
SCHEMES = {"natural_breaks": "Natural breaks (Fisher-Jenks)", "quantiles": "Quantiles"}
HOTSPOT_COLOURS = {"hot spot": "#d7301f", "cold spot": "#2c7bb6", "not significant": "#ececec"}
NO_DATA_COLOUR = "#e3e3e3"
NOT_SELECTED_COLOUR = "#f4f4f4"
VERDICT_SYMBOLS = {"significant rise": "triangle-up", "significant fall": "triangle-down"}
NO_STREET = "(no street recorded)"
SHORT_VERDICTS = {"significant rise": "▲ significant rise", "significant fall": "▼ significant fall",
                  "no significant change": "not significant"}

# plotly.js fetches a world topojson from its CDN for every geo map, even one drawn only from our
# own GeoJSON with the base layers hidden; offline that fetch fails and nothing is drawn. An empty
# topology served as a data: URL (the fragment swallows the file name plotly appends) makes the
# maps draw with no network at all.
EMPTY_TOPOJSON_URL = ("data:application/json;charset=utf-8,"
                      + urllib.parse.quote(json.dumps({"type": "Topology", "objects": {}, "arcs": []}))
                      + "#/")


def plotly_config(filename: str = "cdp-map", **extra) -> dict:
    """The plotly config for the page's maps: offline topojson, a PNG button, no plotly logo."""
    return {"topojsonURL": EMPTY_TOPOJSON_URL, "displaylogo": False,
            "toImageButtonOptions": {"format": "png", "filename": filename, "scale": 2}, **extra}


# --- ward counts -----------------------------------------------------------------------------

def ward_counts(con: duckdb.DuckDBPyConnection, f: flt.Filters, priority: str) -> pd.DataFrame:
    """Every ward of the loaded boundaries with its counted incidents of `priority` in the period
    and in the same months a year earlier (0 where none).

    Columns: ward_code, ward_name, selected (in the ward filter, or no ward filter), count,
    previous (a year earlier). Wards outside the ward filter have count and previous missing (NA).
    """
    year = f.year_earlier()
    condition, params = flt.where(f, period=False, priority=priority)
    frame = con.execute(f"""
        WITH c AS (
            SELECT ward_code, count(*) FILTER (WHERE month >= ?) AS count,
                   count(*) FILTER (WHERE month <= ?) AS previous
            FROM incidents
            WHERE (month BETWEEN ? AND ? OR month BETWEEN ? AND ?) AND {condition}
            GROUP BY ward_code)
        SELECT w.ward_code, w.ward_name, coalesce(c.count, 0) AS count,
               coalesce(c.previous, 0) AS previous
        FROM wards w LEFT JOIN c USING (ward_code) ORDER BY w.ward_code""",
                        [f.start, year.end, year.start, year.end, f.start, f.end, *params]).df()
    frame.insert(2, "selected", frame["ward_code"].isin(f.wards) if f.wards else True)
    for column in ("count", "previous"):
        frame[column] = frame[column].astype("Int64").where(frame["selected"])
    return frame


def mapping_coverage(con: duckdb.DuckDBPyConnection, f: flt.Filters, priority: str) -> dict:
    """What the map shows of the period's incidents of `priority`: `counted` (in the mapped
    wards) and `not_counted` (cdp.counting.NotCounted: outside the area, unlocated, superseded)."""
    condition, params = flt.where(f, priority=priority)
    counted = con.execute(f"SELECT count(*) FROM incidents WHERE {condition}", params).fetchall()[0][0]
    return {"counted": int(counted), "not_counted": counting.not_counted(con, f, priority)}


def change_not_compared(con: duckdb.DuckDBPyConnection, f: flt.Filters, priority: str) -> str | None:
    """None when the period may be compared with the same months a year earlier for `priority`
    (complete months of one coverage, cdp.counting), else why not."""
    year = f.year_earlier()
    return counting.months(con).comparable(priority, (f.start, f.end), (year.start, year.end))


def add_changes(counts: pd.DataFrame, months: int, compare: bool = True) -> pd.DataFrame:
    """A copy of `ward_counts` with each selected ward's change on the same months a year
    earlier: pct_change, rate_ratio, p_value and verdict (exact rate-ratio test,
    `stats.compare_periods`).

    With `compare` False (the year earlier may not be compared) these and `previous` are missing.
    """
    table = counts.copy()
    changes = [compare_periods(int(c), int(p), months, months) if compare and sel else None
               for c, p, sel in zip(table["count"].fillna(0), table["previous"].fillna(0),
                                    table["selected"])]
    table["pct_change"] = [c.pct_change if c and c.pct_change is not None else np.nan for c in changes]
    table["rate_ratio"] = [c.ratio if c else np.nan for c in changes]
    table["p_value"] = [c.p_value if c else np.nan for c in changes]
    table["verdict"] = [c.verdict if c else None for c in changes]
    if not compare:
        table["previous"] = pd.array([pd.NA] * len(table), dtype="Int64")
    return table


def ward_changes(con: duckdb.DuckDBPyConnection, f: flt.Filters, priority: str) -> pd.DataFrame:
    """`ward_counts` with the change on the same months a year earlier (see `add_changes`),
    compared only when `change_not_compared` allows it."""
    return add_changes(ward_counts(con, f, priority), f.months,
                       change_not_compared(con, f, priority) is None)


def ward_table(changes: pd.DataFrame, population: pd.Series | None = None,
               imd: pd.DataFrame | None = None) -> pd.DataFrame:
    """The table behind the ward map: `ward_changes` plus population and rate_per_1000 (missing
    without a population for the ward) and imd_score (missing without IMD)."""
    table = changes.copy()
    pop = (population.reindex(table["ward_code"]).to_numpy(dtype=float) if population is not None
           else np.full(len(table), np.nan))
    table["population"] = pop
    table["rate_per_1000"] = table["count"].astype(float).to_numpy() / pop * 1000
    table["imd_score"] = (imd.set_index("ward_code")["imd_score"].reindex(table["ward_code"]).to_numpy()
                          if imd is not None else np.nan)
    return table


def area_table(table: pd.DataFrame, areas: Areas, months: int, compare: bool = True) -> pd.DataFrame:
    """`ward_table` summed by NAT area over the selected wards, with each area's change on the
    previous period (the same test as a ward's) and its rate per 1,000 residents when every one of
    its wards has a population. The area's name is in ward_code and ward_name, so `display_table`
    reads it; wards in no area are summed under areas.NO_AREA. `wards` holds each area's ward
    codes (the parts its totals are published beside, `publish`)."""
    rows = table[table["selected"]]
    summed = by_area(rows, areas, sums=("count", "previous"))
    known = rows.assign(missing=rows["population"].isna().astype(int))
    people = by_area(known, areas, sums=("population", "missing"))
    summed = add_changes(summed.assign(ward_name=summed["ward_code"], selected=True), months, compare)
    population = people.set_index("ward_code")
    summed["population"] = population["population"].where(population["missing"] == 0).reindex(
        summed["ward_code"]).to_numpy(dtype=float)
    summed["rate_per_1000"] = summed["count"].astype(float).to_numpy() / summed["population"] * 1000
    summed["imd_score"] = np.nan  # a ward average score does not add up over wards
    owner = {code: area.name for area in areas.areas for code in area.ward_codes}
    members = rows["ward_code"].map(owner).fillna(NO_AREA)
    summed["wards"] = [tuple(rows.loc[members == name, "ward_code"]) for name in summed["ward_code"]]
    return summed


def display_area_table(table: pd.DataFrame) -> pd.DataFrame:
    """`display_table` of a published `area_table`, headed "NAT area", the areas in their file's order."""
    return display_table(table, ranked_by=None).rename(columns={"Ward": "NAT area"})


# --- disclosure control: the tables as a viewer is shown them ----------------------------------

def _change_text(pct) -> str:
    return "n/a" if pct is None or pd.isna(pct) else f"{pct:+.0f}%" if round(pct) else "0%"


def publish(table: pd.DataFrame, figures: TrueValues, months: int,
            wards: pd.DataFrame | None = None) -> pd.DataFrame:
    """A ward table (or, with `wards`, the ward table its rows are totals of, an `area_table`) as
    `figures` shows it, made before any chart, table or export is built from it.

    Adds count_text, previous_text and change_text (as shown). For restricted figures
    (cdp.disclosure) count and previous are replaced by their published values (NaN for "<5"; an
    area's totals rounded on their own beside its wards' counts), and the change, verdict and rate
    are worked out from those published values, only when both are publishable; the p-value and
    rate ratio are dropped. True figures are left as they are."""
    out = table.copy()
    selected = out["selected"].to_numpy(bool)
    if not figures.restricted:
        out["count_text"] = [figures.text(v) if s else "" for v, s in zip(out["count"], selected)]
        out["previous_text"] = [figures.text(v) if s else "" for v, s in zip(out["previous"], selected)]
        out["change_text"] = [_change_text(p) for p in out["pct_change"]]
        return out
    if wards is None:
        count = [figures.count(v) if s else math.nan for v, s in zip(table["count"], selected)]
        previous = [figures.count(v) if s else math.nan for v, s in zip(table["previous"], selected)]
    else:
        parts = wards.set_index("ward_code")
        count = [figures.total(v, list(parts.loc[list(codes), "count"]))
                 for v, codes in zip(table["count"], table["wards"])]
        previous = [None if pd.isna(v) else figures.total(v, list(parts.loc[list(codes), "previous"]))
                    for v, codes in zip(table["previous"], table["wards"])]
    out["count_text"] = [figures.shown_text(c) if s else "" for c, s in zip(count, selected)]
    out["previous_text"] = [figures.shown_text(p) if s and not pd.isna(t) else ""
                            for p, s, t in zip(previous, selected, table["previous"])]
    compared = table["verdict"].notna().to_numpy()
    changes = [compare_periods(int(c), int(p), months, months)
               if was and disclosure.usable(c) and disclosure.usable(p) else None
               for c, p, was in zip(count, previous, compared)]
    out["count"] = pd.array([np.nan if c is None else c for c in count], dtype="Float64")
    out["previous"] = pd.array([np.nan if p is None else p for p in previous], dtype="Float64")
    out["pct_change"] = [np.nan if ch is None or ch.pct_change is None else ch.pct_change for ch in changes]
    out["verdict"] = [ch.verdict if ch else None for ch in changes]
    out["rate_ratio"], out["p_value"] = np.nan, np.nan
    out["change_text"] = [_change_text(ch.pct_change) if ch else WITHHELD if was else "n/a"
                          for ch, was in zip(changes, compared)]
    rate = TrueValues().rate
    out["rate_per_1000"] = [rate(c, n) if disclosure.usable(c) else None
                            for c, n in zip(count, out["population"])]
    out["rate_per_1000"] = out["rate_per_1000"].astype(float)
    return out


# --- class breaks ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Classes:
    """Class breaks for a choropleth: each value's class (-1 when missing) and the legend."""
    index: np.ndarray            # class of each input value, -1 when the value is missing
    labels: tuple[str, ...]      # one readable range per class, low to high
    lower: tuple[float, ...]     # lowest value a class can hold (the first: the minimum)
    upper: tuple[float, ...]     # highest value a class can hold
    sizes: tuple[int, ...]       # how many values fall in each class
    scheme: str

    @property
    def k(self) -> int:
        return len(self.labels)


def _format(value: float, kind: str) -> str:
    if kind == "count":
        return f"{value:,.0f}"
    if kind == "percent":
        return f"{value:+.0f}%" if round(value) else "0%"
    return f"{value:,.1f}"


def _range_label(low: float, high: float, kind: str) -> str:
    low_text, high_text = _format(low, kind), _format(high, kind)
    if low_text == high_text:
        return low_text
    return f"{low_text}–{high_text}" if kind == "count" else f"{low_text} to {high_text}"


def classify(values, scheme: str = "natural_breaks", k: int = 5, kind: str = "count",
             step: int = 1) -> Classes:
    """Class breaks with mapclassify: Fisher-Jenks natural breaks or quantiles.

    Missing values are left out (class -1). With fewer distinct values than `k`, there are as many
    classes as distinct values; classes left empty (quantiles with ties) are dropped. `kind`
    ("count", "rate", "percent", "score") decides how labels read: counts are whole numbers, so a
    class (12, 25] reads "13–25"; published counts (multiples of `step`, cdp.disclosure) read in
    steps, so (10, 25] reads "15–25". Breaks are found from the values given: a restricted view
    gives its published values, so no break or legend entry rests on a count shown as "<5".
    """
    if scheme not in SCHEMES:
        raise ValueError(f"unknown class scheme {scheme!r}; choose one of {', '.join(SCHEMES)}")
    y = pd.to_numeric(pd.Series(values, dtype="Float64"), errors="coerce").to_numpy(dtype=float,
                                                                                   na_value=np.nan)
    ok = ~np.isnan(y)
    index = np.full(len(y), -1, dtype=int)
    distinct = np.unique(y[ok])
    if len(distinct) == 0:
        return Classes(index, (), (), (), (), scheme)
    k = max(1, min(int(k), len(distinct)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Numba not installed", "not enough unique values"
        if k == 1:
            bins = np.array([distinct[-1]])
        elif scheme == "natural_breaks":
            bins = np.asarray(mapclassify.FisherJenks(y[ok], k=k).bins, dtype=float)
        else:
            bins = np.asarray(mapclassify.Quantiles(y[ok], k=k).bins, dtype=float)
    bins = np.unique(bins)
    raw = np.searchsorted(bins, y[ok], side="left")  # class i holds (bins[i-1], bins[i]]
    used = np.unique(raw)
    index[ok] = np.searchsorted(used, raw)
    lower, upper, labels, sizes = [], [], [], []
    for position, i in enumerate(used):
        members = y[ok][raw == i]
        if position == 0:
            low = float(members.min())
        elif kind == "count":
            low = (math.floor(bins[i - 1] / step) + 1.0) * step
        else:
            low = float(bins[i - 1])
        high = float(math.floor(bins[i] / step) * step) if kind == "count" else float(bins[i])
        lower.append(low)
        upper.append(high)
        labels.append(_range_label(low, high, kind))
        sizes.append(int(len(members)))
    return Classes(index, tuple(labels), tuple(lower), tuple(upper), tuple(sizes), scheme)


def class_colours(classes: Classes, colorscale: str = "YlOrRd", diverging: bool = False) -> list[str]:
    """One colour per class: sequential, or diverging around 0 (for changes)."""
    if classes.k == 0:
        return []
    if diverging:
        middle = [(lo + hi) / 2 for lo, hi in zip(classes.lower, classes.upper)]
        extent = max(abs(v) for v in (*classes.lower, *classes.upper)) or 1.0
        return pcolors.sample_colorscale(colorscale, [min(1.0, max(0.0, 0.5 + m / (2 * extent)))
                                                      for m in middle])
    if classes.k == 1:
        positions = [0.6]
    else:
        positions = list(np.linspace(0.15, 1.0, classes.k))
    if classes.upper[0] == 0:   # a class of nothing but zeros is the palest
        positions[0] = 0.0
    return pcolors.sample_colorscale(colorscale, positions)


# --- the ward map ----------------------------------------------------------------------------

def verdict_text(verdict, p_value) -> str:
    """'significant rise, p = 0.012' (the p-value only where the table has one: true figures)."""
    if not isinstance(verdict, str):
        return ""
    return verdict if pd.isna(p_value) else f"{verdict}, {format_p(p_value)}"


def missing_legend(column: str, figures: TrueValues, classes: Classes, colours: list[str],
                   colorscale: str = "YlOrRd") -> tuple[str, str]:
    """The legend entry and colour of selected wards in no class: those without a value and,
    for a restricted view, those shown as "<5" (on a count map coloured with the lowest class
    when it runs from 0 past 4, else between 0 and the classes above 4)."""
    label = {"pct_change": "none a year earlier", "rate_per_1000": "no population",
             "imd_score": "no IMD score"}.get(column, "no value")
    if not figures.restricted or column == "imd_score":
        return label, NO_DATA_COLOUR
    small = f"fewer than {figures.rule.threshold}"
    if column != "count":
        return f"{small} or {label}", NO_DATA_COLOUR
    if classes.k and classes.lower[0] == 0 and classes.upper[0] > 0:
        return small, colours[0]
    return small, pcolors.sample_colorscale(colorscale, [0.08])[0]


def class_step(figures: TrueValues) -> int:
    """The step of the counts `figures` shows (its rounding base; 1 for true values)."""
    return figures.rule.base if figures.restricted else 1


def hover_text(table: pd.DataFrame, unit: str) -> list[str]:
    """One hover label per ward of a published table (`publish`): name, count, a year earlier,
    change and verdict (with its p-value only for true figures), rate, IMD score."""
    out = []
    for row in table.itertuples(index=False):
        lines = [f"<b>{chart(row.ward_name)}</b>"]
        if not row.selected:
            out.append(lines[0] + "<br>not in the ward filter")
            continue
        lines.append(f"{unit[0].upper()}{unit[1:]}: {row.count_text or 'n/a'}")
        if row.previous_text:
            lines.append(f"A year earlier: {row.previous_text} ({row.change_text})")
            if isinstance(row.verdict, str):
                lines.append(row.verdict if pd.isna(row.p_value) else f"{row.verdict} ({format_p(row.p_value)})")
        if not pd.isna(row.rate_per_1000):
            lines.append(f"{row.rate_per_1000:,.1f} per 1,000 residents")
        if not pd.isna(row.imd_score):
            lines.append(f"IMD 2019 score: {row.imd_score:.1f}")
        out.append("<br>".join(lines))
    return out


def ward_centres(geojson: dict) -> pd.DataFrame:
    """A point inside each ward polygon (for labels and markers): ward_code, ward_name, lon, lat."""
    rows = []
    for feature in geojson.get("features", []):
        point = shapely.geometry.shape(feature["geometry"]).representative_point()
        rows.append((feature["properties"]["ward_code"], feature["properties"]["ward_name"],
                     point.x, point.y))
    return pd.DataFrame(rows, columns=["ward_code", "ward_name", "lon", "lat"])


def ward_features(geojson: dict, codes) -> dict:
    """The part of a ward FeatureCollection a trace draws (so no trace ships every polygon)."""
    wanted = set(codes)
    # Only the code travels with each shape: names reach the map through escaped hover text.
    return {"type": "FeatureCollection",
            "features": [{"type": "Feature", "geometry": ft["geometry"],
                          "properties": {"ward_code": ft["properties"]["ward_code"]}}
                         for ft in geojson.get("features", []) if ft["properties"]["ward_code"] in wanted]}


def _blank_geo(fig: go.Figure, height: int) -> go.Figure:
    fig.update_geos(fitbounds="locations", visible=False, projection_type="mercator",
                    bgcolor="rgba(0,0,0,0)")
    fig.update_layout(height=height, margin={"l": 0, "r": 0, "t": 30, "b": 0},
                      paper_bgcolor="rgba(0,0,0,0)", clickmode="event+select",
                      legend={"yanchor": "top", "y": 0.98, "xanchor": "left", "x": 0.0,
                              "bgcolor": "rgba(255,255,255,0.8)"})
    return fig


def ward_choropleth(table: pd.DataFrame, geojson: dict, classes: Classes, colours: list[str],
                    legend_title: str, hover: list[str], centres: pd.DataFrame | None = None,
                    mark_changes: bool = False, missing_label: str = "no value",
                    title: str = "", height: int = 560, missing_colour: str = NO_DATA_COLOUR,
                    drilled: str | None = None) -> go.Figure:
    """Wards coloured by class, one legend entry per class ("13–25 (4 wards)"), names on hover.

    Wards without a value (e.g. no population, no previous incidents) are grey and listed as
    `missing_label` (in `missing_colour`), wards outside the ward filter paler grey. `title` names what is shown (it
    travels with a saved PNG or HTML). With `centres`, ward names are written on the map; with `mark_changes`, a
    triangle marks each ward with a significant rise or fall; the `drilled` ward is outlined. Every
    ward trace carries the ward code as customdata, so a click selection names the ward.
    """
    fig = go.Figure()
    codes = table["ward_code"].to_numpy()
    hover = np.asarray(hover, dtype=object)
    selected = table["selected"].to_numpy(dtype=bool)
    for k, (label, size, colour) in enumerate(zip(classes.labels, classes.sizes, colours)):
        member = classes.index == k
        fig.add_trace(go.Choropleth(
            geojson=ward_features(geojson, codes[member]), featureidkey="properties.ward_code",
            locations=codes[member], z=np.ones(member.sum()), colorscale=[[0, colour], [1, colour]],
            showscale=False, name=f"{label} ({size} ward{'s' if size != 1 else ''})", showlegend=True,
            legendgroup=f"class{k}", customdata=codes[member], text=hover[member],
            hovertemplate="%{text}<extra></extra>", marker_line={"color": "white", "width": 1}))
    for member, colour, name in (((classes.index < 0) & selected, missing_colour, missing_label),
                                 (~selected, NOT_SELECTED_COLOUR, "not in the ward filter")):
        if member.any():
            fig.add_trace(go.Choropleth(
                geojson=ward_features(geojson, codes[member]), featureidkey="properties.ward_code",
                locations=codes[member],
                z=np.ones(member.sum()), colorscale=[[0, colour], [1, colour]], showscale=False,
                name=name, showlegend=True, customdata=codes[member], text=hover[member],
                hovertemplate="%{text}<extra></extra>", marker_line={"color": "white", "width": 1}))
    if drilled in set(codes):
        fig.add_trace(go.Choropleth(
            geojson=ward_features(geojson, [drilled]), featureidkey="properties.ward_code",
            locations=[drilled], z=[1], colorscale=[[0, "rgba(0,0,0,0)"], [1, "rgba(0,0,0,0)"]],
            showscale=False, name="drilled into", showlegend=False, hoverinfo="skip",
            marker_line={"color": "#111111", "width": 3}))
    if mark_changes and centres is not None and "verdict" in table:
        marked = table.merge(centres[["ward_code", "lon", "lat"]], on="ward_code")
        for verdict, symbol in VERDICT_SYMBOLS.items():
            rows = marked[marked["verdict"] == verdict]
            if len(rows):
                fig.add_trace(go.Scattergeo(
                    lon=rows["lon"], lat=rows["lat"], mode="markers", name=verdict,
                    marker={"symbol": symbol, "size": 13, "color": "black",
                            "line": {"color": "white", "width": 1}},
                    customdata=rows["ward_code"], hoverinfo="skip"))
    if centres is not None and len(centres):
        fig.add_trace(go.Scattergeo(lon=centres["lon"], lat=centres["lat"],
                                    text=chart_series(centres["ward_name"]),
                                    mode="text", textposition="bottom center" if mark_changes
                                    else "middle center", textfont={"size": 10, "color": "#222222",
                                                           "shadow": "auto"},
                                    hoverinfo="skip", showlegend=False))
    fig.update_layout(legend_title_text=legend_title,
                      title={"text": title, "x": 0, "font": {"size": 14}} if title else None)
    _blank_geo(fig, height)
    fig.update_geos(domain={"x": [0.2, 1.0]})  # room for the legend on the left
    return fig


def empty_figure(message: str, height: int = 300) -> go.Figure:
    """A figure that says why there is nothing to draw (never an empty chart)."""
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, font={"size": 15}, x=0.5, y=0.5,
                       xref="paper", yref="paper")
    fig.update_layout(height=height, xaxis={"visible": False}, yaxis={"visible": False},
                      margin={"l": 0, "r": 0, "t": 0, "b": 0})
    return fig


def selected_ward(selection, wards_shown) -> str | None:
    """The ward code named by a plotly click/box selection on the ward map, if any."""
    points = (selection or {}).get("points") or []
    for point in points:
        for key in ("customdata", "location"):
            value = point.get(key)
            if isinstance(value, list) and value:
                value = value[0]
            if isinstance(value, str) and value in wards_shown:
                return value
    return None


def export_table(table: pd.DataFrame, classes: Classes, class_title: str = "class",
                 figures: TrueValues = TrueValues()) -> pd.DataFrame:
    """The table behind the map as `figures` published it (`publish`), one row per ward in the
    filter, with each ward's class (under `class_title`). Restricted figures give counts as shown
    ("<5", rounded) and no p-value."""
    columns = ["ward_code", "ward_name", "count", "previous", "pct_change", "verdict", "p_value",
               "population", "rate_per_1000", "imd_score"]
    out = table.loc[table["selected"], columns].copy()
    labels = np.asarray(classes.labels + ("no value",), dtype=object)
    position = np.where(classes.index < 0, len(classes.labels), classes.index)
    out.insert(2, class_title, labels[position][table["selected"].to_numpy()])
    out["pct_change"] = out["pct_change"].round(1)
    out["rate_per_1000"] = out["rate_per_1000"].round(2)
    if figures.restricted:
        rows = table.loc[table["selected"]]
        out["count"] = rows["count_text"].to_numpy()
        out["previous"] = rows["previous_text"].to_numpy()
        out["pct_change"] = [t if t in (WITHHELD, "n/a") else v for t, v in
                             zip(rows["change_text"], out["pct_change"])]
        out = out.drop(columns=["p_value"])
    return out.reset_index(drop=True)


def published_export(table: pd.DataFrame, months: int, column: str, scheme: str, k: int, kind: str,
                     class_title: str = "class") -> pd.DataFrame:
    """The table behind the map for publication, whoever asks: `table` (a `ward_table`) published
    under the rule (cdp.disclosure.published) with classes from its published `column`."""
    figures = disclosure.published()
    shown = publish(table, figures, months)
    classes = classify(shown[column].where(shown["selected"]), scheme, k, kind, step=class_step(figures))
    return export_table(shown, classes, class_title, figures)


def display_table(table: pd.DataFrame, ranked_by: str | None = "count") -> pd.DataFrame:
    """The ward table beside the map, from a published table (`publish`): selected wards (with
    `ranked_by`, in the order of the column the map is coloured by, highest first: the published
    count, change, rate or IMD score, a ward without one ("<5", not compared) last, a tie by name),
    counts, change and verdict, rate, IMD (columns without any value are left out)."""
    rows = table[table["selected"]]
    if ranked_by:
        rows = rows.sort_values([ranked_by, "ward_name"], ascending=[False, True], na_position="last",
                                kind="stable")
    out = pd.DataFrame({"Ward": rows["ward_name"].to_numpy()})
    out["Count"] = rows["count_text"].to_numpy()
    if (rows["previous_text"] != "").any():
        out["A year earlier"] = rows["previous_text"].to_numpy()
        out["Change"] = rows["change_text"].to_numpy()
        out["Verdict"] = [SHORT_VERDICTS.get(v, WITHHELD if t == WITHHELD else "")
                          for v, t in zip(rows["verdict"], rows["change_text"])]
    if rows["rate_per_1000"].notna().any():
        out["Per 1,000"] = rows["rate_per_1000"].round(1).to_numpy()
    if rows["imd_score"].notna().any():
        out["IMD 2019"] = rows["imd_score"].round(1).to_numpy()
    return out


def map_html(fig: go.Figure) -> str:
    """The map as one self-contained HTML file (plotly.js included; opens offline)."""
    return fig.to_html(include_plotlyjs=True, full_html=True, config=plotly_config("cdp-ward-map"))


# --- deprivation ----------------------------------------------------------------------------

def deprivation_correlation(table: pd.DataFrame, column: str) -> dict | None:
    """Spearman and Pearson correlation of `column` with the IMD 2019 score across wards.

    None when fewer than 4 wards have both values or either is constant.
    """
    pair = table.loc[table["selected"], [column, "imd_score"]].astype(float).dropna()
    if len(pair) < 4 or pair[column].nunique() < 2 or pair["imd_score"].nunique() < 2:
        return None
    rho = sstats.spearmanr(pair[column], pair["imd_score"])
    r = sstats.pearsonr(pair[column], pair["imd_score"])
    return {"n": len(pair), "spearman": float(rho.statistic), "spearman_p": float(rho.pvalue),
            "pearson": float(r.statistic), "pearson_p": float(r.pvalue)}


def deprivation_scatter(table: pd.DataFrame, column: str, label: str, height: int = 420) -> go.Figure:
    """Each ward's value against its IMD 2019 score, labelled with the ward name."""
    rows = table.loc[table["selected"]].dropna(subset=[column, "imd_score"])
    if rows.empty:
        return empty_figure("No ward has both a value and an IMD score.")
    fig = go.Figure(go.Scatter(
        x=rows["imd_score"], y=rows[column].astype(float), mode="markers+text",
        text=chart_series(rows["ward_name"]),
        textposition="top center", textfont={"size": 10},
        marker={"size": 10, "color": PALETTE["primary"]},
        hovertemplate="%{text}<br>IMD 2019 score %{x:.1f}<br>" + label + " %{y:,.1f}<extra></extra>"))
    fig.update_layout(height=height, margin={"l": 0, "r": 0, "t": 10, "b": 0},
                      xaxis_title="IMD 2019 average score (higher is more deprived)", yaxis_title=label)
    return fig


# --- drill-down into one ward ----------------------------------------------------------------

def ward_points(con: duckdb.DuckDBPyConnection, f: flt.Filters, priority: str,
                ward_code: str) -> pd.DataFrame:
    """Counted incidents in one ward in the period, per distinct point: easting, northing, count."""
    condition, params = flt.where(f, wards=False, priority=priority)
    return con.execute(f"""SELECT easting, northing, count(*) AS count FROM incidents
                           WHERE ward_code = ? AND easting IS NOT NULL AND {condition}
                           GROUP BY easting, northing""", [ward_code, *params]).df()


def ward_outline(geojson: dict, ward_code: str | None = None) -> tuple[list, list]:
    """A ward's outline (all wards' when `ward_code` is None) in British National Grid metres,
    as x and y lists with None between rings."""
    rings = []
    for feature in geojson.get("features", []):
        if ward_code is not None and feature["properties"]["ward_code"] != ward_code:
            continue
        shape = shapely.geometry.shape(feature["geometry"])
        for polygon in getattr(shape, "geoms", [shape]):
            rings += [np.asarray(ring.coords)[:, :2] for ring in [polygon.exterior, *polygon.interiors]]
    if not rings:
        return [], []
    # One projection call for every vertex, with a NaN row closing each ring (None in plotly).
    stacked = np.vstack([np.vstack([ring, [np.nan, np.nan]]) for ring in rings])
    east, north = geography.to_bng(stacked[:, 0], stacked[:, 1])
    gap = ~np.isfinite(stacked[:, 0])  # pyproj turns the NaN rows into inf
    # To the metre: finer than any map shows, and a third of the size to send.
    return ([None if g else round(v) for g, v in zip(gap, east.tolist())],
            [None if g else round(v) for g, v in zip(gap, north.tolist())])


def density_cells(points: pd.DataFrame, figures: TrueValues = TrueValues(),
                  size: float = DENSITY_CELL_M) -> pd.DataFrame:
    """`ward_points` binned into `size` m squares (aligned to multiples of `size`) over the
    points' extent, empty squares 0: x, y (square centres), count as `figures` publishes it and
    text (as shown). Restricted figures draw a square of 1-4 as empty, with no text: beside the
    ward's total, squares shown as "<5" could be worked out."""
    col = np.floor(points["easting"].to_numpy(float) / size).astype(np.int64)
    row = np.floor(points["northing"].to_numpy(float) / size).astype(np.int64)
    counts = pd.Series(points["count"].to_numpy(), index=pd.MultiIndex.from_arrays([col, row])) \
        .groupby(level=[0, 1]).sum()
    # One empty square all round, so a surface of one or two squares still reads as a patch.
    cols, rows = np.arange(col.min() - 1, col.max() + 2), np.arange(row.min() - 1, row.max() + 2)
    grid = pd.MultiIndex.from_product([cols, rows])
    true = counts.reindex(grid, fill_value=0)
    shown = figures.counts(true).fillna(0) if figures.restricted else true.astype(float)
    return pd.DataFrame({"x": (grid.get_level_values(0) + 0.5) * size,
                         "y": (grid.get_level_values(1) + 0.5) * size,
                         "count": shown.to_numpy(),
                         "text": [figures.text(v) if v else "0" for v in shown]})


def density_figure(points: pd.DataFrame, outline: tuple[list, list], premises: pd.DataFrame | None = None,
                   height: int = 520, figures: TrueValues = TrueValues()) -> go.Figure:
    """A density surface of incidents within a ward (from 100 m squares, `density_cells`, as
    `figures` publishes them) with the ward outline and, optionally, the top premises marked (a
    published places table, `publish_places`). Axes are British National Grid metres at equal
    scale."""
    if points.empty:
        return empty_figure("No incidents with a location in this ward for these filters.")
    size = DENSITY_CELL_M
    cells = density_cells(points, figures, size)
    fig = go.Figure()
    if not cells["count"].any():   # every square of 1-4, drawn empty for a restricted view
        fig.add_annotation(text=f"No {size} m square holds {figures.rule.threshold} or more.",
                           showarrow=False, xref="paper", yref="paper", x=0.5, y=1.0, yanchor="top")
    fig.add_trace(go.Contour(
        x=cells["x"], y=cells["y"], z=cells["count"], text=cells["text"], ncontours=12,
        contours={"coloring": "heatmap", "showlines": False},
        colorscale=[[0, "rgba(255,255,255,0)"], [0.08, "rgba(255,237,160,0.6)"],
                    [0.4, "rgb(254,178,76)"], [0.7, "rgb(240,59,32)"], [1, "rgb(128,0,38)"]],
        colorbar={"title": {"text": f"per {size} m<br>square"}, "thickness": 12},
        hovertemplate=f"%{{text}} in this {size} m square<extra></extra>", name="density",
        visible=bool(cells["count"].any())))
    xs, ys = outline
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line={"color": "#333333", "width": 2},
                             hoverinfo="skip", name="ward boundary", showlegend=False))
    if premises is not None and not premises.empty:
        fig.add_trace(go.Scatter(
            x=premises["easting"], y=premises["northing"], mode="markers", name="top premises",
            marker={"symbol": "diamond", "size": 9, "color": PALETTE["primary"],
                    "line": {"color": "white", "width": 1}},
            text=chart_series(premises["place"]), customdata=list(premises["count_text"]),
            hovertemplate="%{text}: %{customdata}<extra></extra>"))
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, scaleanchor="x", scaleratio=1)
    fig.update_layout(height=height, margin={"l": 0, "r": 0, "t": 10, "b": 0},
                      plot_bgcolor="white", legend={"orientation": "h", "y": -0.02})
    return basemap.add_streets(fig)


def top_places(con: duckdb.DuckDBPyConnection, f: flt.Filters, priority: str, ward_code: str,
               by: str = "street", limit: int | None = 10, compare: bool = True) -> dict:
    """The top streets or premises of one ward for one priority in the period.

    A street is the location text read as one street (cdp.places: "On or near Market Street" and
    "Market Street" are one); premises are told apart by ID (a shared name shows street and ID).
    Returns {"table", "total", "previous_total"}: the table has place (and premises_id and
    premises_type for premises), count, share (of the ward's counted incidents in the period),
    previous (the same months a year earlier), pct_change, verdict (exact rate-ratio test) and the
    mean easting/northing, sorted by count; `limit=None` returns every place.
    """
    if by not in ("street", "premises"):
        raise ValueError("by must be 'street' or 'premises'")
    year = f.year_earlier()
    condition, params = flt.where(f, period=False, wards=False, priority=priority)
    months = "(month BETWEEN ? AND ?" + (" OR month BETWEEN ? AND ?)" if compare else ")")
    scope = f"ward_code = ? AND {months} AND {condition}"
    scope_params = [ward_code, f.start, f.end, *([year.start, year.end] if compare else []), *params]
    total, previous_total = con.execute(
        f"SELECT count(*) FILTER (WHERE month >= ?), count(*) FILTER (WHERE month < ?) "
        f"FROM incidents WHERE {scope}", [f.start, f.start, *scope_params]).fetchall()[0]
    if by == "street":
        key = f"coalesce({places.street_key_sql()}, '')"
        extra, having = f", coalesce(mode({places.street_sql()}), '{NO_STREET}') AS street", ""
    else:
        key = "premises_id"
        extra = ", any_value(premises_type) AS premises_type"
        having = " AND premises_id IS NOT NULL"
    frame = con.execute(f"""
        SELECT {key} AS place{extra},
               count(*) FILTER (WHERE month >= ?) AS count,
               count(*) FILTER (WHERE month < ?) AS previous,
               avg(easting) FILTER (WHERE month >= ?) AS easting,
               avg(northing) FILTER (WHERE month >= ?) AS northing
        FROM incidents WHERE {scope}{having}
        GROUP BY {key} HAVING count(*) FILTER (WHERE month >= ?) > 0
        ORDER BY count DESC, place {'LIMIT ' + str(int(limit)) if limit else ''}""",
                        [f.start] * 4 + scope_params + [f.start]).df()
    if by == "street":
        frame["place"] = frame.pop("street")
    else:
        frame = frame.rename(columns={"place": "premises_id"})
        labels = places.premises_table(con).set_index("premises_id")["label"]
        frame.insert(0, "place", frame["premises_id"].map(labels).fillna(frame["premises_id"]))
    frame["share"] = frame["count"] / total if total else np.nan
    changes = [compare_periods(int(c), int(p), f.months, f.months) if compare else None
               for c, p in zip(frame["count"], frame["previous"])]
    frame["pct_change"] = [c.pct_change if c and c.pct_change is not None else np.nan for c in changes]
    frame["verdict"] = [c.verdict if c else None for c in changes]
    if not compare:
        frame["previous"] = pd.array([pd.NA] * len(frame), dtype="Int64")
    return {"table": frame, "total": int(total), "previous_total": int(previous_total) if compare else None}


def publish_places(table: pd.DataFrame, total: int, figures: TrueValues, months: int) -> pd.DataFrame:
    """A top-places table (`top_places`) as `figures` shows it, made before the table and the
    map markers: count_text, share (of the ward's `total`), change_text and verdict. Restricted
    figures list only places with a publishable count (a place of 1-4 beside the ward's total and
    the other places could be worked out), in the order of their published counts (by name where
    those are equal), and work the share, change and verdict out from the published counts, when
    they are publishable."""
    out = table.copy()
    if not figures.restricted:
        out["count_text"] = figures.texts(out["count"])
        out["change_text"] = ["new" if pd.isna(p) and c else _change_text(p)
                              for p, c in zip(out["pct_change"], out["count"])]
        return out
    out = out[np.array([figures.publishable(c) for c in out["count"]], dtype=bool)].copy()
    out["count_text"] = figures.texts(out["count"])
    out["share"] = [figures.share(c, total) for c in out["count"]]
    compared = out["verdict"].notna().to_numpy()
    changes = [compare_periods(int(figures.count(c)), int(figures.count(p)), months, months)
               if was and figures.publishable(c, p) else None
               for c, p, was in zip(out["count"], out["previous"], compared)]
    out["change_text"] = [("new" if ch.pct_change is None else _change_text(ch.pct_change)) if ch
                          else WITHHELD if was else "n/a" for ch, was in zip(changes, compared)]
    out["verdict"] = [ch.verdict if ch else None for ch in changes]
    # Places whose counts read the same are listed by name: their true order would tell more.
    out["_shown"] = [figures.count(c) for c in out["count"]]
    out = out.sort_values(["_shown", "place"], ascending=[False, True], kind="stable")
    return out.drop(columns=["count", "previous", "pct_change", "_shown"]).reset_index(drop=True)


def display_places(table: pd.DataFrame) -> pd.DataFrame:
    """A published top-places table (`publish_places`) ready for the page: count, share as a
    percentage, change and verdict (a year earlier too, for true figures). Names the viewer may
    not see are withheld before this (cdp.access.restrict)."""
    out = pd.DataFrame({"Place": table["place"]})
    if "premises_type" in table:
        out["Type"] = table["premises_type"].fillna("")
    out["Count"] = table["count_text"]
    out["Share of ward"] = ["" if v is None or pd.isna(v) else f"{v:.1%}" for v in table["share"]]
    if len(table) and table["change_text"].ne("n/a").any():
        if "previous" in table:
            out["A year earlier"] = [f"{int(v):,}" for v in table["previous"]]
        out["Change"] = table["change_text"]
        out["Verdict"] = [SHORT_VERDICTS.get(v, WITHHELD if t == WITHHELD else "")
                          for v, t in zip(table["verdict"], table["change_text"])]
    return out


# --- significant hot spots: Getis-Ord Gi* on a grid -------------------------------------------

_GRIDS: dict[tuple, gpd.GeoDataFrame] = {}
_GRIDS_LOCK = threading.Lock()


def analysis_grid(con: duckdb.DuckDBPyConnection, ward_codes: tuple[str, ...] = (),
                  cell_size_m: float = CELL_SIZE_M) -> gpd.GeoDataFrame:
    """The regular grid (hotspots.grid) over the wards (all, or `ward_codes`), built once per
    boundary set, wards and cell size and then reused: treat it as read-only."""
    wards = geography.stored_wards(con, wgs84=True)
    if wards is None:
        raise ValueError("the store has no ward boundaries")
    if ward_codes:
        wards = wards[wards["ward_code"].isin(ward_codes)]
    fingerprint = hashlib.sha1(b"".join(shapely.to_wkb(wards.geometry.values))).hexdigest()
    key = (fingerprint, float(cell_size_m))
    with _GRIDS_LOCK:
        if key in _GRIDS:
            return _GRIDS[key]
    cells = hotspots.grid(wards, cell_size_m)
    with _GRIDS_LOCK:
        if len(_GRIDS) >= 16:
            _GRIDS.pop(next(iter(_GRIDS)))
        _GRIDS[key] = cells
    return cells


def cell_counts(con: duckdb.DuckDBPyConnection, f: flt.Filters, priority: str,
                cell_size_m: float = CELL_SIZE_M) -> pd.DataFrame:
    """Counted incidents in the area per grid cell (col, row = floor(metres / cell size)), in DuckDB."""
    condition, params = flt.where(f, priority=priority)
    return con.execute(f"""
        SELECT CAST(floor(easting / ?) AS BIGINT) AS col, CAST(floor(northing / ?) AS BIGINT) AS row,
               count(*) AS count
        FROM incidents
        WHERE easting IS NOT NULL AND {condition}
        GROUP BY ALL""", [cell_size_m, cell_size_m, *params]).df()


def gi_star_unsuitable(f: flt.Filters) -> str | None:
    """Why Gi* would mislead for these filters (None when it is fine): with a radius, a premises or
    a street filter only the chosen places can have incidents, so they are 'hot' by construction."""
    if f.radius_m or f.premises_id or f.location_text:
        return ("Significant hot spots are not tested with a radius, premises or street filter: only "
                "the chosen places could have incidents, so the test would call them hot by "
                "construction. Clear those filters to test the whole area.")
    return None


def gi_star(con: duckdb.DuckDBPyConnection, f: flt.Filters, priority: str,
            cell_size_m: float = CELL_SIZE_M, alpha: float = ALPHA,
            permutations: int = PERMUTATIONS, rule: disclosure.Rule | None = None) -> pd.DataFrame:
    """Getis-Ord Gi* over the grid of the filtered wards: cell_id, col, row, count, z, p, hotspot.

    Counts per cell come from DuckDB (`cell_counts`); the test is `hotspots.getis_ord`. With a
    disclosure `rule` (a restricted view) the test runs on the cells' published counts, a "<5"
    standing at the middle of what it allows, so its hot and cold spots say nothing the
    published counts do not; `count` stays the true count, for totals rounded on their own.
    """
    cells = analysis_grid(con, tuple(f.wards), cell_size_m)
    counts = cell_counts(con, f, priority, cell_size_m).set_index(["col", "row"])["count"]
    keys = pd.MultiIndex.from_arrays([cells["col"].astype("int64"), cells["row"].astype("int64")])
    frame = cells[["cell_id", "col", "row", "geometry"]].copy()
    frame["count"] = counts.reindex(keys, fill_value=0).to_numpy()
    column = "count"
    if rule is not None:
        figures = disclosure.published(rule)
        frame["tested"] = figures.counts(frame["count"]).fillna(sum(figures.interval_of(None)) / 2)
        column = "tested"
    result = hotspots.getis_ord(frame, column, alpha=alpha, permutations=permutations)
    return pd.DataFrame(result.drop(columns=["geometry", "tested"], errors="ignore"))


def hotspot_summary(cells: pd.DataFrame, cell_size_m: float = CELL_SIZE_M,
                    figures: TrueValues = TrueValues(), parts=None) -> dict:
    """How many hot and cold cells, their area and the share of incidents in hot cells, with the
    incidents (`incidents_text`) as `figures` shows them: a restricted view's total is rounded on
    its own beside `parts` (the wards' counts shown beside it) and its share worked out from the
    published totals."""
    hot = cells["hotspot"] == "hot spot"
    total = int(cells["count"].sum())
    hot_incidents = int(cells.loc[hot, "count"].sum())
    shown_total = figures.total(total, parts)
    shown_hot = figures.total(hot_incidents)
    share = (TrueValues().share(shown_hot, shown_total)
             if disclosure.usable(shown_total) and disclosure.usable(shown_hot) else None)
    return {"hot": int(hot.sum()), "cold": int((cells["hotspot"] == "cold spot").sum()),
            "cells": len(cells), "hot_km2": hot.sum() * cell_size_m ** 2 / 1e6,
            "hot_incidents": hot_incidents, "incidents": total,
            "incidents_text": figures.shown_text(shown_total), "hot_share": share}


def hotspot_figure(cells: pd.DataFrame, outline: tuple[list, list],
                   labels: pd.DataFrame | None = None, figures: TrueValues = TrueValues(),
                   cell_size_m: float = CELL_SIZE_M, height: int = 620) -> go.Figure:
    """Gi* cells on the regular grid (British National Grid metres, equal scale): hot spots red,
    cold spots blue, not significant pale; ward outlines and, with `labels` (ward_name, x, y),
    ward names on top. A heatmap of the grid keeps the figure small however many cells. Hovers
    give each cell's count, z and p for true figures; a restricted view gets the category only
    (no cell counts, no statistic)."""
    if cells.empty:
        return empty_figure("No grid cells to test.")
    cols = np.arange(cells["col"].min(), cells["col"].max() + 1)
    rows = np.arange(cells["row"].min(), cells["row"].max() + 1)
    z = np.full((len(rows), len(cols)), np.nan)
    text = np.full(z.shape, "", dtype=object)
    code = {"cold spot": 0, "not significant": 1, "hot spot": 2}
    r = (cells["row"] - rows[0]).to_numpy()
    c = (cells["col"] - cols[0]).to_numpy()
    z[r, c] = cells["hotspot"].map(code).to_numpy()
    if figures.restricted:
        text[r, c] = [f"{label} ({cell_size_m:g} m square)" for label in cells["hotspot"]]
    else:
        text[r, c] = [f"{figures.text(n)} in this {cell_size_m:g} m square<br>{label}"
                      + ("" if pd.isna(zs) else f"<br>Gi* z = {zs:.2f}, {format_p(p)}")
                      for n, label, zs, p in zip(cells["count"], cells["hotspot"], cells["z"], cells["p"])]
    n = cells["hotspot"].value_counts()
    colours = [HOTSPOT_COLOURS[k] for k in ("cold spot", "not significant", "hot spot")]
    xs, ys = outline
    fig = go.Figure(go.Heatmap(
        x=(cols + 0.5) * cell_size_m, y=(rows + 0.5) * cell_size_m, z=z, text=text,
        zmin=-0.5, zmax=2.5, hoverongaps=False, hovertemplate="%{text}<extra></extra>",
        colorscale=[[0, colours[0]], [1 / 3, colours[0]], [1 / 3, colours[1]], [2 / 3, colours[1]],
                    [2 / 3, colours[2]], [1, colours[2]]],
        colorbar={"title": {"text": f"Gi* at p < {ALPHA:g}"}, "tickvals": [0, 1, 2], "thickness": 14,
                  "len": 0.4, "y": 1, "yanchor": "top",
                  "ticktext": [f"{k} ({n.get(k, 0):,} cells)" for k in ("cold spot", "not significant",
                                                                         "hot spot")]}))
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line={"color": "#555555", "width": 1},
                             hoverinfo="skip", showlegend=False))
    if labels is not None and len(labels):
        fig.add_trace(go.Scatter(x=labels["x"], y=labels["y"], text=chart_series(labels["ward_name"]), mode="text",
                                 textfont={"size": 10, "color": "#222222", "shadow": "auto"},
                                 hoverinfo="skip", showlegend=False))
    # Zoomed to the wards' grid and outlines, whatever else is drawn (cameras of the whole area).
    fig.update_xaxes(visible=False, constrain="domain",
                     range=_padded([*xs, cols[0] * cell_size_m, (cols[-1] + 1) * cell_size_m]))
    fig.update_yaxes(visible=False, scaleanchor="x", scaleratio=1,
                     range=_padded([*ys, rows[0] * cell_size_m, (rows[-1] + 1) * cell_size_m]))
    fig.update_layout(height=height, margin={"l": 0, "r": 0, "t": 10, "b": 0}, plot_bgcolor="white")
    return basemap.add_streets(fig)


def _padded(values: list, share: float = 0.03) -> list[float] | None:
    """The span of `values` (None between rings) and a little more, for an axis' range."""
    known = np.asarray([v for v in values if v is not None], dtype=float)
    if not len(known):
        return None
    low, high = float(known.min()), float(known.max())
    pad = max(high - low, 100.0) * share
    return [low - pad, high + pad]


def ward_labels_bng(centres: pd.DataFrame) -> pd.DataFrame:
    """`ward_centres` with x, y in British National Grid metres (for the grid and density maps)."""
    x, y = geography.to_bng(centres["lon"].to_numpy(), centres["lat"].to_numpy())
    return centres.assign(x=x, y=y)


# --- concentration -----------------------------------------------------------------------------

def place_concentration(con: duckdb.DuckDBPyConnection, f: flt.Filters, priority: str,
                        top_share: float = TOP_SHARE) -> dict:
    """Share of the period's counted incidents at the top `top_share` of places.

    A place is the incident's premises, else its snapped point; counts per place come from
    DuckDB, the share from `hotspots.concentration`. Only incidents placed in a ward count.
    """
    condition, params = flt.where(f, priority=priority)
    counts = con.execute(f"""
        SELECT count(*) AS count FROM incidents
        WHERE (premises_id IS NOT NULL OR easting IS NOT NULL) AND {condition}
        GROUP BY premises_id, CASE WHEN premises_id IS NULL THEN easting END,
                 CASE WHEN premises_id IS NULL THEN northing END""", params).df()
    result = hotspots.concentration(counts["count"], top_share)
    result["top_share"] = top_share
    return result


def concentration_shown(result: dict, figures: TrueValues) -> dict:
    """`place_concentration` as `figures` shows it: share, and the incidents and places behind it
    as text. A restricted view's share is worked out from the published totals and shown only
    when they are publishable; the numbers of places (a lower bound on the incidents) are
    published like counts."""
    top, incidents = result["top_incidents"], result["incidents"]
    share = figures.share(top, incidents) if result["share"] is not None else None
    return {"share": share, "top_incidents": figures.text(top), "incidents": figures.text(incidents),
            "n_places": figures.text(result["n_places"]),
            "n_top_places": figures.text(result["n_top_places"]) if not figures.restricted else None}
