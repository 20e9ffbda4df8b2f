"""The dashboard's server: `streamlit run serve.py` serves dashboard.py as `streamlit run
dashboard.py` does, and tells the browser where the server is before Streamlit's scripts load
(app/base_path.py), which saves every page but the default one a refused request and a wait."""
import streamlit as st
from starlette.middleware import Middleware

from app.base_path import BasePathScript

app = st.App("dashboard.py", middleware=[Middleware(BasePathScript)])
