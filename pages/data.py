"""Data: what is loaded, where the boundaries come from, and an upload that runs the importers."""
import streamlit as st

from app import context, files, reference_files, widgets
from cdp import briefing, counting, geography, queries, store
from cdp.markup import md
from cdp.refresh import RefreshFailed, last_api_check, refresh_from_api

st.title("Data")
info = context.cached(queries.status)()
if info["synthetic_demo"]:
    st.info("This store holds synthetic demo data. The first real files you load below replace it "
            "(real and synthetic incidents are never mixed).")

left, middle, right = st.columns(3)
left.metric("Incidents stored", f"{info['rows']:,}")
middle.metric("Counted", f"{info['counted']:,}",
              help="Inside the loaded wards, each real incident once: the figures on every page.")
right.metric("Crimes / ASB incidents counted", f"{info['crimes']:,} / {info['asb_incidents']:,}",
             help="Crimes and ASB incidents are never added together in any view.")
widgets.not_counted(info["not_counted"], context.viewer().figures)
if info["first_month"] is not None:
    st.caption(f"Months held: {info['first_month']:%B %Y} to {info['last_month']:%B %Y}")
st.caption("Police records: " + ("; ".join(r.describe() for r in info["force_extracts"])
                                 or "no partner source supersedes police.uk")
           + f" (set {counting.FORCE_EXTRACTS_ENV} to change; the rule applies from the next import).")

st.subheader("Sources")
widgets.static_table(info["sources"], {
    "dataset": "Kind", "source": "Source", "rows": "Rows stored", "counted": "Counted",
    "outside_area": "Outside the wards", "unlocated": "Without a location",
    "superseded": "Superseded (kept, not counted)", "first_month": "First month",
    "last_month": "Last month", "months_covered": "Months covered"}, months=("first_month", "last_month"))
st.subheader("Where each month's figures come from")
st.caption("Month by month, the incidents each source adds to the figures. police.uk rows are "
           "superseded (kept, not counted) in a month the force's own extract covers. A month is "
           "complete when every source covers it; only complete months are compared.")
by_month = context.cached(queries.month_sources)()
widgets.static_table(by_month.rename(columns={"month": "Month", "complete": "Complete"}), most_rows=8)
st.subheader("Counted per priority")
widgets.static_table(info["priorities"], {"label": "Priority", "counted": "Counted (crimes, or ASB incidents for ASB)"})
st.subheader("Last imports")
widgets.static_table(info["imports"].astype({"import_id": str}), {
    "import_id": "Import", "dataset": "Kind", "files": "Files", "rows_loaded": "Rows loaded",
    "rows_replaced": "Rows replaced", "rows_rejected": "Rows rejected", "finished_at": "Finished",
    "result": "Result", "imported_by": "By"})

st.subheader("Ward boundaries")
st.write(f"{info['wards']} wards from {md(info['boundary_source'])}")
st.caption(f"{geography.ATTRIBUTION} {geography.IMD_ATTRIBUTION}")

st.subheader("Board briefing indicators")
st.write("The board slides and decks say only whether an indicator is supplied; how to supply it is here.")
st.caption(f"Treatment (successful completions): {md(briefing.treatment_how_to(reference_files.treatment_indicator()))}")

st.subheader("Load files")
st.write("The same importers as `python -m cdp ingest`, with the same checks: a file with a problem "
         "loads nothing and the store stays exactly as it was.")
kind = st.radio("Kind of file", ["police.uk street CSV or archive zip", "Partner extract (v1)"],
                horizontal=True)
uploads = st.file_uploader("Files", type=["csv", "zip"], accept_multiple_files=True)
skip = st.checkbox("Skip bad rows (load the good rows and keep a CSV of the rejected ones)")
if st.button("Import", type="primary", disabled=not uploads):
    dataset = "police_uk" if kind.startswith("police") else "partner"
    with st.spinner("Importing..."):
        st.session_state["upload_outcome"] = files.import_uploads(uploads, dataset, skip)
    st.rerun()  # the figures and imports above now include what was loaded
if outcome := st.session_state.pop("upload_outcome", None):
    files.show_upload_outcome(outcome)

if context.viewer().may_refresh:
    st.subheader("Refresh from police.uk")
    st.write("Fetches every month police.uk holds that the store lacks, for the area of the loaded "
             "wards, and imports each month through the same importer and checks as files, as "
             "`python -m cdp refresh police-uk` does. Each month is one transaction: if the refresh "
             "stops, the month it was fetching is not loaded and the next refresh resumes.")
    with context.reading() as con:
        checked = last_api_check(con)
    if checked:
        st.caption(md(checked))
    if st.button("Refresh from police.uk", icon=":material/sync:"):
        bar = st.progress(0.0, text="Starting")
        try:
            with context.writing() as con:
                result = refresh_from_api(con, progress=lambda message, fraction:
                                          bar.progress(min(max(fraction, 0.0), 1.0), text=md(message)))
        except RefreshFailed as exc:
            st.session_state["refresh_outcome"] = ("error", str(exc))
        except (store.Busy, store.StoreError) as exc:
            st.session_state["refresh_outcome"] = ("error", f"Nothing more was loaded: {exc}")
        else:
            st.session_state["refresh_outcome"] = ("success", result.summary())
        st.rerun()  # the figures above now include what was loaded
    outcome = st.session_state.pop("refresh_outcome", None)
    if outcome:
        (st.error if outcome[0] == "error" else st.success)(md(outcome[1]))
