"""The Streamlit layer: the shared connection, caching and sidebar. Logic lives in `cdp`."""
