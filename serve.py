"""The dashboard's server: `streamlit run serve.py` serves dashboard.py as `streamlit run
dashboard.py` does, and writes into each page's HTML where the server is and what of Streamlit's
frontend the page will need as it opens (app/page_head.py): every page but the default one is
spared a refused request and a wait, and the pages with charts or data grids draw sooner."""
import streamlit as st
from starlette.middleware import Middleware

from app.page_head import PageHead

# What each page (its URL path, dashboard.PAGES) draws as it opens, for its default role and view,
# that Streamlit's frontend loads only on demand: Plotly charts, data grids (checked against the
# pages by tests/test_page_head.py).
PRELOAD = {"maps": ["PlotlyChart"], "repeats": ["PlotlyChart"], "reoffending": ["PlotlyChart"],
           "substance": ["PlotlyChart"], "trends": ["DataFrame"]}

app = st.App("dashboard.py", middleware=[Middleware(PageHead, preload=PRELOAD)])
