"""Nottingham Crime and Drugs Partnership dashboard: the plain package (no Streamlit)."""
