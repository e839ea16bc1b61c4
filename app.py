"""Streamlit dashboard. Reads the store only; the worker process does all polling and sending."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from sqlmodel import Session

from monitor.countries import country_name
from monitor.dashboard import queries
from monitor.settings import SettingsError, load_settings
from monitor.store.db import make_engine
from monitor.store.migrate import current_revision

st.set_page_config(page_title="Detention-facility risk monitor", layout="wide")


@st.cache_resource
def get_engine(database_url: str):
    # The engine (a connection pool) is shared across reruns; sessions are opened per query, never cached.
    return make_engine(database_url)


@st.cache_data(ttl=60)
def load_facilities(database_url: str, country: str | None) -> list[dict]:
    with Session(get_engine(database_url)) as session:
        return queries.facility_rows(session, country)


@st.cache_data(ttl=60)
def load_countries(database_url: str) -> list[str]:
    with Session(get_engine(database_url)) as session:
        return queries.facility_countries(session)


@st.cache_data(ttl=60)
def load_profile(database_url: str, slug: str) -> dict | None:
    with Session(get_engine(database_url)) as session:
        return queries.facility_profile(session, slug)


def main() -> None:
    try:
        settings = load_settings()
    except SettingsError as exc:
        st.error(f"Settings problem: {exc}")
        st.stop()
    database_url = settings.database_url
    st.title("Detention-facility risk monitor")
    try:
        revision = current_revision(get_engine(database_url))
    except Exception as exc:  # the store may be down or unreadable; say so instead of a traceback
        st.error(f"Cannot open the store at {database_url}: {exc}")
        st.stop()
    if revision is None:
        st.warning(f"The store at {database_url} is not initialised yet. Run `monitor init`.")
        st.stop()

    st.header("Facilities")
    countries = load_countries(database_url)
    choice = st.selectbox("Country", ["All countries"] + countries,
                          format_func=lambda c: c if c == "All countries" else f"{country_name(c)} ({c})")
    rows = load_facilities(database_url, None if choice == "All countries" else choice)
    st.caption(f"{len(rows)} facilities")
    frame = pd.DataFrame(rows, columns=["name", "kind", "country", "city", "operator", "population",
                                        "population_date", "capacity", "status", "slug"])
    st.dataframe(frame, hide_index=True, width="stretch",
                 column_config={"population": st.column_config.NumberColumn(format="%d"),
                                "capacity": st.column_config.NumberColumn(format="%d")})

    if rows:
        names = {row["slug"]: f"{row['name']} ({row['country_code']})" for row in rows}
        slug = st.selectbox("Profile", list(names), format_func=names.get)
        render_profile(load_profile(database_url, slug))


def render_profile(profile: dict | None) -> None:
    if profile is None:
        st.info("That facility is no longer in the store.")
        return
    facts = profile.get("facts") or {}

    st.subheader(profile["name"])
    place = ", ".join(p for p in (profile.get("city"), profile.get("admin_area"), profile["country_name"]) if p)
    st.write(f"{profile['kind'].replace('_', ' ')} · {place}")
    left, middle, right = st.columns(3)
    left.metric("Population", f"{profile['population']:,}" if profile.get("population") is not None else "unknown",
                help=f"as of {profile.get('population_date') or 'unknown'}")
    middle.metric("Capacity", f"{profile['capacity']:,}" if profile.get("capacity") is not None else "unknown")
    right.metric("Operator", profile.get("operator") or "unknown")
    # Text from the store is shown with st.text / st.write of plain strings, never as HTML.
    if profile.get("conditions"):
        st.markdown("**Conditions**")
        st.text(profile["conditions"])
        if profile.get("condition_tags"):
            st.caption("Tags: " + ", ".join(profile["condition_tags"]))
    if profile.get("nationalities"):
        st.markdown("**Nationalities held**")
        st.dataframe(pd.DataFrame([
            {"country": country_name(n["country"]), "count": n.get("count"), "note": n.get("note", "")}
            for n in profile["nationalities"]
        ]), hide_index=True)
    if profile.get("aliases"):
        st.markdown("**Also known as**")
        st.text("; ".join(profile["aliases"]))
    if profile.get("incidents"):
        st.markdown("**Notable incidents**")
        st.dataframe(pd.DataFrame(sorted(profile["incidents"], key=lambda i: str(i.get("date", "")))),
                     hide_index=True, width="stretch",
                     column_config={"source": st.column_config.LinkColumn()})
    sources = sorted({fact["source"] for fact in facts.values() if isinstance(fact, dict) and fact.get("source")})
    if sources:
        st.markdown("**Sources**")
        st.dataframe(pd.DataFrame({"source": sources}), hide_index=True,
                     column_config={"source": st.column_config.LinkColumn()})


main()
