"""Hotspot maps: where one priority happens, ward by ward, then street by street within a ward."""
from pathlib import Path

import streamlit as st

from app import context, files, reference_files, widgets
from cdp import access, cctv, config, counting, disclosure, exports, maps, queries, reference
from cdp.geography import ATTRIBUTION
from cdp.hotspots import method_note
from cdp.markup import chart, md
from cdp.priorities import PRIORITY_BY_KEY, counted_unit
from cdp.stats import format_p


@st.cache_data(show_spinner=False, max_entries=8)
def _reference(kind: str, path: str, modified: float):
    """A reference file, read once per change of the file: (value, error message)."""
    try:
        loader = reference.load_imd if kind == "imd" else reference.load_population
        return loader(path), None
    except reference.ReferenceFileError as exc:
        return None, str(exc)


def reference_file(kind: str, path: Path | None, missing: str):
    if path is None:
        return None, missing
    return _reference(kind, str(path), path.stat().st_mtime if path.exists() else 0.0)


f = context.filters()
viewer = context.viewer()
figures = viewer.figures   # every figure below comes from it (cdp.disclosure)
st.title("Hotspot maps")
st.caption(widgets.describe(f))
if figures.restricted:
    st.caption(figures.statement)

# --- the map's choices, each kept in the URL (a bookmarked or shared map opens as it was) --------
URL = {"bind": "query-params"}
c0, c1, c2, c3, c4 = st.columns([1.3, 1.15, 1.0, 1.3, 1.25])
priority = c0.selectbox("Priority on the map", f.priorities, key="maps_priority", **URL,
                        format_func=lambda k: PRIORITY_BY_KEY[k].label,
                        help="One priority at a time: ASB incidents and crimes are never added.")
unit = counted_unit(priority)
cover = context.cached(counting.months)().coverage(priority, f.start, f.end)
level = cover.level
if level == "unavailable":
    st.warning(f"**{PRIORITY_BY_KEY[priority].label}** cannot be mapped from the data counted in "
               f"this period: {PRIORITY_BY_KEY[priority].police_uk_note}. Load a partner extract to map it.")
    st.stop()
if level != "full":
    widgets.coverage_badge(level, cover.note)

imd, imd_error = reference_file("imd", config.imd_path(),
                                "No IMD 2019 ward file is configured (set CDP_IMD).")
if imd is not None and not reference.matches_any(imd["ward_code"], context.cached(queries.ward_names)()):
    imd, imd_error = None, (f"The IMD file {config.imd_path()} scores none of the loaded wards: set "
                            "CDP_IMD to your area's ward scores.")
population, population_error = reference_file("population", config.population_path(), None)
not_compared = context.cached(maps.change_not_compared)(f, priority)
compare = not_compared is None
year = f.year_earlier()
camera_file = reference_files.load("cctv")
cameras = None if camera_file.value is None else context.cached(cctv.placed)(camera_file.value)

with c1:
    measure = st.radio("Measure", ["count", "change"], key="maps_measure", horizontal=True, **URL,
                       format_func={"count": "Count", "change": "Change on a year earlier"}.get,
                       disabled=not compare,
                       help=f"Against the same months a year earlier ({year.start:%b %Y} to "
                            f"{year.end:%b %Y}): fair to the season.")
    if not compare:
        st.caption(f"Change is unavailable: the same months a year earlier ({year.start:%b %Y} to "
                   f"{year.end:%b %Y}) are not compared: {not_compared}.")
with c2:
    why_no_rate = (population_error or "No ward population file is configured: set CDP_POPULATION "
                   "to a CSV of ward_code,population to map rates.")
    per_resident = st.toggle("Per 1,000 residents", key="maps_per_resident", **URL,
                             disabled=population is None or measure == "change",
                             help=md(why_no_rate) if population is None else
                             "A change compares a ward with itself, so it reads the same per resident."
                             if measure == "change" else "Counts divided by the ward's residents.")
    if population is None:
        st.caption(f"Rates are unavailable. {md(population_error)}" if population_error else
                   "Rates need a ward population file (CDP_POPULATION).")
