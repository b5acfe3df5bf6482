"""The only Streamlit-aware helpers: session state, caches, the job registry and config widgets."""
