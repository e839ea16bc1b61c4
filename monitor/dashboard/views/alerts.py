"""Alerts: the triage list with filters, one alert opened with its evidence, and the triage actions."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from monitor.alerts.candidates import CandidateError, add_candidate_facility
from monitor.alerts.triage import TriageError, add_note, change_status
from monitor.countries import country_name
from monitor.dashboard import queries
from monitor.dashboard.context import DashboardContext, when
from monitor.facilities.profiles import FacilityProfile
from monitor.store.db import InvalidRow
from monitor.store.schema import utcnow
from monitor.vocabulary import ALERT_STATUSES, LABELS, OPEN_ALERT_STATUSES, SEVERITIES

FACILITY_KINDS = ("prison", "camp", "detention_centre", "juvenile_centre", "rehabilitation_centre", "other")
# Triage actions offered as buttons, in the order an analyst reaches for them.
ACTIONS = (("confirm", "confirmed"), ("dismiss", "dismissed"), ("escalate", "escalated"), ("resolve", "resolved"))


def render(ctx: DashboardContext) -> None:
    st.header("Alerts")
    options = ctx.read(queries.alert_filter_options)
    filters = _filters(options)
    page_size = ctx.settings.dashboard_page_size
    page_number = st.session_state.get("alerts_page", 1)
    page = ctx.read(queries.alert_page, filters, page_number, page_size)
    order = "most severe first" if filters.most_severe_first else "newest first"
    st.caption(f"{page.total} alert(s) match · page {page.page} of {page.pages} · {order} · times in UTC")
    if page.rows:
        frame = pd.DataFrame(page.rows)
        frame["first_seen"] = frame["first_seen"].map(when)
        frame["last_seen"] = frame["last_seen"].map(when)
        st.dataframe(frame, hide_index=True, width="stretch", key="alerts_table",
                     column_order=["id", "severity", "status", "place", "country", "labels", "outlets", "articles",
                                   "first_seen", "last_seen"],
                     column_config={"id": st.column_config.NumberColumn("alert", format="#%d"),
                                    "outlets": st.column_config.NumberColumn("outlets", help="independent outlets")})
    else:
        st.info("No alerts match these filters.")
    if page.pages > 1:
        left, right = st.columns(2)
        if left.button("Newer", disabled=page.page <= 1, key="alerts_newer"):
            st.session_state["alerts_page"] = page.page - 1
            st.rerun()
        if right.button("Older", disabled=page.page >= page.pages, key="alerts_older"):
            st.session_state["alerts_page"] = page.page + 1
            st.rerun()

    requested = st.query_params.get("alert")
    ids = [row["id"] for row in page.rows]
    if requested and requested.isdigit() and int(requested) not in ids:
        ids = [int(requested)] + ids
    if not ids:
        return
    default = ids.index(int(requested)) if requested and requested.isdigit() else 0
    chosen = st.selectbox("Open alert", ids, index=default, key="alert_choice",
                          format_func=lambda i: _label_for(i, page.rows))
    st.query_params["alert"] = str(chosen)
    detail = ctx.read(queries.alert_detail, chosen)
    if detail is None:
        st.warning(f"Alert #{chosen} is not in the store.")
        return
    _render_detail(ctx, detail)


def _label_for(alert_id: int, rows: list[dict]) -> str:
    for row in rows:
        if row["id"] == alert_id:
            return f"#{alert_id} · {row['severity']} · {row['place']} · {row['labels']}"
    return f"#{alert_id}"


def _filters(options: dict) -> queries.AlertFilters:
    with st.expander("Filters", expanded=True):
        first, second, third = st.columns(3)
        severities = first.multiselect("Severity", SEVERITIES, key="f_severity")
        labels = second.multiselect("Label", LABELS, key="f_label")
        statuses = third.multiselect("Status", ALERT_STATUSES, default=list(OPEN_ALERT_STATUSES),
                                     key="f_status")
        fourth, fifth, sixth = st.columns(3)
        countries = [""] + options["countries"]
        country = fourth.selectbox("Country", countries, key="f_country",
                                   format_func=lambda c: "All countries" if not c else f"{country_name(c)} ({c})")
        facilities = dict(options["facilities"])
        facility = fifth.selectbox("Facility", [0] + list(facilities), key="f_facility",
                                   format_func=lambda i: "All facilities" if not i else facilities[i])
        today = utcnow().date()
        span = sixth.date_input("Seen between", value=(today - timedelta(days=90), today), key="f_dates")
        order = st.radio("Order", ("Newest first", "Most severe first"), horizontal=True, key="f_order")
    since, until = (span if isinstance(span, (tuple, list)) and len(span) == 2 else (None, None))
    filters = queries.AlertFilters(severities=tuple(severities), labels=tuple(labels), statuses=tuple(statuses),
                                   country=country or None, facility_id=facility or None, since=since, until=until,
                                   most_severe_first=order == "Most severe first")
    if st.session_state.get("alerts_filters") != filters:
        st.session_state["alerts_filters"] = filters
        st.session_state["alerts_page"] = 1
    return filters


def _render_detail(ctx: DashboardContext, detail: dict) -> None:
    st.subheader(f"Alert #{detail['id']}: {detail['severity']} · {', '.join(detail['labels'])}")
    left, middle, right = st.columns(3)
    left.metric("Severity", detail["severity"])
    middle.metric("Independent outlets", detail["outlets"])
    right.metric("Status", detail["status"])
    st.caption(f"First seen {when(detail['first_seen'])} UTC · last seen {when(detail['last_seen'])} UTC")
    st.markdown("**Why this severity**")
    st.text(detail["severity_reason"] or "(no explanation stored)")

    facility = detail["facility"]
    if facility:
        st.markdown("**Facility**")
        facts = [facility["name"], facility["country"]]
        if facility["population"] is not None:
            facts.append(f"population {facility['population']:,}")
        if facility["capacity"] is not None:
            facts.append(f"capacity {facility['capacity']:,}")
        if facility["operator"]:
            facts.append(f"run by {facility['operator']}")
        st.text(" · ".join(facts))
        if facility["conditions"]:
            st.caption(facility["conditions"][:500])
    elif detail["candidate"]:
        candidate = detail["candidate"]
        st.warning(f"Not in the facility list: {candidate['name']}"
                   + (f" ({country_name(candidate['country'])})" if candidate["country"] else ""))
        if ctx.can("analyst"):
            _candidate_form(ctx, detail)

    st.markdown(f"**Articles ({len(detail['articles'])})**")
    for article in detail["articles"]:
        # Titles and snippets come from feeds: shown with st.text (never markdown or HTML).
        with st.container(border=True):
            st.text(article["title"] or "(no title)")
            st.caption(f"{article['outlet'] or 'unknown outlet'} · {when(article['published'])} UTC · "
                       f"labels: {article['labels'] or 'none'}")
            if article["snippet"]:
                st.text(article["snippet"])
            if article["facilities"]:
                st.caption(f"Facilities: {article['facilities']}")
            if article["url"].startswith(("http://", "https://")):
                st.link_button("Open source", article["url"])

    if ctx.can("analyst"):
        _triage_actions(ctx, detail)
    else:
        st.caption("You have read-only access: ask an admin for the analyst role to triage alerts.")

    st.markdown("**Audit trail**")
    if detail["audit"]:
        audit = pd.DataFrame(detail["audit"])
        audit["when"] = audit["when"].map(when)
        st.dataframe(audit, hide_index=True, width="stretch", key="audit_table")
    else:
        st.caption("No triage yet.")
    if detail["mail"]:
        st.caption("Mail: " + ", ".join(f"{count} {status}" for status, count in sorted(detail["mail"].items())))


def _triage_actions(ctx: DashboardContext, detail: dict) -> None:
    st.markdown("**Triage**")
    note = st.text_input("Note (optional with a status change)", key="triage_note")
    columns = st.columns(len(ACTIONS) + 1)
    for column, (verb, status) in zip(columns, ACTIONS):
        if column.button(verb.capitalize(), key=f"triage_{verb}", disabled=detail["status"] == status):
            _apply(ctx, lambda s: change_status(s, detail["id"], status, ctx.user.name, note.strip() or None),
                   f"Alert #{detail['id']} is now {status}.")
    if columns[-1].button("Add note", key="triage_add_note"):
        _apply(ctx, lambda s: add_note(s, detail["id"], ctx.user.name, note), "Note added.")


def _apply(ctx: DashboardContext, action, success: str) -> None:
    try:
        ctx.write(action)
    except (TriageError, CandidateError, InvalidRow) as exc:
        st.error(str(exc))
        return
    st.session_state["flash"] = success
    st.rerun()


def _candidate_form(ctx: DashboardContext, detail: dict) -> None:
    candidate = detail["candidate"]
    with st.form("add_candidate"):
        st.markdown("**Add this facility to the list**")
        name = st.text_input("Name", value=candidate["name"])
        country = st.text_input("Country (ISO code, e.g. SY)", value=candidate["country"] or "")
        kind = st.selectbox("Kind", FACILITY_KINDS)
        city = st.text_input("Town or city")
        operator = st.text_input("Operator")
        capacity = st.number_input("Capacity (0 if unknown)", min_value=0, step=1, value=0)
        source = st.text_input("Source URL for these facts (required)")
        submitted = st.form_submit_button("Add facility")
    if submitted:
        today = utcnow().date().isoformat()
        facts = {field: {"source": source.strip(), "as_of": today}
                 for field, value in (("operator", operator), ("capacity", capacity), ("city", city)) if value}
        profile = FacilityProfile(name=name.strip(), country=country.strip().upper(), kind=kind,
                                  city=city.strip() or None, operator=operator.strip() or None,
                                  capacity=int(capacity) or None, facts=facts)
        _apply(ctx, lambda s: add_candidate_facility(s, detail["id"], profile, source, ctx.user.name),
               f"{name} added to the facility list and linked to its alerts.")