with c3:
    layer = st.radio("Colour wards by", ["priority", "imd"], key="maps_layer", horizontal=True, **URL,
                     format_func={"priority": PRIORITY_BY_KEY[priority].label,
                                  "imd": "IMD 2019 deprivation"}.get, disabled=imd is None)
    if imd is None:
        st.caption(f"Deprivation is unavailable. {md(imd_error)}")
with c4:
    scheme = st.selectbox("Class breaks", list(maps.SCHEMES), key="maps_scheme", **URL,
                          format_func=maps.SCHEMES.get)
    k = st.slider("Classes", 3, 7, 5, key="maps_classes", **URL)
measure = "rate" if per_resident and population is not None and measure == "count" else measure
if layer == "imd" and imd is None:
    layer = "priority"

# --- the data behind the map -------------------------------------------------------------------
true_table = maps.ward_table(context.cached(maps.ward_changes)(f, priority), population, imd)
table = maps.publish(true_table, figures, f.months)   # what this viewer is shown
shown_wards = list(true_table.loc[true_table["selected"], "count"])
placed = context.cached(maps.mapping_coverage)(f, priority)
concentration = maps.concentration_shown(context.cached(maps.place_concentration)(f, priority), figures)
gi_unsuitable = maps.gi_star_unsuitable(f)
gi = None if gi_unsuitable else context.cached(maps.gi_star)(
    f, priority, rule=figures.rule if figures.restricted else None)
summary = maps.hotspot_summary(gi, figures=figures, parts=shown_wards) if gi is not None else None

m1, m2, m3 = st.columns(3)
m1.metric(f"{unit[0].upper()}{unit[1:]} in the mapped wards",
          figures.total_text(placed["counted"], parts=shown_wards))
busiest = ("busiest places" if concentration["n_top_places"] is None else
           f"busiest {concentration['n_top_places']} of {concentration['n_places']} places")
if concentration["share"] is None:
    m2.metric(f"Share at the top {maps.TOP_SHARE:.0%} of places", "n/a")
else:
    m2.metric(f"Share at the top {maps.TOP_SHARE:.0%} of places", f"{concentration['share']:.0%}",
              help=f"{concentration['top_incidents']} of {concentration['incidents']} {unit} happened "
                   f"at the {busiest} (a place is a premises, else a snapped point).")
if summary is None:
    m3.metric(f"Significant hot spot cells ({maps.CELL_SIZE_M} m)", "not tested", help=gi_unsuitable)
else:
    m3.metric(f"Significant hot spot cells ({maps.CELL_SIZE_M} m)", f"{summary['hot']:,}",
              help=f"{summary['hot_km2']:.2f} km² holding "
                   + (f"{summary['hot_share']:.0%} of {unit}" if summary["hot_share"] is not None
                      else "none") + ". See the Gi* map under the ward map (Hot spots tab).")
widgets.not_counted(placed["not_counted"], figures)
if concentration["share"] is not None:
    places_shown = "" if concentration["n_top_places"] is None else \
        f" ({concentration['n_top_places']} of {concentration['n_places']} places)"
    st.markdown(f"**Concentration:** {concentration['share']:.0%} of {unit} in the mapped wards "
                f"happened at the top {maps.TOP_SHARE:.0%} of places{places_shown}.")

# --- the ward map, and beside it the wards' table or one ward's drill-down ---------------------
ALL_WARDS, DRILL_DOWN = "All wards", "Ward drill-down"
geojson = context.ward_geojson(maps.WARD_TOLERANCE_M)
centres = maps.ward_centres(geojson)
column, kind, legend, colours_from = {
    "count": ("count", "count", f"{unit[0].upper()}{unit[1:]}", "YlOrRd"),
    "rate": ("rate_per_1000", "rate", f"{unit[0].upper()}{unit[1:]} per 1,000 residents", "YlOrRd"),
    "change": ("pct_change", "percent", "Change on the same months a year earlier", "RdBu_r"),
}[measure]
if layer == "imd":
    column, kind, legend, colours_from = "imd_score", "score", "IMD 2019 average score", "Purples"
