"""The one sidebar of filters shared by every page, kept across pages and written to the URL."""
from __future__ import annotations

from dataclasses import fields, replace
from datetime import date

import streamlit as st

from cdp import areas as nat_areas
from cdp import categories, counting, geography, queries
from cdp import filters as flt
from cdp.markup import md
from cdp.priorities import PRIORITY_BY_KEY, PRIORITY_KEYS
from cdp.targets import definitions

from . import context

CUSTOM = "Custom range"
FILTER_FIELDS = {fld.name for fld in fields(flt.Filters)}  # the URL parameters the sidebar owns


def _presets(last: date, first: date) -> dict[str, tuple[date, date]]:
    """Quick picks relative to the latest month loaded: rolling windows and financial years."""
    presets = {
        "Last 12 months": (flt.month_add(last, -11), last),
        "Last 3 months": (flt.month_add(last, -2), last),
        "Latest month": (last, last),
    }
    year = last.year if last.month >= 4 else last.year - 1
    while date(year, 4, 1) >= first and len(presets) < 10:
        start = date(year, 4, 1)
        end = min(date(year + 1, 3, 1), last)
        label = f"Financial year {year}/{str(year + 1)[2:]}" + (" (to date)" if end < date(year + 1, 3, 1) else "")
        presets[label] = (start, end)
        year -= 1
    return presets


@st.cache_data(show_spinner=False, max_entries=8)
def _choices(version: str, residential_wards: frozenset[str] | None) -> dict:
    """What the filters offer; residential premises are named only in `residential_wards`
    (the viewer's, see cdp.access.Viewer.residential_wards)."""
    with context.reading() as con:
        first, last = queries.data_months(con)
        # Quick picks and the default period end at the latest month every source covers.
        complete = counting.months(con).last_complete() or last
        wards = queries.ward_names(con)
        types = [r[0] for r in con.execute("SELECT DISTINCT premises_type FROM incidents "
                                           "WHERE premises_type IS NOT NULL ORDER BY 1").fetchall()]
        return {"first": first, "last": last, "complete": complete, "wards": wards,
                "categories": categories.category_groups(con),
                "premises": queries.premises_options(con, residential_wards),
                "premises_types": types, "available": flt.availability(con)}


def default_filters(choices: dict) -> flt.Filters:
    """The last 12 complete months (cdp.counting), or as many as the data holds."""
    last = choices["complete"]
    return flt.Filters(start=max(flt.month_add(last, -11), choices["first"]), end=last)


def _init_state(choices: dict, default: flt.Filters, areas: nat_areas.Areas) -> None:
    """On a session's first run, set the widgets from the URL (a bookmarked or shared view)."""
    if st.session_state.get("_filters_ready"):
        return
    f = flt.from_query(st.query_params.to_dict(), default)
    presets = _presets(choices["complete"], choices["first"])
    chosen = next((name for name, span in presets.items() if span == (f.start, f.end)), CUSTOM)
    state = st.session_state
    state["f_period"] = chosen
    state["f_range"] = (f.start, f.end)
    state["f_priorities"] = [] if f.priorities == PRIORITY_KEYS else list(f.priorities)
    state["f_area"] = area.name if (area := areas.get(f.area)) else None
    state["f_wards"] = [w for w in f.wards if w in choices["wards"] and (not area or w in area.ward_codes)]
    state["f_categories"] = [c for c in f.categories if c in choices["categories"]]
    state["f_age"], state["f_sex"] = list(f.age_bands), list(f.sexes)
    state["f_vulnerable"], state["f_repeat"] = f.vulnerable_only, f.repeat_only
    state["f_location"] = f.location_text
    state["f_ptypes"] = [t for t in f.premises_types if t in choices["premises_types"]]
    state["f_premises"] = f.premises_id if f.premises_id in choices["premises"] else None
    state["f_radius"] = f.radius_m
    state["f_centre_premises"] = None
    state["f_centre_point"] = ""
    if f.radius_m and f.centre_label:
        if f.centre_label in choices["premises"]:
            state["f_centre_premises"] = f.centre_label
        else:
            state["f_centre_point"] = f.centre_label
    state["_filters_ready"] = True


