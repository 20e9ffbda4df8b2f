"""Problem profiles for the multi-agency problem-solving meeting: one person key, place or premises.

`build_profile` gathers, for the selected period and priorities, the subject's incidents (a
timeline), the priorities and categories involved, the victims, offenders and premises linked to
them (pseudonymised keys only), and the context of the wards they fall in. The profile exports as a
self-contained HTML file, a PDF and a CSV of the timeline (`export`); every export carries person
keys, so the download layer writes the audit log line when the file is made for the user.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime

import duckdb
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from fpdf import FPDF
from fpdf.fonts import FontFace

from . import access, config, exports, geography, markup, places, store
from . import filters as flt
from .charts import PALETTE
from .markup import chart, chart_series
from .priorities import PRIORITIES, PRIORITY_BY_KEY, PRIORITY_KEYS

KINDS = {"person": "Person key", "location": "Location", "premises": "Premises",
         "radius": "Radius around a point"}
TIMELINE_LIMIT = 2_000   # latest incidents listed; counts and tables cover them all
LINKED_LIMIT = 25
PDF_TIMELINE_LIMIT = 250  # the PDF lists the latest incidents; the CSV and HTML list the whole timeline
CLASSIFICATION = ("OFFICIAL-SENSITIVE: contains pseudonymised victim and offender keys. For the "
                  "problem-solving meeting only; do not forward.")
CLASSIFICATION_NO_KEYS = ("OFFICIAL-SENSITIVE: incident-level records of places and premises. For the "
                          "problem-solving meeting only; do not forward.")


@dataclass(frozen=True)
class Subject:
    """What a profile is about. kind: person (key: a victim or offender key), location (key: text
    the location contains), premises (key: premises_id) or radius (metres around a BNG point)."""
    kind: str
    key: str = ""
    radius_m: int = 0
    easting: float | None = None
    northing: float | None = None
    label: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown profile subject {self.kind!r}; choose one of {', '.join(KINDS)}")

    @property
    def title(self) -> str:
        if self.kind == "person":
            return f"Person {self.key}"
        if self.kind == "location":
            return f"Locations containing '{self.key}'"
        if self.kind == "premises":
            return f"Premises {self.label or self.key}"
        return f"Within {self.radius_m:,} m of {self.label or f'{self.easting:.0f}, {self.northing:.0f}'}"

    @property
    def ready(self) -> bool:
        """Whether enough is chosen to build a profile."""
        if self.kind == "radius":
            return self.radius_m > 0 and self.easting is not None and self.northing is not None
        return bool(self.key.strip())


def subject_from_filters(f: flt.Filters) -> Subject | None:
    """The profile the sidebar's place filters point at: named premises, else the radius, else the
    location text; None when none is set."""
    if f.premises_id:
        return Subject("premises", f.premises_id)
    if f.radius_m and f.centre_easting is not None and f.centre_northing is not None:
        return Subject("radius", radius_m=f.radius_m, easting=f.centre_easting,
                       northing=f.centre_northing, label=f.centre_label)
    if f.location_text:
        return Subject("location", f.location_text)
    return None


def point_subject(text: str, radius_m: int) -> Subject:
    """A radius subject from 'latitude, longitude' text; ValueError when it cannot be read."""
    try:
        lat, lon = (float(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"'{text}' is not 'latitude, longitude'") from None
    east, north = geography.to_bng([lon], [lat])
    return Subject("radius", radius_m=int(radius_m), easting=float(east[0]), northing=float(north[0]),
                   label=text.strip())


def subject_for_place(place_key: str, label: str = "", radius_m: int = 25) -> Subject:
    """The profile subject for a repeat place key (see repeats.place_keys): the premises, a
    `radius_m` circle around a snapped point, or the location text."""
    kind, _, value = place_key.partition(":")
    if kind == "premises":
        return Subject("premises", value, label=label)
    if kind == "point":
        east, north = (float(v) for v in value.split(","))
        lon, lat = geography.from_bng([east], [north])
        return Subject("radius", radius_m=radius_m, easting=east, northing=north,
                       label=f"{lat[0]:.6f}, {lon[0]:.6f}")
    if kind == "location":
        return Subject("location", value)
    raise ValueError(f"not a place key: {place_key!r}")


def profile_filters(f: flt.Filters, subject: Subject, wards: frozenset[str] | None = None) -> flt.Filters:
    """The sidebar's period and priorities narrowed to the subject's place; other filters dropped
    (the subject decides which incidents a profile is about). `wards`: only incidents in these
    wards (a neighbourhood officer's); None for every incident."""
    if wards is not None and not wards:
        raise ValueError("a profile limited to wards needs at least one ward")
    base = flt.Filters(start=f.start, end=f.end, priorities=f.priorities,
                       wards=tuple(sorted(wards)) if wards else ())
    if subject.kind == "location":
        return replace(base, location_text=subject.key.strip())
    if subject.kind == "premises":
        return replace(base, premises_id=subject.key)
    if subject.kind == "radius":
        return replace(base, radius_m=subject.radius_m, centre_easting=subject.easting,
                       centre_northing=subject.northing, centre_label=subject.label)
    return base


def subject_condition(f: flt.Filters, subject: Subject,
                      wards: frozenset[str] | None = None) -> tuple[str, list]:
    """SQL condition and parameters for the subject's incidents in the period and priorities of `f`
    (and in `wards`, when given)."""
    condition, params = flt.where(profile_filters(f, subject, wards))
    if subject.kind == "person":
        condition += " AND (victim_id = ? OR offender_id = ?)"
        params = params + [subject.key.strip()] * 2
    return condition, params


# --- choices for the page's chooser ---------------------------------------------------------------

def frequent_people(con: duckdb.DuckDBPyConnection, f: flt.Filters, limit: int = 200) -> pd.DataFrame:
    """The victim and offender keys with the most incidents in the period and priorities of `f`.

    Columns: key, role (victim or offender), incidents. Most incidents first.
    """
    condition, params = flt.where(flt.Filters(start=f.start, end=f.end, priorities=f.priorities))
    return con.execute(f"""
        SELECT key, role, count(*) AS incidents FROM (
            SELECT victim_id AS key, 'victim' AS role FROM incidents
            WHERE {condition} AND victim_id IS NOT NULL
            UNION ALL
            SELECT offender_id, 'offender' FROM incidents WHERE {condition} AND offender_id IS NOT NULL)
        GROUP BY key, role ORDER BY incidents DESC, key LIMIT {int(limit)}""", params + params).df()


# --- the profile ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Profile:
    """One subject's problem profile (DataFrames are for reading: never mutate a cached profile)."""
    subject: Subject
    start: date
    end: date
    priorities: tuple[str, ...]
    generated: datetime
    data_note: str | None
    crimes: int
    asb_incidents: int
    first: pd.Timestamp | None
    last: pd.Timestamp | None
    timeline: pd.DataFrame        # the latest TIMELINE_LIMIT incidents, newest first
    monthly: pd.DataFrame         # month, crimes, asb_incidents (every month of the period)
    by_priority: pd.DataFrame     # priority, crimes, asb_incidents
    categories: pd.DataFrame      # category, kind, incidents
    victims: pd.DataFrame         # victim_id, incidents, first, last
    offenders: pd.DataFrame       # offender_id, incidents, first, last
    premises: pd.DataFrame        # premises_id, premises, type, incidents
    wards: pd.DataFrame           # ward context
    linked_counts: dict = field(default_factory=dict)  # victims, offenders, premises: distinct keys
    scope_wards: frozenset | None = None  # only incidents in these wards (None: every incident)

    @property
    def total_rows(self) -> int:
        """Incidents of either kind: the length of the full timeline (counts are shown apart)."""
        return self.crimes + self.asb_incidents

    @property
    def period(self) -> str:
        return f"{self.start:%B %Y}" if self.start == self.end else f"{self.start:%B %Y} to {self.end:%B %Y}"

    @property
    def scope(self) -> str:
        """Which incidents: the period and the priorities."""
        if set(self.priorities) == set(PRIORITY_KEYS):
            which = "all incidents"
        else:
            which = "incidents in " + ", ".join(PRIORITY_BY_KEY[k].label for k in self.priorities)
        return f"{self.period}, {which}"

    @property
    def truncated(self) -> bool:
        return len(self.timeline) < self.total_rows


def _imd(wards: pd.DataFrame) -> pd.DataFrame:
    """IMD 2019 score and rank among the loaded wards (1 = most deprived), when the file exists."""
    path = config.imd_path()
    if path is None or not path.exists():
        return pd.DataFrame({"ward_code": wards["ward_code"]})
    imd = pd.read_csv(path, usecols=["ward_code", "imd_score"])
    imd = imd[imd["ward_code"].isin(wards["ward_code"])]
    imd["imd_rank"] = imd["imd_score"].rank(ascending=False, method="min").astype(int)
    return imd


def _linked(con, condition: str, params: list, column: str, exclude: str | None) -> tuple[pd.DataFrame, int]:
    extra, extra_params = ("", []) if exclude is None else (f" AND {column} <> ?", [exclude])
    where = f"{condition} AND {column} IS NOT NULL{extra}"
    table = con.execute(f"""SELECT {column}, count(*) AS incidents,
            min(coalesce(occurred_at, month))::DATE AS first, max(coalesce(occurred_at, month))::DATE AS last
            FROM incidents WHERE {where} GROUP BY {column}
            ORDER BY incidents DESC, last DESC, {column} LIMIT {LINKED_LIMIT}""",
                        params + extra_params).df()
    total = con.execute(f"SELECT count(DISTINCT {column}) FROM incidents WHERE {where}",
                        params + extra_params).fetchall()[0][0]
    return table, int(total)


def _priority_labels(frame: pd.DataFrame) -> pd.Series:
    flags = np.stack([frame[f"p_{p.key}"].fillna(False).to_numpy(bool) for p in PRIORITIES], axis=1)
    names = [p.label for p in PRIORITIES]
    return pd.Series(["; ".join(n for n, on in zip(names, row) if on) for row in flags],
                     index=frame.index, dtype="object")


def _when_text(frame: pd.DataFrame) -> pd.Series:
    """'YYYY-MM-DD HH:MM', 'YYYY-MM-DD' or 'YYYY-MM', as precisely as the incident is known."""
    occurred = pd.to_datetime(frame["occurred_at"])
    month = pd.to_datetime(frame["month"])
    text = np.where(frame["time_precision"] == "datetime", occurred.dt.strftime("%Y-%m-%d %H:%M"),
                    np.where(frame["time_precision"] == "day", occurred.dt.strftime("%Y-%m-%d"),
                             month.dt.strftime("%Y-%m")))
    return pd.Series(text, index=frame.index, dtype="object")


def build_profile(con: duckdb.DuckDBPyConnection, f: flt.Filters, subject: Subject,
                  limit: int = TIMELINE_LIMIT, within_wards: frozenset[str] | None = None) -> Profile:
    """The subject's problem profile for the period and priorities of `f` (aggregates in DuckDB;
    only the latest `limit` incidents are pulled as rows). `within_wards`: only incidents in these
    wards (Viewer.place_wards of a neighbourhood officer); None for every incident."""
    condition, params = subject_condition(f, subject, within_wards)
    wards = con.execute("SELECT ward_code, ward_name FROM wards").df()
    names = dict(zip(wards["ward_code"], wards["ward_name"]))
    priority_columns = ", ".join(f"p_{k}" for k in PRIORITY_KEYS)
    rows = con.execute(f"""SELECT coalesce(occurred_at, month) AS t, month, occurred_at, time_precision,
            category, is_asb, {priority_columns}, location, premises_id, premises_name, ward_code,
            victim_id, offender_id, outcome, source, incident_id
            FROM incidents WHERE {condition}
            ORDER BY t DESC, source, incident_id LIMIT {int(limit)}""", params).df()
    timeline = pd.DataFrame({
        "when": _when_text(rows), "category": rows["category"],
        "kind": np.where(rows["is_asb"], "ASB incident", "crime"),
        "priorities": _priority_labels(rows), "location": rows["location"],
        "premises": rows["premises_name"].fillna(rows["premises_id"]),
        "ward": rows["ward_code"].map(names), "victim_id": rows["victim_id"],
        "offender_id": rows["offender_id"], "outcome": rows["outcome"], "source": rows["source"],
        "incident_id": rows["incident_id"]})
    if subject.kind == "person":
        key = subject.key.strip()
        as_victim = np.where(rows["offender_id"] == key, "victim and offender", "victim")
        timeline.insert(2, "role", np.where(rows["victim_id"] == key, as_victim, "offender"))

    crimes, asb, first, last = con.execute(f"""SELECT count(*) FILTER (WHERE NOT is_asb),
            count(*) FILTER (WHERE is_asb), min(coalesce(occurred_at, month)),
            max(coalesce(occurred_at, month))
            FROM incidents WHERE {condition}""", params).fetchall()[0]
    monthly = con.execute(f"""SELECT month, count(*) FILTER (WHERE NOT is_asb) AS crimes,
            count(*) FILTER (WHERE is_asb) AS asb_incidents FROM incidents WHERE {condition}
            GROUP BY month""", params).df()
    months = pd.date_range(pd.Timestamp(f.start), pd.Timestamp(f.end), freq="MS", name="month")
    monthly = (monthly.assign(month=pd.to_datetime(monthly["month"])).set_index("month")
               .reindex(months, fill_value=0).astype(int).reset_index())
    sums = ", ".join(f"count(*) FILTER (WHERE p_{k} AND NOT is_asb), count(*) FILTER (WHERE p_{k} AND is_asb)"
                     for k in PRIORITY_KEYS)
    values = con.execute(f"SELECT {sums} FROM incidents WHERE {condition}", params).fetchall()[0]
    by_priority = pd.DataFrame({"priority": [p.label for p in PRIORITIES],
                                "crimes": values[0::2], "asb_incidents": values[1::2]})
    involved = (by_priority["crimes"] > 0) | (by_priority["asb_incidents"] > 0)
    by_priority = by_priority[involved].reset_index(drop=True)
    categories = con.execute(f"""SELECT category,
            CASE WHEN is_asb THEN 'ASB incident' ELSE 'crime' END AS kind,
            count(*) AS incidents FROM incidents WHERE {condition}
            GROUP BY category, is_asb ORDER BY incidents DESC, category""", params).df()

    person = subject.key.strip() if subject.kind == "person" else None
    victims, n_victims = _linked(con, condition, params, "victim_id", person)
    offenders, n_offenders = _linked(con, condition, params, "offender_id", person)
    premises = con.execute(f"""SELECT premises_id, any_value(premises_type) AS type,
            count(*) AS incidents FROM incidents
            WHERE {condition} AND premises_id IS NOT NULL GROUP BY premises_id
            ORDER BY incidents DESC, premises_id LIMIT {LINKED_LIMIT}""", params).df()
    labels = places.premises_table(con).set_index("premises_id")["label"]
    premises.insert(1, "premises", premises["premises_id"].map(labels).fillna(premises["premises_id"]))
    n_premises = con.execute(f"SELECT count(DISTINCT premises_id) FROM incidents WHERE {condition}",
                             params).fetchall()[0][0]
    ward_context = _ward_context(con, f, condition, params, wards)
    return Profile(subject=subject, start=f.start, end=f.end, priorities=tuple(f.priorities),
                   generated=datetime.now().replace(microsecond=0),
                   data_note=store.synthetic_note(con), crimes=int(crimes), asb_incidents=int(asb),
                   first=pd.Timestamp(first) if first is not None else None,
                   last=pd.Timestamp(last) if last is not None else None,
                   timeline=timeline, monthly=monthly, by_priority=by_priority, categories=categories,
                   victims=victims, offenders=offenders, premises=premises, wards=ward_context,
                   linked_counts={"victims": n_victims, "offenders": n_offenders, "premises": int(n_premises)},
                   scope_wards=frozenset(within_wards) if within_wards is not None else None)


def has_person_keys(profile: Profile) -> bool:
    return any(key in table for table in (profile.timeline, profile.victims, profile.offenders)
               for key in access.PERSON_KEYS)


def for_viewer(profile: Profile, viewer: access.Viewer) -> Profile:
    """The profile with only what `viewer` may see (cdp.access decides): person keys only for those
    who see them, else the timeline without keys and no linked victim or offender lists (their
    counts stay). A viewer limited to wards (Viewer.place_wards) gets only a profile built for
    those wards (build_profile(within_wards=...)), so every premises named in it is in their area."""
    if not viewer.may_profile(profile.subject.kind):
        raise PermissionError(f"the {viewer.role} role may not open "
                              f"{KINDS[profile.subject.kind].lower()} profiles")
    allowed = viewer.place_wards
    if allowed is not None and (profile.scope_wards is None or not profile.scope_wards <= allowed):
        raise PermissionError(f"this profile covers wards outside the {viewer.role} viewer's area")
    if viewer.sees_person_keys:
        return profile
    return replace(profile, timeline=access.restrict(profile.timeline, viewer),
                   victims=access.restrict(profile.victims, viewer).iloc[0:0],
                   offenders=access.restrict(profile.offenders, viewer).iloc[0:0])


def _ward_context(con, f: flt.Filters, condition: str, params: list, wards: pd.DataFrame) -> pd.DataFrame:
    """Per ward the subject's incidents fall in: theirs and the ward's (same period and priorities),
    crimes and ASB incidents apart, and the ward's IMD 2019 deprivation."""
    ward_where, ward_params = flt.where(flt.Filters(start=f.start, end=f.end, priorities=f.priorities))
    table = con.execute(f"""
        WITH subject AS (SELECT ward_code, count(*) FILTER (WHERE NOT is_asb) AS crimes,
                                count(*) FILTER (WHERE is_asb) AS asb_incidents
                         FROM incidents WHERE {condition} GROUP BY ward_code),
             ward AS (SELECT ward_code, count(*) FILTER (WHERE NOT is_asb) AS ward_crimes,
                             count(*) FILTER (WHERE is_asb) AS ward_asb_incidents
                      FROM incidents WHERE {ward_where} AND ward_code IN (SELECT ward_code FROM subject)
                      GROUP BY ward_code)
        SELECT s.ward_code, s.crimes, s.asb_incidents, coalesce(w.ward_crimes, 0) AS ward_crimes,
               coalesce(w.ward_asb_incidents, 0) AS ward_asb_incidents
        FROM subject s LEFT JOIN ward w USING (ward_code)
        ORDER BY s.crimes + s.asb_incidents DESC""", params + ward_params).df()
    table.insert(1, "ward", table["ward_code"].map(dict(zip(wards["ward_code"], wards["ward_name"])))
                 .fillna("Outside the wards or unlocated"))
    with np.errstate(divide="ignore", invalid="ignore"):
        table["share_of_ward_crimes"] = np.where(table["ward_crimes"] > 0,
                                                 table["crimes"] / table["ward_crimes"], np.nan)
        table["share_of_ward_asb"] = np.where(table["ward_asb_incidents"] > 0,
                                              table["asb_incidents"] / table["ward_asb_incidents"], np.nan)
    imd = _imd(wards)
    if "imd_score" in imd:
        table = table.merge(imd, on="ward_code", how="left")
        table["imd_rank"] = table["imd_rank"].astype("Int64")
    return table


# --- figures -------------------------------------------------------------------------------------

def timeline_figure(profile: Profile) -> go.Figure:
    """Each listed incident as a dot: date across, category down, crimes and ASB in two colours."""
    frame = profile.timeline.assign(t=pd.to_datetime(profile.timeline["when"], format="mixed"))
    keys = [k for k in access.PERSON_KEYS if k in frame]  # absent from a profile without person keys
    if len(keys) != len(access.PERSON_KEYS):
        keys = []
    fig = go.Figure()
    for kind, colour in (("crime", PALETTE["primary"]), ("ASB incident", PALETTE["accent"])):
        part = frame[frame["kind"] == kind]
        if part.empty:
            continue
        fig.add_trace(go.Scatter(
            x=part["t"], y=chart_series(part["category"]), mode="markers",
            name="Crimes" if kind == "crime" else "ASB incidents",
            marker={"color": colour, "size": 9, "opacity": 0.75,
                    "line": {"width": 0.5, "color": "white"}},
            customdata=part[["when", "location", "priorities", *keys]].fillna("").map(chart).to_numpy(),
            hovertemplate=("%{customdata[0]} %{y}<br>%{customdata[1]}<br>%{customdata[2]}"
                           + ("<br>victim %{customdata[3]} offender %{customdata[4]}" if keys else "")
                           + "<extra></extra>")))
    categories = frame["category"].nunique()
    fig.update_layout(height=max(240, 28 * categories + 110), margin={"l": 0, "r": 0, "t": 10, "b": 0},
                      xaxis={"range": [pd.Timestamp(profile.start),
                                       pd.Timestamp(flt.month_add(profile.end, 1))]},
                      yaxis={"automargin": True, "categoryorder": "total ascending"},
                      legend={"orientation": "h", "y": -0.15})
    return fig


def monthly_figure(profile: Profile) -> go.Figure:
    """Crimes and ASB incidents per month as two lines (never added together)."""
    fig = go.Figure()
    for column, name, colour in (("crimes", "Crimes", PALETTE["primary"]),
                                 ("asb_incidents", "ASB incidents", PALETTE["accent"])):
        fig.add_trace(go.Scatter(x=profile.monthly["month"], y=profile.monthly[column], name=name,
                                 mode="lines+markers", line={"color": colour, "width": 2},
                                 hovertemplate=f"%{{x|%b %Y}}: %{{y:,}} {name.lower()}<extra></extra>"))
    fig.update_layout(height=260, margin={"l": 0, "r": 0, "t": 10, "b": 0},
                      yaxis={"rangemode": "tozero", "title": "per month"},
                      legend={"orientation": "h", "y": -0.2})
    return fig


# --- exports -------------------------------------------------------------------------------------

def _file_stem(profile: Profile) -> str:
    key = "".join(c if c.isalnum() else "-" for c in (profile.subject.key or profile.subject.label or "area"))
    return (f"problem-profile-{profile.subject.kind}-{key.strip('-')[:40]}-"
            f"{profile.start:%Y%m}-{profile.end:%Y%m}")


def timeline_csv(profile: Profile) -> bytes:
    """The timeline's rows as CSV (UTF-8, formula-looking cells neutralised)."""
    return exports.csv_bytes(profile.timeline)


def _display(table: pd.DataFrame) -> pd.DataFrame:
    """Readable column names and values for the exported tables."""
    shown = table.copy()
    for column in shown.columns:
        if column.startswith("share_"):
            shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{v:.1%}")
        elif pd.api.types.is_datetime64_any_dtype(shown[column]):
            shown[column] = shown[column].dt.strftime("%Y-%m-%d")
    shown = shown.astype("object").where(shown.notna(), "")
    shown.columns = [str(c).replace("_", " ").capitalize().replace("Asb", "ASB").replace("Imd", "IMD")
                     .replace(" id", " key") for c in shown.columns]
    return shown


def summary_lines(profile: Profile) -> list[tuple[str, str]]:
    """The headline facts of the profile as (label, value) pairs."""
    span = "none" if profile.first is None else f"{profile.first:%d %b %Y} to {profile.last:%d %b %Y}"
    return [("Subject", profile.subject.title), ("Period", profile.scope),
            ("Crimes", f"{profile.crimes:,}"), ("ASB incidents", f"{profile.asb_incidents:,}"),
            ("First and last incident", span),
            ("Linked victims", f"{profile.linked_counts.get('victims', 0):,}"),
            ("Linked offenders", f"{profile.linked_counts.get('offenders', 0):,}"),
            ("Linked premises", f"{profile.linked_counts.get('premises', 0):,}"),
            ("Generated", f"{profile.generated:%d %B %Y %H:%M}")]


SECTIONS = [("Priorities", "by_priority"), ("Categories", "categories"), ("Linked victims", "victims"),
            ("Linked offenders", "offenders"), ("Linked premises", "premises"), ("Ward context", "wards")]


def _sections(profile: Profile) -> list[tuple[str, str]]:
    """The exported sections: without the linked victim and offender lists when there are no keys."""
    return [(title, name) for title, name in SECTIONS
            if name not in ("victims", "offenders") or has_person_keys(profile)]


def classification(profile: Profile) -> str:
    return CLASSIFICATION if has_person_keys(profile) else CLASSIFICATION_NO_KEYS


_CSS = """
body { font-family: "Segoe UI", Arial, Helvetica, sans-serif; color: #1d2733; margin: 2rem auto;
       max-width: 1100px; padding: 0 1rem; }
h1 { color: #1f4e79; margin-bottom: 0.2rem; } h2 { color: #1f4e79; border-bottom: 2px solid #1f4e79;
     padding-bottom: 0.2rem; margin-top: 2rem; }
.marking { background: #fff3cd; border: 1px solid #e0c36b; padding: 0.5rem 0.8rem; font-weight: 600; }
.demo { background: #fde2e1; border: 1px solid #c0504d; padding: 0.5rem 0.8rem; margin-top: 0.5rem; }
table { border-collapse: collapse; width: 100%; font-size: 0.85rem; margin: 0.5rem 0; }
th, td { border: 1px solid #c8d0d9; padding: 0.25rem 0.45rem; text-align: left; vertical-align: top; }
th { background: #e8eef4; } tr:nth-child(even) td { background: #f7f9fb; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.2rem 1rem; }
dt { font-weight: 600; } dd { margin: 0; } .note { color: #56606b; font-size: 0.85rem; }
@media print { .plot { page-break-inside: avoid; } }
"""


def _html_table(table: pd.DataFrame) -> str:
    if table.empty:
        return '<p class="note">None.</p>'
    return exports.html_table(_display(table))


def profile_html(profile: Profile) -> str:
    """The profile as one self-contained HTML page (plotly.js and CSS inline, no external links)."""
    e = markup.html
    facts = "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in summary_lines(profile))
    title = e("Problem profile: " + profile.subject.title)
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
             f"<title>{title}</title><style>{_CSS}</style></head><body>",
             f'<p class="marking">{e(classification(profile))}</p>']
    if profile.data_note:
        parts.append(f'<p class="demo">{e(profile.data_note)}: every figure here comes from synthetic '
                     f'demo data.</p>')
    parts += [f"<h1>Problem profile</h1><p>{e(profile.subject.title)} &middot; {e(profile.scope)}</p>",
              f"<dl>{facts}</dl>"]
    if profile.total_rows:
        # plotly.js goes inline once, with the first figure; the second uses it.
        monthly = monthly_figure(profile).to_html(include_plotlyjs=True, full_html=False)
        timeline = timeline_figure(profile).to_html(include_plotlyjs=False, full_html=False)
        parts += ["<h2>Incidents per month</h2>", f'<div class="plot">{monthly}</div>',
                  "<h2>Timeline</h2>", f'<div class="plot">{timeline}</div>']
    for title, name in _sections(profile):
        parts += [f"<h2>{e(title)}</h2>", _html_table(getattr(profile, name))]
    note = (f" The latest {len(profile.timeline):,} of {profile.total_rows:,} incidents are listed."
            if profile.truncated else "")
    parts += [f"<h2>Incidents</h2><p class=\"note\">Newest first.{e(note)}</p>", _html_table(profile.timeline),
              f'<p class="note">Crimes and ASB incidents are counted separately. Person keys are '
              f'pseudonymous. Ward boundaries: {e(geography.ATTRIBUTION)}</p></body></html>']
    return "".join(parts)


