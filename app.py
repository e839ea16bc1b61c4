"""Streamlit dashboard. Reads the store (and writes analysts' triage and edits); the worker does all polling
and sending. Nothing is shown before login.
"""

from __future__ import annotations

import streamlit as st
from sqlalchemy.engine import make_url

from monitor.dashboard.context import DashboardContext, get_engine, log_out, require_login
from monitor.dashboard.views import PAGE_ROLES, PAGES
from monitor.settings import SettingsError, load_settings
from monitor.store.db import describe_store_error
from monitor.store.migrate import current_revision, head_revision

st.set_page_config(page_title="Detention-facility risk monitor", layout="wide")


def open_store(database_url: str) -> None:
    """Stop with a plain explanation when the store is down, missing or on an older schema."""
    shown = make_url(database_url).render_as_string(hide_password=True)
    try:
        revision = current_revision(get_engine(database_url))
    except Exception as exc:  # the store may be down or unreadable; say so instead of a traceback
        st.error(f"The store is unavailable: {describe_store_error(exc, shown)}. "
                 "The page retries when you reload it.")
        st.stop()
    if revision is None:
        st.warning(f"The store at {shown} is not initialised yet. Run `monitor init`.")
        st.stop()
    if revision != head_revision():
        st.warning(f"The store is at schema {revision}; this dashboard needs {head_revision()}. Run `monitor init`.")
        st.stop()


def main() -> None:
    try:
        settings = load_settings()
    except SettingsError as exc:
        st.error(f"Settings problem: {exc}")
        st.stop()
    open_store(settings.database_url)
    user = require_login(settings)
    ctx = DashboardContext(settings=settings, user=user)

    st.sidebar.title("Risk monitor")
    st.sidebar.caption(f"Logged in as {user.name} ({user.role})")
    if st.sidebar.button("Log out", key="logout", help="Ends this session and every other session of your account."):
        log_out(get_engine(settings.database_url), st.session_state, user)
        st.rerun()
    names = [name for name in PAGES if user.can(PAGE_ROLES.get(name, "viewer"))]
    # A link from an alert mail (?alert=ID) opens that alert.
    default = names.index("Alerts") if st.query_params.get("alert") else 0
    page = st.sidebar.radio("Page", names, index=default, key="page")
    flash = st.session_state.pop("flash", None)
    if flash:
        st.success(flash)
    PAGES[page](ctx)


main()