def _centre(choices: dict) -> tuple[float | None, float | None, str, str | None]:
    """The radius centre from a chosen premises or a typed 'lat, lon'; with an error if unreadable."""
    premises = st.session_state.get("f_centre_premises")
    if premises:
        _, east, north = choices["premises"][premises]
        return east, north, premises, None
    text = st.session_state.get("f_centre_point", "").strip()
    if not text:
        return None, None, "", None
    try:
        lat, lon = (float(v) for v in text.split(","))
    except ValueError:
        return None, None, "", f"'{text}' is not 'latitude, longitude'"
    east, north = geography.to_bng([lon], [lat])
    return float(east[0]), float(north[0]), text, None


# The widgets of the People, Places and Premises sections: their keys (set by _init_state) and
# what a closed section calls them when they are set.
SECTIONS = {
    "People": {"f_age": "victim age band", "f_sex": "victim sex", "f_vulnerable": "vulnerable victims only",
               "f_repeat": "repeat victims only"},
    "Places": {"f_location": "street or location", "f_radius": "radius",
               "f_centre_premises": "radius around premises", "f_centre_point": "radius around a point"},
    "Premises": {"f_ptypes": "premises type", "f_premises": "named premises"},
}


def open_key(title: str) -> str:
    """The key of section `title`'s open state (True while it is open)."""
    return f"f_{title.lower()}_open"


def section_of(widget: str) -> str | None:
    """The open_key of the section that draws the widget of key `widget`, if one does."""
    return next((open_key(title) for title, keys in SECTIONS.items() if widget in keys), None)


def _section(bar, title: str):
    """A sidebar section of filters whose widgets are drawn only while it is open: closed, it
    sends nothing (the premises lists are megabytes at scale, and every widget costs the browser
    time) and what was chosen in it stays, named under it."""
    for key in SECTIONS[title]:
        st.session_state[key] = st.session_state.get(key)  # kept while the widget is not drawn
    section = bar.expander(title, key=open_key(title), on_change="rerun")
    chosen = [name for key, name in SECTIONS[title].items() if st.session_state[key]]
    if chosen and not section.open:
        bar.caption(f"{title}: {', '.join(chosen)} set")
    return section


