"""Reports: the same facility reports as `monitor report`, as download buttons.

A report is built only when asked for (it reads every alert and article in the period), then offered for
download; nothing is written on the server.
"""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from monitor.countries import country_name
from monitor.dashboard import queries
from monitor.dashboard.context import DashboardContext
from monitor.reports import FORMATS, FacilitySelection, ReportError, render_report
from monitor.store.schema import utcnow

FORMAT_NAMES = {"pdf": "PDF", "csv": "CSV (one row per alert)", "csv-articles": "CSV (one row per article)",
                "md": "Markdown", "html": "HTML", "geojson": "GeoJSON (for QGIS)"}


def render(ctx: DashboardContext) -> None:
    st.header("Reports")
    st.caption("Cited facility reports for donors, lawyers and partners: profile with sources, risk score and "
               "trend, alerts with severity and corroboration, evidence, numbered sources.")
    scope = st.radio("Facilities", ("One facility", "A country", "All facilities"), horizontal=True,
                     key="report_scope")
    if scope == "One facility":
        choices = dict(ctx.read(queries.facility_choices))
        facility_id = st.selectbox("Facility", list(choices), format_func=choices.get, key="report_facility")
        selection = FacilitySelection(facility_ids=(facility_id,))
        stem = f"facility-{facility_id}"
    elif scope == "A country":
        countries = ctx.read(queries.facility_countries)
        country = st.selectbox("Country", countries, key="report_country",
                               format_func=lambda c: f"{country_name(c)} ({c})")
        selection = FacilitySelection(country=country)
        stem = f"facilities-{country.lower()}"
    else:
        selection = FacilitySelection(all_facilities=True)
        stem = "facilities-all"
    today = utcnow().date()
    left, right = st.columns(2)
    since = left.date_input("From", value=today - timedelta(days=365), key="report_since")
    until = right.date_input("To", value=today, key="report_until")
    fmt = st.selectbox("Format", list(FORMAT_NAMES), format_func=FORMAT_NAMES.get, key="report_format")

    if st.button("Build report", key="build_report"):
        base_format = "csv" if fmt == "csv-articles" else fmt
        try:
            with st.spinner("Building the report…"):
                data = render_report(ctx.engine, selection, base_format, since=since, until=until,
                                     articles=fmt == "csv-articles")
        except ReportError as exc:
            st.error(str(exc))
            return
        mime, extension = FORMATS[base_format]
        suffix = "-articles" if fmt == "csv-articles" else ""
        st.session_state["report_file"] = (f"{stem}-{since}-{until}{suffix}.{extension}", data, mime)
    built = st.session_state.get("report_file")
    if built:
        name, data, mime = built
        st.download_button(f"Download {name}", data=data, file_name=name, mime=mime, key="download_report")
        st.caption(f"{len(data):,} bytes")