class _ProfilePDF(FPDF):
    def __init__(self, profile: Profile):
        super().__init__(orientation="landscape", format="A4")
        self.profile = profile
        self.set_auto_page_break(True, margin=14)
        self.set_title(exports.pdf_text("Problem profile: " + profile.subject.title))

    def header(self):
        self.set_font("helvetica", "B", 8)
        self.set_text_color(120, 80, 0)
        self.cell(0, 5, exports.pdf_text(classification(self.profile)), new_x="LMARGIN", new_y="NEXT")
        self.set_text_color(0, 0, 0)
        self.ln(1)

    def footer(self):
        self.set_y(-10)
        self.set_font("helvetica", "", 7)
        self.cell(0, 5, exports.pdf_text(f"Problem profile - {self.profile.subject.title} - page {self.page_no()}"),
                  align="C")


def _pdf_heading(pdf: FPDF, text: str) -> None:
    pdf.ln(3)
    pdf.set_font("helvetica", "B", 12)
    pdf.set_text_color(31, 78, 121)
    pdf.cell(0, 7, exports.pdf_text(text), new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)


def _pdf_table(pdf: FPDF, table: pd.DataFrame, font_size: float = 8) -> None:
    if table.empty:
        pdf.set_font("helvetica", "I", 8)
        pdf.cell(0, 5, "None.", new_x="LMARGIN", new_y="NEXT")
        return
    shown = _display(table)
    pdf.set_font("helvetica", "", font_size)
    with pdf.table(headings_style=FontFace(emphasis="BOLD", fill_color=(232, 238, 244)),
                   cell_fill_color=(247, 249, 251), cell_fill_mode="ROWS",
                   line_height=font_size * 0.5, text_align="LEFT", repeat_headings=1) as out:
        out.row([exports.pdf_text(c) for c in shown.columns])
        for values in shown.itertuples(index=False):
            out.row([exports.pdf_text(v) for v in values])


