"""Streamlit dashboard. Reads the store (and writes analysts' triage and edits); the worker does all polling
and sending. Nothing is shown before login.
"""

from __future__ import annotations

import streamlit as st
from sqlalchemy.engine import make_url
from sqlmodel import Session

from monitor.dashboard.context import DashboardContext, get_engine
from monitor.dashboard.views import PAGES
from monitor.settings import SettingsError, load_settings
from monitor.store.db import describe_store_error
from monitor.store.migrate import current_revision, head_revision
from monitor.users import LoggedInUser, UserError, authenticate, current_user, has_users

st.set_page_config(page_title="Detention-facility risk monitor", layout="wide")
TITLE = "Detention-facility risk monitor"


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


def login(database_url: str) -> LoggedInUser:
    """The logged-in user, re-read from the store on every run so a disabled account or new role applies at once."""
    engine = get_engine(database_url)
    session_user = st.session_state.get("user")
    if session_user is not None:
        with Session(engine) as session:
            user = current_user(session, session_user.id)
        if user is not None:
            return user
        st.session_state.pop("user", None)
        st.warning("Your account was disabled or removed; log in again.")

    st.title(TITLE)
    with Session(engine) as session:
        any_users = has_users(session)
    if not any_users:
        st.info("No dashboard users exist yet. Create one with `monitor users add NAME --role admin` "
                "(or `monitor init --create-admin`).")
        st.stop()
    with st.form("login"):
        name = st.text_input("User name")
        password = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Log in")
    if submitted:
        with Session(engine) as session:
            try:
                user = authenticate(session, name, password)
                error = None
            except UserError as exc:
                user, error = None, str(exc)
            session.commit()  # failed attempts count towards the lockout too
        if user is not None:
            st.session_state["user"] = user
            st.rerun()
        st.error(error)
    st.stop()


def main() -> None:
    try:
        settings = load_settings()
    except SettingsError as exc:
        st.error(f"Settings problem: {exc}")
        st.stop()
    open_store(settings.database_url)
    user = login(settings.database_url)
    ctx = DashboardContext(settings=settings, user=user)

    st.sidebar.title("Risk monitor")
    st.sidebar.caption(f"Logged in as {user.name} ({user.role})")
    if st.sidebar.button("Log out", key="logout"):
        st.session_state.clear()
        st.rerun()
    names = list(PAGES)
    # A link from an alert mail (?alert=ID) opens that alert.
    default = names.index("Alerts") if st.query_params.get("alert") else 0
    page = st.sidebar.radio("Page", names, index=default, key="page")
    flash = st.session_state.pop("flash", None)
    if flash:
        st.success(flash)
    PAGES[page](ctx)


main()