def render() -> flt.Filters:
    """Draw the filter sidebar and return the filters it sets (also written to the URL)."""
    choices = _choices(context.data_version(), context.viewer().residential_wards)
    default = default_filters(choices)
    areas, areas_problem = context.areas()
    _init_state(choices, default, areas)
    available = choices["available"]
    months = [flt.month_add(choices["first"], i) for i in range(flt.months_between(choices["first"], choices["last"]))]
    presets = _presets(choices["complete"], choices["first"])
    bar = st.sidebar

    bar.header("Filters")
    period = bar.selectbox("Period", [*presets, CUSTOM], key="f_period")
    if period == CUSTOM:
        start, end = bar.select_slider("Months", options=months, key="f_range",
                                       format_func=lambda d: d.strftime("%b %Y"))
    else:
        start, end = presets[period]
        st.session_state["f_range"] = (start, end)
    if choices["complete"] < choices["last"]:
        bar.caption(f"Quick picks end in {choices['complete']:%B %Y}, the latest month every source "
                    f"covers; later months (to {choices['last']:%B %Y}) are not complete. See the "
                    "Data page.")
    bar.multiselect("Priorities", PRIORITY_KEYS, key="f_priorities",
                    format_func=lambda k: PRIORITY_BY_KEY[k].label, placeholder="All six priorities",
                    help="The Partnership Plan 2021-24 priorities. Empty means all six.")
    area = None
    if areas.areas:
        if st.session_state.get("f_area") not in areas.names:  # e.g. the area file changed
            st.session_state["f_area"] = None
        bar.selectbox("NAT area", areas.names, key="f_area", index=None, placeholder="All areas",
                      help="Neighbourhood Action Team areas: groups of wards (CDP_AREAS, else "
                           "config/areas.toml). Pages report for the area's wards.")
        area = areas.get(st.session_state["f_area"] or "")
    elif areas_problem:
        bar.warning(f"No NAT areas: {md(areas_problem)}")
    ward_options = [c for c in choices["wards"] if not area or c in area.ward_codes]
    st.session_state["f_wards"] = [w for w in st.session_state.get("f_wards", []) if w in ward_options]
    bar.multiselect("Wards", ward_options, key="f_wards", format_func=lambda c: choices["wards"][c],
                    placeholder=f"All wards of {area.name}" if area else "All wards")
    bar.multiselect("Categories", list(choices["categories"]), key="f_categories",
                    format_func=lambda c: categories.label(c, choices["categories"]),
                    placeholder="All categories",
                    help="police.uk crime types and partner categories, ASB types first "
                         "(e.g. ASB: Noise). Empty means all.")

    def why(name: str) -> dict:
        return {"disabled": True, "help": available[name]} if available[name] else {}

    with _section(bar, "People") as people:
        if people.open:
            st.multiselect("Victim age band", flt.AGE_BANDS, key="f_age", **why("age_bands"))
            st.multiselect("Victim sex", flt.SEXES, key="f_sex", **why("sexes"))
            st.checkbox("Vulnerable victims only", key="f_vulnerable", **why("vulnerable_only"))
            st.checkbox("Repeat victims only", key="f_repeat", **why("repeat_only"),
                        **({} if available["repeat_only"] else
                           {"help": "Victims with two or more counted incidents within 12 months "
                                    f"({definitions().window_days} days) of each other, in any priority"}))
    with _section(bar, "Places") as places:
        if places.open:
            st.text_input("Street or location contains", key="f_location", **why("location_text"))
            st.number_input("Within radius (metres)", min_value=0, max_value=20_000, step=100,
                            key="f_radius", **why("radius_m"))
            st.selectbox("...of premises", list(choices["premises"]), key="f_centre_premises",
                         format_func=lambda p: choices["premises"][p][0], index=None,
                         placeholder="Choose premises", **why("premises_id"))
            st.text_input("...or of a point (latitude, longitude)", key="f_centre_point",
                          placeholder="52.9536, -1.1505", **why("radius_m"))
    with _section(bar, "Premises") as named:
        if named.open:
            st.multiselect("Premises type", choices["premises_types"], key="f_ptypes", **why("premises_types"))
            st.selectbox("Named premises", list(choices["premises"]), key="f_premises", index=None,
                         format_func=lambda p: choices["premises"][p][0], placeholder="Any premises",
                         **why("premises_id"))

    east, north, centre_label, centre_error = _centre(choices)
    radius = int(st.session_state["f_radius"] or 0)
    if radius and east is None:
        bar.warning(md(centre_error) if centre_error else "Choose premises or a point for the radius to apply.")
    state = st.session_state
    f = replace(default, start=start, end=end,
                priorities=tuple(state["f_priorities"]) or PRIORITY_KEYS,
                wards=tuple(state["f_wards"]), categories=tuple(state["f_categories"]),
                age_bands=tuple(state["f_age"]),
                sexes=tuple(state["f_sex"]), vulnerable_only=bool(state["f_vulnerable"]),
                repeat_only=bool(state["f_repeat"]), location_text=state["f_location"].strip(),
                premises_types=tuple(state["f_ptypes"]), premises_id=state["f_premises"] or "",
                radius_m=radius if east is not None else 0,
                centre_easting=east if radius else None, centre_northing=north if radius else None,
                centre_label=centre_label if radius else "")
    # The URL holds the area and the wards chosen within it; the filters, the wards that count.
    query = flt.to_query(replace(f, area=area.name if area else ""), default)
    if area:
        f = replace(f, area=area.name, wards=f.wards or tuple(ward_options))
    _write_url(query)
    return f


def _write_url(query: dict[str, str]) -> None:
    """The filters' part of the URL set to `query`; what pages keep there (their widgets bound
    with bind="query-params", e.g. the map's priority) is left as it is."""
    current = st.query_params.to_dict()
    for name in FILTER_FIELDS - query.keys():
        if name in current:
            del st.query_params[name]
    changed = {name: value for name, value in query.items() if current.get(name) != value}
    if changed:
        st.query_params.update(changed)
