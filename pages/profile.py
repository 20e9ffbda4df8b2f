"""Problem profile: one person key, place or premises on one page for the problem-solving meeting,
with HTML, PDF and CSV downloads. Analysts profile people, places and premises; neighbourhood
officers places and premises in their own wards, without person keys. Every profile shown and
every download is written to the audit log."""
import streamlit as st

from app import access, context, files, widgets
from cdp import audit, profiles, queries
from cdp.markup import md

f = context.filters()
viewer = context.viewer()
st.title("Problem profile")
if not viewer.may_open("profile"):
    st.warning("Problem profiles are for analysts and neighbourhood officers.")
    st.stop()
area = viewer.place_wards  # None: every ward; else the officer's wards
if area is not None and not area:
    st.warning("No wards or Neighbourhood Action Team areas are assigned to you, so there is no "
               "place to profile. Ask the dashboard's administrator to assign your area.")
    st.stop()
kinds = [kind for kind in profiles.KINDS if viewer.may_profile(kind)]
if viewer.sees_person_keys:
    st.caption("One page on a person, a place or a premises for the multi-agency problem-solving "
               "meeting: its incidents over time, the priorities and categories involved, the "
               "victims, offenders and premises linked to it, and its wards.")
else:
    ward_names = context.cached(queries.ward_names)()
    st.caption("One page on a place or a premises in your area for the multi-agency problem-solving "
               "meeting: its incidents over time, the priorities and categories involved, the "
               "premises linked to it, and its wards. Only incidents in your wards count: "
               + ", ".join(sorted(ward_names.get(w, w) for w in area)) + ".")

premises = context.cached(queries.premises_options)(viewer.residential_wards, area)


def show_subject(subject: profiles.Subject) -> None:
    """Set the chooser to `subject` (from the sidebar's place filters or another page)."""
    state = st.session_state
    state["p_kind"] = subject.kind
    if subject.kind == "person":
        state["p_person"] = subject.key
    elif subject.kind == "location":
        state["p_location"] = subject.key
    elif subject.kind == "premises":
        state["p_premises"] = subject.key if subject.key in premises else None
    else:
        state["p_radius"] = subject.radius_m
        state["p_centre_premises"] = subject.label if subject.label in premises else None
        state["p_point"] = "" if subject.label in premises else subject.label


# Pre-fill from another page's hand-over, else from the sidebar's premises / radius / location
# filters when they change or when the chooser is first drawn.
suggested = profiles.subject_from_filters(f)
handover = st.session_state.pop("profile_handover", None)
if handover is not None:
    show_subject(handover)
elif suggested is not None and ("p_kind" not in st.session_state
                                or st.session_state.get("_p_suggested") != suggested):
    show_subject(suggested)
st.session_state["_p_suggested"] = suggested

if st.session_state.get("p_kind") not in kinds:
    st.session_state.pop("p_kind", None)
kind = st.radio("Profile of", kinds, key="p_kind", horizontal=True, format_func=profiles.KINDS.get)
if kind == "person":
    people = context.cached(profiles.frequent_people)(f)
    if not access.audited_view("frequent victim and offender keys", audit.filters_record(f), len(people)):
        st.stop()
    known_people = dict(zip(people["key"], people["role"] + ", " + people["incidents"].astype(str)
                            + " incidents"))
    options = list(known_people)
    if st.session_state.get("p_person") and st.session_state["p_person"] not in options:
        options.insert(0, st.session_state["p_person"])
    key = st.selectbox("Victim or offender key", options, index=None, key="p_person", accept_new_options=True,
                       format_func=lambda k: f"{k} ({known_people[k]})" if k in known_people else k,
                       placeholder="Type a pseudonymised key, or choose one of the most frequent",
                       help="Listed: the keys with the most incidents in the period and priorities.")
    subject = profiles.Subject("person", (key or "").strip())
elif kind == "location":
    text = st.text_input("Location contains", key="p_location", placeholder="e.g. Market Street")
    subject = profiles.Subject("location", text.strip())
elif kind == "premises":
    chosen = st.selectbox("Premises", list(premises), index=None, key="p_premises",
                          format_func=lambda p: premises[p][0], placeholder="Choose premises")
    subject = profiles.Subject("premises", chosen or "", label=premises[chosen][0] if chosen else "")
else:
    st.session_state.setdefault("p_radius", 200)
    left, middle, right = st.columns([2, 2, 1])
    centre = left.selectbox("Around premises", list(premises), index=None, key="p_centre_premises",
                            format_func=lambda p: premises[p][0], placeholder="Choose premises")
    point = middle.text_input("...or a point (latitude, longitude)", key="p_point",
                              placeholder="52.9536, -1.1505")
    radius = int(right.number_input("Radius (metres)", min_value=10, max_value=5_000, step=25,
                                    key="p_radius"))
    subject = profiles.Subject("radius")
    if centre:
        _, east, north = premises[centre]
        subject = profiles.Subject("radius", radius_m=radius, easting=east, northing=north,
                                   label=premises[centre][0])
    elif point.strip():
        try:
            subject = profiles.point_subject(point, radius)
        except ValueError as problem:
            st.error(md(problem))

