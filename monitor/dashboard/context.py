"""What every dashboard view gets: settings, the cached engine, the logged-in user, and cached reads.

The engine (a connection pool) is cached for the process; sessions are opened per query and never
cached. Cached reads expire after a short ttl and are cleared after every write, so a triage action
shows at once and nothing cached outlives the data by more than the ttl.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, TypeVar

import streamlit as st
from sqlalchemy.engine import Engine
from sqlmodel import Session

from monitor.settings import Settings
from monitor.store.db import make_engine, session_scope
from monitor.users import LoggedInUser

READ_TTL_SECONDS = 30
T = TypeVar("T")


@st.cache_resource(show_spinner=False)
def get_engine(database_url: str) -> Engine:
    return make_engine(database_url)


@dataclass
class DashboardContext:
    settings: Settings
    user: LoggedInUser

    @property
    def database_url(self) -> str:
        return self.settings.database_url

    @property
    def engine(self) -> Engine:
        return get_engine(self.database_url)

    def read(self, query: Callable[..., T], *args: Any) -> T:
        """Run a function of monitor.dashboard.queries, cached by its arguments for a short while."""
        return _cached_read(self.database_url, query.__module__, query.__name__, *args)

    def write(self, action: Callable[[Session], T]) -> T:
        """Run a change in one transaction, then drop cached reads so every view shows it."""
        with session_scope(self.engine) as session:
            result = action(session)
        st.cache_data.clear()
        return result

    def can(self, role: str) -> bool:
        return self.user.can(role)


@st.cache_data(ttl=READ_TTL_SECONDS, show_spinner=False, max_entries=500)
def _cached_read(database_url: str, module: str, name: str, *args: Any) -> Any:
    import importlib

    query = getattr(importlib.import_module(module), name)
    with Session(get_engine(database_url)) as session:
        return query(session, *args)


def when(value: datetime | None) -> str:
    """Times in the dashboard are UTC, written out so no reader guesses the zone."""
    if value is None or value != value:  # None, or pandas' NaT for a missing time in a table column
        return ""
    return value.strftime("%Y-%m-%d %H:%M")