values = table[column].where(table["selected"])   # published values: breaks and legend from them
classes = maps.classify(values, scheme, k, kind, step=maps.class_step(figures))
colours = maps.class_colours(classes, colours_from, diverging=column == "pct_change")
hover = maps.hover_text(table, unit)
ward_names = dict(zip(table["ward_code"], table["ward_name"]))
options = list(table.loc[table["selected"], "ward_code"])


def ward_places(ward: str) -> tuple:
    """One ward's top streets and premises as this viewer may see them: residential premises are
    named only where the viewer may see them (tables and map hovers)."""
    streets = context.cached(maps.top_places)(f, priority, ward, "street", 10, compare)
    premises = context.cached(maps.top_places)(f, priority, ward, "premises", 10, compare)
    top_premises = maps.publish_places(
        access.restrict(premises["table"], viewer, name="place", ward_code=ward),
        premises["total"], figures, f.months)
    return maps.publish_places(streets["table"], streets["total"], figures, f.months), top_premises


def ward_density(ward: str, top_premises) -> None:
    """One ward's figures and where in it incidents cluster (beside the ward map)."""
    row = table.set_index("ward_code").loc[ward]   # the ward's published figures
    line = f"**{md(ward_names[ward])}**: {row['count_text']} {unit}"
    if compare and row["previous_text"]:
        judged = maps.verdict_text(row["verdict"], row["p_value"])
        line += f" (a year earlier {row['previous_text']}{'; ' + judged if judged else ''})"
    st.markdown(line)
    points = context.cached(maps.ward_points)(f, priority, ward)
    density = maps.density_figure(points, maps.ward_outline(geojson, ward),
                                  top_premises.head(5), figures=figures, height=480)
    if cameras is not None and not points.empty:
        cctv.add_cameras(density, cameras[cameras["ward_code"] == ward])
    st.plotly_chart(density, key="maps_density", config=maps.plotly_config(f"cdp-density-{ward}"))
    st.caption(f"Density of {unit} within the ward from {maps.DENSITY_CELL_M} m squares; "
               "diamonds mark the top 5 premises; the streets and premises are listed under the maps."
               + (" Squares and places with fewer than 5 are drawn empty and not listed, as "
                  "beside the ward's total their counts could be worked out." if figures.restricted else ""))


def ward_tables(ward: str, top_streets, top_premises) -> None:
    """One ward's top streets and premises (under the maps, where every column fits)."""
    st.markdown(f"**Top streets and locations in {md(ward_names[ward])}**")
    if top_streets.empty:
        st.info(f"No {unit} in {md(ward_names[ward])} for these filters"
                + (" at a street with 5 or more." if figures.restricted else "."))
    else:
        st.dataframe(maps.display_places(top_streets), hide_index=True, key="maps_streets",
                     height="content")
    st.markdown(f"**Top premises in {md(ward_names[ward])}**")
    if top_premises.empty:
        st.info("No incidents at recorded premises in this ward for these filters"
                + (" (the loaded data has no premises)." if level == "proxy" else "."))
    else:
        st.dataframe(maps.display_places(top_premises), hide_index=True, key="maps_premises",
                     height="content")
    st.caption(f"Share: of the ward's {unit} in the period. Change: against the same months a year "
               "earlier (fair to the season); the verdict is an exact rate-ratio test (p < 0.05). "
               "\"On or near\" and other spellings of one street are one street; premises that share "
               "a name show their street and ID.")


