"""Demand beside the treatment figures: drug offences and alcohol-related incidents in the store,
their trend, wards and premises (licensed premises, shops, hostels...).

Each measure is a condition on top of `cdp.filters.where` (so only counted incidents count, and
every sidebar filter but the priorities applies: the measure is the subject). Crimes and ASB
incidents are separate measures and are never added together.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

import duckdb
import pandas as pd
import plotly.graph_objects as go

from . import counting
from . import filters as flt
from .areas import NO_AREA, Areas, by_area as sum_by_area
from .charts import PALETTE
from .disclosure import TrueValues
from .priorities import PRIORITY_KEYS
from .queries import loaded_datasets, ward_names
from .stats import compare_periods

CHART_MONTHS = 24


@dataclass(frozen=True)
class Measure:
    key: str
    label: str
    unit: str                 # "crimes" or "ASB incidents"
    condition: str            # SQL on incidents, beside the shared filters
    needs_partner: bool       # police.uk data cannot identify it
    note: str


MEASURES: tuple[Measure, ...] = (
    Measure("drug_offences", "Drug offences", "crimes", "NOT is_asb AND category = 'Drugs'", False,
            "Crimes recorded as the crime type Drugs (possession, supply, production)."),
    Measure("alcohol_crimes", "Alcohol-related crimes", "crimes", "NOT is_asb AND flag_alcohol", True,
            "Crimes a partner flagged as alcohol-related."),
    Measure("drug_asb", "Drug-related ASB incidents", "ASB incidents",
            "is_asb AND (flag_drugs OR lower(category) = 'drug dealing')", True,
            "ASB incidents flagged drug-related, or recorded as drug dealing."),
    Measure("alcohol_asb", "Alcohol-related ASB incidents", "ASB incidents",
            "is_asb AND (flag_alcohol OR lower(category) = 'street drinking')", True,
            "ASB incidents flagged alcohol-related, or recorded as street drinking."),
)
BY_KEY = {m.key: m for m in MEASURES}


def unavailable(con: duckdb.DuckDBPyConnection) -> dict[str, str | None]:
    """Per measure: None when the loaded data can show it, else why not."""
    partner = "partner" in loaded_datasets(con)
    return {m.key: None if partner or not m.needs_partner else
            "police.uk data has no drug or alcohol flags: load a partner extract to show it"
            for m in MEASURES}


def _subject(f: flt.Filters) -> flt.Filters:
    """The sidebar's filters with every priority: on this page the measure is the subject."""
    return replace(f, priorities=PRIORITY_KEYS)


def _counts_sql(measures: tuple[Measure, ...]) -> str:
    return ", ".join(f"count(*) FILTER (WHERE {m.condition}) AS {m.key}" for m in measures)


def period_counts(con: duckdb.DuckDBPyConnection, f: flt.Filters) -> dict:
    """Each measure in the period ("counts") and against the same months a year earlier
    ("changes": an exact rate-ratio test, stats.compare_periods; None for every measure, with the
    "reason", when the two periods cannot be compared fairly, e.g. the store does not reach back)."""
    def counts(view: flt.Filters) -> dict[str, int]:
        condition, params = flt.where(_subject(view))
        row = con.execute(f"SELECT {_counts_sql(MEASURES)} FROM incidents WHERE {condition}", params).fetchall()[0]
        return {m.key: int(n) for m, n in zip(MEASURES, row)}

    now = counts(f)
    earlier = f.year_earlier()
    # Compared only between complete months of one coverage (cdp.counting), as every page does.
    reason = counting.months(con).comparable("drugs_alcohol", (f.start, f.end), (earlier.start, earlier.end))
    if reason:
        return {"counts": now, "changes": {m.key: None for m in MEASURES}, "reason": reason}
    then = counts(earlier)
    return {"counts": now, "changes": {k: compare_periods(now[k], then[k], f.months, f.months) for k in now},
            "reason": None}


def monthly(con: duckdb.DuckDBPyConnection, f: flt.Filters, months: int = CHART_MONTHS) -> pd.DataFrame:
    """Monthly counts of each measure (columns) for the `months` months to the period end (or the
    whole period when longer), every month present (0 where none); index: month."""
    start = min(f.start, flt.month_add(f.end, 1 - months))
    first = con.execute("SELECT min(month) FROM incidents").fetchall()[0][0]
    if first is not None:
        start = max(start, first)
    condition, params = flt.where(_subject(f.with_period(start, f.end)))
    table = con.execute(f"""SELECT month, {_counts_sql(MEASURES)} FROM incidents
                            WHERE {condition} GROUP BY month ORDER BY month""", params).df()
    index = pd.date_range(pd.Timestamp(start), pd.Timestamp(f.end), freq="MS")
    table["month"] = pd.to_datetime(table["month"])
    return table.set_index("month").reindex(index, fill_value=0).rename_axis("month")