def _pdf_monthly_chart(pdf: FPDF, profile: Profile, height: float = 40) -> None:
    """Crimes and ASB incidents per month as paired bars (not stacked: never added)."""
    monthly = profile.monthly
    width = pdf.w - pdf.l_margin - pdf.r_margin
    top = pdf.get_y() + 2
    peak = max(int(monthly[["crimes", "asb_incidents"]].to_numpy().max()), 1)
    slot = width / max(len(monthly), 1)
    bar = slot * 0.4
    pdf.set_draw_color(150, 150, 150)
    pdf.line(pdf.l_margin, top + height, pdf.l_margin + width, top + height)
    pdf.set_font("helvetica", "", 6)
    for i, row in enumerate(monthly.itertuples(index=False)):
        x = pdf.l_margin + i * slot + slot * 0.1
        for offset, value, colour in ((0, row.crimes, (31, 78, 121)), (bar, row.asb_incidents, (192, 80, 77))):
            h = height * value / peak
            if h > 0:
                pdf.set_fill_color(*colour)
                pdf.rect(x + offset, top + height - h, bar, h, style="F")
        if len(monthly) <= 24 or i % max(len(monthly) // 12, 1) == 0:
            pdf.text(x, top + height + 3, pd.Timestamp(row.month).strftime("%b %y"))
    pdf.text(pdf.l_margin, top - 0.5, f"Peak {peak:,} a month. Blue: crimes. Red: ASB incidents.")
    pdf.set_fill_color(255, 255, 255)
    pdf.set_y(top + height + 6)


def profile_pdf(profile: Profile) -> bytes:
    """The profile as an A4 landscape PDF (fpdf2)."""
    pdf = _ProfilePDF(profile)
    pdf.add_page()
    pdf.set_font("helvetica", "B", 18)
    pdf.set_text_color(31, 78, 121)
    pdf.cell(0, 10, "Problem profile", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    if profile.data_note:
        pdf.set_font("helvetica", "B", 9)
        pdf.set_text_color(192, 80, 77)
        pdf.cell(0, 6, exports.pdf_text(f"{profile.data_note}: every figure here comes from synthetic demo data."),
                 new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0, 0, 0)
    for label, value in summary_lines(profile):
        pdf.set_font("helvetica", "B", 9)
        pdf.cell(50, 5, exports.pdf_text(label))
        pdf.set_font("helvetica", "", 9)
        pdf.cell(0, 5, exports.pdf_text(value), new_x="LMARGIN", new_y="NEXT")
    if profile.total_rows:
        _pdf_heading(pdf, "Incidents per month")
        _pdf_monthly_chart(pdf, profile)
    for title, name in _sections(profile):
        _pdf_heading(pdf, title)
        _pdf_table(pdf, getattr(profile, name))
    _pdf_heading(pdf, "Incidents (newest first)")
    listed = profile.timeline.head(PDF_TIMELINE_LIMIT)
    if len(listed) < profile.total_rows:
        pdf.set_font("helvetica", "I", 8)
        pdf.cell(0, 5, f"The latest {len(listed):,} of {profile.total_rows:,} incidents; the CSV export "
                 f"lists {len(profile.timeline):,}.", new_x="LMARGIN", new_y="NEXT")
    _pdf_table(pdf, listed.drop(columns=["source"]), font_size=7)
    pdf.ln(2)
    pdf.set_font("helvetica", "", 7)
    pdf.multi_cell(0, 4, exports.pdf_text("Crimes and ASB incidents are counted separately. Person keys are "
                                 f"pseudonymous. Ward boundaries: {geography.ATTRIBUTION}"))
    return bytes(pdf.output())


EXPORTS = {
    "html": ("HTML", "text/html", profile_html),
    "pdf": ("PDF", "application/pdf", profile_pdf),
    "csv": ("CSV", "text/csv", timeline_csv),
}


def export_file_name(profile: Profile, fmt: str) -> str:
    return f"{_file_stem(profile)}.{fmt}"


def audit_filters(profile: Profile) -> dict:
    """What an export of this profile selected, for the audit log."""
    subject = profile.subject
    return {"subject": subject.kind, "key": subject.key or None, "label": subject.label or None,
            "radius_m": subject.radius_m or None, "easting": subject.easting, "northing": subject.northing,
            "start": f"{profile.start:%Y-%m}", "end": f"{profile.end:%Y-%m}",
            "priorities": list(profile.priorities),
            **({"wards": sorted(profile.scope_wards)} if profile.scope_wards is not None else {})}


def export_bytes(profile: Profile, fmt: str) -> bytes:
    """The profile in `fmt` ('html', 'pdf' or 'csv') as bytes, stamped with the time it is made."""
    stamped = replace(profile, generated=datetime.now().replace(microsecond=0))
    data = EXPORTS[fmt][2](stamped)
    return data.encode("utf-8") if isinstance(data, str) else data


def export(profile: Profile, fmt: str) -> exports.Export:
    """The profile in `fmt` ('html', 'pdf' or 'csv') as a download, audited when made; with person
    keys in it, the download layer refuses it to viewers who may not see them."""
    return exports.Export(lambda: export_bytes(profile, fmt), export_file_name(profile, fmt), EXPORTS[fmt][1],
                          person_level=has_person_keys(profile), audited=True,
                          what=f"problem profile {EXPORTS[fmt][0]}", filters=audit_filters(profile),
                          rows=len(profile.timeline))