# A click on the map (its selection, kept in session state) drills into the ward clicked.
clicked = maps.selected_ward((st.session_state.get("maps_map") or {}).get("selection"), set(options))
if clicked and clicked != st.session_state.get("_maps_clicked"):
    st.session_state["_maps_clicked"] = clicked
    st.session_state["maps_ward"] = clicked
if st.session_state.get("maps_ward") not in options:
    st.session_state.pop("maps_ward", None)

left, right = st.columns(2)
with left:
    if placed["counted"] == 0 and layer == "priority":
        st.plotly_chart(maps.empty_figure(f"No {unit} in the mapped wards for these filters."),
                        key="maps_empty")
        figure = None
    else:
        missing, missing_colour = maps.missing_legend(column, figures, classes, colours, colours_from)
        figure = maps.ward_choropleth(table, geojson, classes, colours, legend, hover,
                                      centres=centres, mark_changes=measure == "change",
                                      missing_label=missing, missing_colour=missing_colour,
                                      title=f"{legend}, {widgets.describe(f, chart)}",
                                      drilled=st.session_state.get("maps_ward"))
        st.plotly_chart(figure, key="maps_map", on_select="rerun", selection_mode="points",
                        config=maps.plotly_config(f"cdp-ward-map-{priority}"))
        notes = [f"Classes: {maps.SCHEMES[scheme]}, from mapclassify."]
        if measure == "change":
            notes.append("▲/▼ mark a significant rise/fall (exact rate-ratio test, p < 0.05); "
                         "a bare percentage is not a verdict.")
        notes.append("Click a ward to drill down. " + ATTRIBUTION)
        st.caption(" ".join(notes))
with right:
    ward = st.selectbox("Drill down into a ward", options, index=None, key="maps_ward", **URL,
                        format_func=ward_names.get, placeholder="Click a ward on the map, or choose one")
    if ward != st.session_state.get("_maps_drilled"):   # a ward chosen (or cleared): show it
        st.session_state["_maps_drilled"] = ward
        st.session_state["maps_view"] = DRILL_DOWN if ward else ALL_WARDS
    wards_tab, ward_tab = st.tabs([ALL_WARDS, DRILL_DOWN], key="maps_view", on_change="rerun")
    top_streets, top_premises = ward_places(ward) if ward else (None, None)
    if wards_tab.open:
        with wards_tab:
            widgets.static_table(maps.display_table(table, ranked_by=column), most_rows=15, decimals=1)
    if ward_tab.open:
        with ward_tab:
            if ward:
                ward_density(ward, top_premises)
            else:
                st.info("Click a ward on the map, or choose one above, to see where in it "
                        "incidents cluster and its top streets and premises.")
d1, d2, d3 = st.columns([1, 1, 2])
public = figures.restricted or d1.toggle(
    "For publication", key="maps_public",
    help=f"The CSV under disclosure control, as the board sees it. {disclosure.published().statement}")
export = (maps.published_export(true_table, f.months, column, scheme, k, kind, f"Class ({legend})")
          if public else maps.export_table(table, classes, f"Class ({legend})", figures))
files.download_button("Download the table (CSV)", exports.csv_export(
    export, f"cdp-wards-{priority}-{f.start:%Y-%m}-{f.end:%Y-%m}{'-published' if public else ''}.csv"),
    key="maps_csv", container=d1)
if figure is not None:
    files.download_button("Download the map (HTML)", exports.Export(
        lambda: maps.map_html(figure).encode("utf-8"), f"cdp-ward-map-{priority}.html", "text/html"),
        key="maps_html", container=d2)
d3.caption("The map's toolbar camera saves it as a PNG, made in your browser. The HTML file is "
           "the interactive map, self-contained: it opens offline.")
if ward:
    ward_tables(ward, top_streets, top_premises)