def by_ward(con: duckdb.DuckDBPyConnection, f: flt.Filters) -> pd.DataFrame:
    """Each ward of the loaded boundaries (0 where none; only the sidebar's wards if chosen):
    ward_code, ward_name and a count column per measure, for the period."""
    condition, params = flt.where(_subject(f))
    counts = con.execute(f"""SELECT ward_code, {_counts_sql(MEASURES)} FROM incidents
                             WHERE {condition} GROUP BY ward_code""", params).df().set_index("ward_code")
    names = ward_names(con)
    codes = [c for c in names if not f.wards or c in f.wards]
    table = counts.reindex(codes, fill_value=0).rename_axis("ward_code").reset_index()
    table.insert(1, "ward_name", table["ward_code"].map(names))
    return table.sort_values(["drug_offences", "ward_name"], ascending=[False, True], ignore_index=True)


def by_area(wards: pd.DataFrame, areas: Areas, columns: list[str], figures: TrueValues | None = None) -> pd.DataFrame:
    """`by_ward` summed per NAT area (column area; wards in no area under areas.NO_AREA). For a
    restricted viewer (`figures`) each area's count is a total rounded on its own from its true
    value, with its wards' counts as its parts (withheld, "*", where any rounding would fix one)."""
    summed = sum_by_area(wards, areas, sums=columns).rename(columns={"ward_code": "area"})
    if figures is None or not figures.restricted:
        return summed
    owner = {code: area.name for area in areas.areas for code in area.ward_codes}
    members = wards.assign(area=wards["ward_code"].map(owner).fillna(NO_AREA))
    shown = summed.copy()
    for column in columns:
        parts = members.groupby("area")[column].agg(list)
        shown[column] = [figures.total_text(n, parts.get(area)) for area, n in zip(summed["area"], summed[column])]
    return shown


def by_premises_type(con: duckdb.DuckDBPyConnection, f: flt.Filters) -> pd.DataFrame:
    """Counts per premises type (licensed premises, shop, ...; "No premises recorded" for the
    rest), a column per measure, for the period."""
    condition, params = flt.where(_subject(f))
    table = con.execute(f"""
        SELECT coalesce(premises_type, 'No premises recorded') AS premises_type, {_counts_sql(MEASURES)}
        FROM incidents WHERE {condition} GROUP BY ALL""", params).df()
    table = table[table[list(BY_KEY)].sum(axis=1) > 0]
    last = table["premises_type"] == "No premises recorded"
    return (table.assign(_last=last).sort_values(["_last", "drug_offences", "premises_type"],
                                                 ascending=[True, False, True])
            .drop(columns="_last").reset_index(drop=True))


def top_premises(con: duckdb.DuckDBPyConnection, f: flt.Filters, measure: str, limit: int = 10,
                 residential_names: bool = False) -> pd.DataFrame:
    """The premises with the most incidents of one measure in the period: premises (name and type,
    a residential address by its key unless `residential_names`), premises_type, ward, count."""
    m = BY_KEY[measure]
    condition, params = flt.where(_subject(f))
    table = con.execute(f"""
        SELECT premises_id, any_value(premises_name) AS name, any_value(premises_type) AS premises_type,
               mode(ward_code) AS ward_code, count(*) AS count
        FROM incidents WHERE {condition} AND {m.condition} AND premises_id IS NOT NULL
        GROUP BY premises_id ORDER BY count DESC, premises_id LIMIT {int(limit)}""", params).df()
    residential = table["premises_type"].fillna("").str.casefold().str.startswith("residential")
    hidden = residential & (not residential_names)
    table["premises"] = table["name"].fillna(table["premises_id"]).where(
        ~hidden, "Residential address " + table["premises_id"])
    table["ward"] = table["ward_code"].map(ward_names(con))
    return table[["premises", "premises_type", "ward", "count"]]


def trend_figure(counts: pd.DataFrame, unit: str, period_start: date, figures: TrueValues | None = None,
                 height: int = 320) -> go.Figure:
    """Monthly lines of the measures counting `unit` (crimes or ASB incidents, never both), as
    `figures` publishes them (default: true values); the selected period shaded."""
    figures = figures or TrueValues()
    colours = [PALETTE["primary"], PALETTE["accent"], PALETTE["good"]]
    fig = go.Figure()
    for colour, m in zip(colours, [m for m in MEASURES if m.unit == unit and m.key in counts]):
        fig.add_trace(go.Scatter(x=counts.index, y=figures.counts(counts[m.key]).to_numpy(),
                                 mode="lines+markers", name=m.label, customdata=figures.texts(counts[m.key]),
                                 line={"color": colour, "width": 2}, marker={"size": 4},
                                 hovertemplate="%{x|%b %Y}: %{customdata}<extra>" + m.label + "</extra>"))
    if len(counts):
        fig.add_vrect(x0=pd.Timestamp(period_start) - pd.Timedelta(days=15),
                      x1=counts.index.max() + pd.Timedelta(days=15),
                      fillcolor=PALETTE["muted"], opacity=0.15, line_width=0)
    fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                      title={"text": f"{unit[0].upper()}{unit[1:]} a month", "font": {"size": 14}},
                      yaxis={"rangemode": "tozero"}, legend={"orientation": "h", "y": -0.2},
                      plot_bgcolor="white")
    return fig