if not subject.ready:
    st.info("Choose a person key, a location, a premises or a point above. The sidebar's named "
            "premises, radius and location filters fill this in when they are set.")
    st.stop()

profile = profiles.for_viewer(context.cached(profiles.build_profile)(f, subject, within_wards=area), viewer)
st.header(md(subject.title))
st.caption(f"{md(profile.scope)}. The sidebar's period and priorities apply; its ward and people filters do "
           "not (the subject decides which incidents count).")
if profile.total_rows == 0:
    st.info("No incidents for this subject in the selected period and priorities"
            + (" in your wards." if area is not None else "."))
    st.stop()
if not access.audited_view(f"problem profile: {subject.title}", profiles.audit_filters(profile),
                           len(profile.timeline)):
    st.stop()

a, b, c, d, e = st.columns(5)
a.metric("Crimes", f"{profile.crimes:,}")
b.metric("ASB incidents", f"{profile.asb_incidents:,}")
c.metric("Linked victims", f"{profile.linked_counts['victims']:,}")
d.metric("Linked offenders", f"{profile.linked_counts['offenders']:,}")
e.metric("Linked premises", f"{profile.linked_counts['premises']:,}")
st.caption(f"First incident {profile.first:%d %b %Y}, latest {profile.last:%d %b %Y}.")

st.subheader("Timeline")
st.plotly_chart(profiles.monthly_figure(profile), key="monthly")
st.plotly_chart(profiles.timeline_figure(profile), key="timeline")
if profile.truncated:
    st.caption(f"The dots show the latest {len(profile.timeline):,} of {profile.total_rows:,} incidents.")

left, right = st.columns(2)
with left:
    st.subheader("Priorities")
    st.dataframe(profile.by_priority, hide_index=True, key="by-priority", column_config={
        "priority": "Priority", "crimes": "Crimes", "asb_incidents": "ASB incidents"})
with right:
    st.subheader("Categories")
    st.dataframe(profile.categories, hide_index=True, key="categories",
                 height=widgets.table_height(len(profile.categories), most_rows=6), column_config={
        "category": "Category", "kind": "Kind", "incidents": "Incidents"})

DATES = {"first": st.column_config.DateColumn("First"), "last": st.column_config.DateColumn("Latest"),
         "incidents": "Incidents"}
PREMISES_COLUMNS = {"premises_id": "Premises key", "premises": "Premises", "type": "Type",
                    "incidents": "Incidents"}
if profiles.has_person_keys(profile):
    st.subheader("Linked victims, offenders and premises")
    st.caption(f"Pseudonymised keys only; the {profiles.LINKED_LIMIT} with the most incidents of each.")
    left, middle, right = st.columns(3)
    left.dataframe(profile.victims, hide_index=True, key="victims",
                   column_config={"victim_id": "Victim key", **DATES})
    middle.dataframe(profile.offenders, hide_index=True, key="offenders",
                     column_config={"offender_id": "Offender key", **DATES})
    right.dataframe(profile.premises, hide_index=True, key="premises", column_config=PREMISES_COLUMNS)
else:
    st.subheader("Linked premises")
    st.caption(f"The {profiles.LINKED_LIMIT} with the most incidents. Victim and offender keys are "
               "shown to analysts only; the counts above say how many are linked.")
    st.dataframe(profile.premises, hide_index=True, key="premises", column_config=PREMISES_COLUMNS)

st.subheader("Ward context")
st.dataframe(profile.wards, hide_index=True, key="wards", column_config={
    "ward_code": None, "ward": "Ward", "crimes": "Crimes here", "asb_incidents": "ASB incidents here",
    "ward_crimes": "Ward crimes", "ward_asb_incidents": "Ward ASB incidents",
    "share_of_ward_crimes": st.column_config.NumberColumn("Share of ward crimes", format="percent"),
    "share_of_ward_asb": st.column_config.NumberColumn("Share of ward ASB", format="percent"),
    "imd_score": st.column_config.NumberColumn("IMD 2019 score", format="%.1f"),
    "imd_rank": st.column_config.NumberColumn("Deprivation rank (1 = most deprived)")})

st.subheader("Incidents")
st.dataframe(profile.timeline, hide_index=True, key="timeline-table",
             height=widgets.table_height(len(profile.timeline), most_rows=8), column_config={
    "when": "When", "category": "Category", "role": "Role", "kind": "Kind", "priorities": "Priorities",
    "location": "Location", "premises": "Premises", "ward": "Ward", "victim_id": "Victim key",
    "offender_id": "Offender key", "outcome": "Outcome", "source": "Source", "incident_id": "Incident"})

st.subheader("Take it to the meeting")
st.caption(("Each download contains pseudonymised person keys and is" if profiles.has_person_keys(profile)
            else "Each download is") + " recorded in the audit log (who, when, which subject and "
           "period) when you click it.")
columns = st.columns(len(profiles.EXPORTS))
for column, (fmt, (label, _, _)) in zip(columns, profiles.EXPORTS.items()):
    files.download_button(f"Download {label}", profiles.export(profile, fmt), key=f"download-{fmt}",
                          container=column, viewer=viewer)