# --- below the maps, one section at a time: only the open one is computed, sent and drawn ------
def hot_spots() -> None:
    """Getis-Ord Gi* on the grid: where high counts cluster, tested."""
    if summary is None:
        st.info(gi_unsuitable)
    elif summary["incidents"] == 0:
        st.info(f"No {unit} with a location in the mapped wards for these filters.")
    else:
        shown = list(table.loc[table["selected"], "ward_code"])
        gi_figure = maps.hotspot_figure(gi, maps.ward_outline(maps.ward_features(geojson, shown)),
                                        maps.ward_labels_bng(centres[centres["ward_code"].isin(shown)]),
                                        figures)
        if cameras is not None:
            cctv.add_cameras(gi_figure, cameras)
        st.plotly_chart(gi_figure, key="maps_gi", config=maps.plotly_config(f"cdp-hotspots-{priority}"))
        held = "n/a" if summary["hot_share"] is None else f"{summary['hot_share']:.0%}"
        st.markdown(f"**{summary['hot']:,} hot spot cells** ({summary['hot_km2']:.2f} km²) hold "
                    f"{held} of the {summary['incidents_text']} {unit} placed on the grid; "
                    f"{summary['cold']:,} cells are cold spots. A hot spot is a cluster of high counts "
                    "(a cell and its neighbours), not merely one large count.")
        st.caption(method_note(maps.CELL_SIZE_M, maps.PERMUTATIONS, maps.ALPHA))


def cctv_coverage() -> None:
    """How much of the hot spots and incidents the CCTV cameras see, and the hot spots they miss."""
    if camera_file.source.path is None:
        st.info("No CCTV camera file is configured. Set **CDP_CCTV** to a CSV of the cameras (camera_id, "
                "name, latitude and longitude or easting and northing, optional view_radius_m; format in "
                "README.md, 'CCTV cameras') to show them on the maps, the share of hot spots and incidents "
                "they cover, and the hot spots without a camera.")
    elif camera_file.error:
        st.error(f"The CCTV camera file cannot be used: {md(camera_file.error)}")
    elif summary is None or summary["incidents"] == 0:
        st.info("Coverage is measured against the significant hot spots (Hot spots tab): "
                + (gi_unsuitable or f"no {unit} with a location for these filters."))
    else:
        reference_files.note(camera_file, "camera locations")
        seen = context.cached(cctv.hotspot_coverage)(f, priority, gi, cameras, maps.CELL_SIZE_M)

        def share(part, whole) -> str:
            shown = figures.share(part, whole)
            return "n/a" if whole == 0 else disclosure.WITHHELD if shown is None else f"{shown:.0%}"

        k1, k2, k3, k4 = st.columns(4)
        k1.metric("Cameras", f"{seen['cameras']:,}", f"{seen['cameras_in_area']:,} in the mapped wards",
                  delta_color="off", delta_arrow="off")
        k2.metric("Hot spot cells a camera sees", share(seen["hot_cells_covered"], seen["hot_cells"]),
                  f"{seen['hot_cells_covered']:,} of {seen['hot_cells']:,} cells; "
                  + ("n/a" if seen["hot_area_share"] is None else f"{seen['hot_area_share']:.0%} of their area"),
                  delta_color="off", delta_arrow="off")
        k3.metric(f"{unit[0].upper()}{unit[1:]} in a camera's view", share(seen["incidents_covered"], seen["incidents"]),
                  f"{figures.text(seen['incidents_covered'])} of "
                  f"{figures.total_text(seen['incidents'], parts=shown_wards)}",
                  delta_color="off", delta_arrow="off")
        k4.metric(f"Hot spot {unit} in a camera's view", share(seen["hot_incidents_covered"], seen["hot_incidents"]),
                  delta_color="off", delta_arrow="off")
        uncovered = seen["uncovered"]
        if uncovered.empty:
            st.success("Every significant hot spot is within a camera's view.")
        else:
            st.markdown(f"**{len(uncovered):,} hot spot(s) without camera coverage**, largest first "
                        "(touching hot cells no camera's view reaches):")
            uncovered = uncovered.assign(incidents=figures.texts(uncovered["incidents"]))
            st.dataframe(uncovered, hide_index=True, key="maps_uncovered", column_config={
                "hotspot": st.column_config.NumberColumn("Hot spot", width="small"),
                "cells": st.column_config.NumberColumn(f"{maps.CELL_SIZE_M} m cells"),
                "area_km2": st.column_config.NumberColumn("km²", format="%.2f"),
                "incidents": unit[0].upper() + unit[1:], "ward": "Ward (at its centre)",
                "latitude": st.column_config.NumberColumn("Latitude", format="%.5f"),
                "longitude": st.column_config.NumberColumn("Longitude", format="%.5f"),
                "nearest_camera": "Nearest camera",
                "nearest_m": st.column_config.NumberColumn("Metres to it", format="%d")})
        st.caption("A camera covers the disc of its view radius (100 m where the file gives none). A hot "
                   "spot cell is covered when any camera's disc reaches it; incidents are covered when "
                   "their point is inside a disc. The squares and circles on the hot spot map are the "
                   "cameras and their view.")


def deprivation() -> None:
    """The wards' counts or rates against IMD 2019 deprivation."""
    if imd is None:
        st.info(f"Deprivation context is unavailable. {md(imd_error)}")
    else:
        missing, _unknown = reference.unmatched_wards(imd["ward_code"], table["ward_code"])
        if missing:
            st.caption(f"The IMD file has no score for {len(missing)} ward(s): {md(', '.join(missing))}.")
        compared = "rate_per_1000" if measure == "rate" else "count"
        label = f"{unit} per 1,000 residents" if compared == "rate_per_1000" else unit
        correlation = maps.deprivation_correlation(table, compared)
        if correlation:
            rho, p_value = correlation["spearman"], correlation["spearman_p"]
            words = "strong" if abs(rho) >= 0.6 else "moderate" if abs(rho) >= 0.3 else "weak"
            stated = ("Spearman's rank correlation, tested at p < 0.05" if figures.restricted else
                      f"Spearman ρ = {rho:.2f}, {format_p(p_value)}; Pearson r = "
                      f"{correlation['pearson']:.2f}, {format_p(correlation['pearson_p'])}")
            if p_value < 0.05:
                st.markdown(f"Across {correlation['n']} wards, more deprived wards tend to have "
                            f"**{'more' if rho > 0 else 'fewer'} {label}**: a {words} rank correlation "
                            f"({stated}). A correlation across wards is not a cause.")
            else:
                st.markdown(f"Across {correlation['n']} wards there is **no clear relationship** between "
                            f"{label} and deprivation: a {words} rank correlation that is not significant "
                            f"({stated}).")
        st.plotly_chart(maps.deprivation_scatter(table, compared, label), key="maps_imd_scatter")
        st.caption("English Indices of Deprivation 2019, ward average score (higher is more deprived).")


def by_area() -> None:
    """The wards' figures summed by Neighbourhood Action Team area."""
    areas_table = maps.publish(maps.area_table(true_table, nat_areas, f.months, compare), figures,
                               f.months, wards=true_table)
    widgets.static_table(maps.display_area_table(areas_table), decimals=1)
    st.caption("The selected wards of each Neighbourhood Action Team area summed; the change is "
               "tested as a ward's is (exact rate-ratio test). Areas: CDP_AREAS, else config/areas.toml."
               + (" Area totals are rounded on their own." if figures.restricted else ""))


nat_areas, _ = context.areas()
# The areas' table opens first: small, and a NAT's own figures; the grid map, a page's height below
# the ward map, is drawn when its tab is chosen (the hot spot count above the maps is always shown).
SECTIONS = {**({"By NAT area": by_area} if nat_areas.areas else {}), "Hot spots (Gi*)": hot_spots,
            "CCTV coverage": cctv_coverage, "Deprivation": deprivation}
widgets.sections(SECTIONS, key="maps_section")
