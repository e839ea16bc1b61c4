"""Alerts: the situation board, the triage list with filters, one alert opened with its evidence, and the
triage actions."""

from __future__ import annotations

from datetime import timedelta

import altair as alt
import pandas as pd
import streamlit as st

from monitor.alerts.candidates import CandidateError, add_candidate_facility
from monitor.alerts.triage import TriageError, add_note, change_status
from monitor.countries import country_name
from monitor.dashboard import queries
from monitor.dashboard.context import DashboardContext, when
from monitor.dashboard.display import plain, severity_badge, severity_cell, severity_markdown, styled_severity
from monitor.facilities.profiles import FacilityProfile
from monitor.severity_style import SEVERITY_COLOURS, SEVERITY_STREAMLIT_COLOURS
from monitor.store.db import InvalidRow
from monitor.store.schema import utcnow
from monitor.vocabulary import ALERT_STATUSES, LABELS, OPEN_ALERT_STATUSES, SEVERITIES

FACILITY_KINDS = ("prison", "camp", "detention_centre", "juvenile_centre", "rehabilitation_centre", "other")
# Triage actions offered as buttons, in the order an analyst reaches for them.
# Long enough to hold the open alerts that still draw articles, short enough for the per-day chart to read.
DEFAULT_PERIOD_DAYS = 30
ACTIONS = (("confirm", "confirmed"), ("dismiss", "dismissed"), ("escalate", "escalated"), ("resolve", "resolved"))


def render(ctx: DashboardContext) -> None:
    st.header("Alerts")
    counts = ctx.read(queries.store_counts)
    if not counts["alerts"]:
        _first_run(ctx, counts)
    board_area = st.container()
    options = ctx.read(queries.alert_filter_options)
    filters = _filters(options)
    with board_area:
        _situation_board(ctx, filters)
    st.subheader("All alerts")
    page_size = ctx.settings.dashboard_page_size
    page_number = st.session_state.get("alerts_page", 1)
    page = ctx.read(queries.alert_page, filters, page_number, page_size)
    order = "most severe first" if filters.most_severe_first else "newest first"
    st.caption(f"{page.total} alert(s) match · page {page.page} of {page.pages} · {order} · times in UTC")
    if page.rows:
        frame = pd.DataFrame(page.rows)
        frame["first_seen"] = frame["first_seen"].map(when)
        frame["last_seen"] = frame["last_seen"].map(when)
        st.dataframe(styled_severity(frame), hide_index=True, width="stretch", key="alerts_table",
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
            return f"#{alert_id} · {severity_badge(row['severity'])} · {row['place']} · {row['labels']}"
    return f"#{alert_id}"


def _first_run(ctx: DashboardContext, counts: dict) -> None:
    """An empty store: say what to do next rather than show empty tables."""
    feeds = ("No feeds are configured yet." if not counts["feeds"] else
             f"{counts['feeds']} feed(s) are configured and {counts['articles']} article(s) stored; "
             "no article has raised an alert yet.")
    add_feed = ("on the **Feeds** page, or with `monitor feeds add` or feeds.yaml" if ctx.can("analyst")
                else "ask an analyst or admin (the Feeds page, `monitor feeds add` or feeds.yaml)")
    st.info(f"**Getting started.** {feeds}\n\n"
            f"1. Add the news feeds to watch: {add_feed}. To see how alerts look first, load the fictional "
            "samples with `monitor demo`.\n"
            "2. Keep the worker running (`monitor worker`; `make run` starts it): it polls the feeds, "
            "classifies new articles and raises alerts here.\n"
            "3. Have alerts come to you: `monitor subscribers add EMAIL` (options narrow it to facilities, "
            "countries, labels or a minimum severity).", icon=":material/flag:")


def _period_words(filters: queries.AlertFilters, options: dict) -> str:
    words = []
    if filters.since and filters.until:
        words.append(f"seen {filters.since:%d %b} – {filters.until:%d %b %Y}")
    if filters.country:
        words.append(f"in {country_name(filters.country)}")
    if filters.facility_id:
        words.append(f"at {dict(options['facilities']).get(filters.facility_id, 'one facility')}")
    if filters.labels:
        words.append("labelled " + " or ".join(label.replace("_", " ") for label in filters.labels))
    return ", ".join(words) or "all time"


def _situation_board(ctx: DashboardContext, filters: queries.AlertFilters) -> None:
    board = ctx.read(queries.situation_board, filters)
    scope = _period_words(filters, ctx.read(queries.alert_filter_options))
    st.subheader("Situation")
    st.caption(f"Open alerts (new, confirmed or escalated) {scope}. The board follows the date, place and label "
               "filters; severity and status filters apply to the table below.")
    _card_css()
    counts, chart = st.columns([2, 3], gap="large")
    with counts:
        for pair in (SEVERITIES[:1:-1], SEVERITIES[1::-1]):  # critical, high / medium, low
            for column, severity in zip(st.columns(2), pair):
                colour = SEVERITY_STREAMLIT_COLOURS[severity]
                column.metric(f":{colour}[**{severity_badge(severity)}**]", board.open_by_severity.get(severity, 0),
                              help=f"open {severity} alerts {scope}")
    with chart:
        st.markdown("**Alerts per day by severity**")
        _per_day_chart(board.per_day, filters)

    st.markdown(f"**New critical and high alerts** ({board.cards_total})")
    if board.cards:
        per_row = 3
        for start in range(0, len(board.cards), per_row):
            row = st.columns(per_row)
            for column, card in zip(row, board.cards[start:start + per_row]):
                with column.container(border=True, key=f"card-{card['severity']}-{card['id']}"):
                    _card(card)
        if board.cards_total > len(board.cards):
            st.caption(f"{board.cards_total - len(board.cards)} more: choose **Most severe first** in the filters "
                       "to list them all in the table.")
    else:
        st.caption("None in this period: no new alert is high or critical.")


def _card_css() -> None:
    """A thick left edge in the severity's colour on each card (our own CSS; no store text in it)."""
    rules = "".join(f'[class*="st-key-card-{severity}-"] {{border-left: 6px solid {colour} !important;}}'
                    for severity, colour in SEVERITY_COLOURS.items())
    st.html(f"<style>{rules}</style>")


def _card(card: dict) -> None:
    # Our own words are markdown; everything that comes from the store goes through plain().
    place = plain(card["place"]) + (f" · {plain(card['country'])}" if card["country"] else "")
    st.markdown(f"{severity_markdown(card['severity'])} **{place}**")
    labels = ", ".join(label.replace("_", " ") for label in card["labels"]) or "no label"
    st.markdown(f"{plain(labels)}  \n"
                f"{card['outlets']} independent outlet{'s' if card['outlets'] != 1 else ''} · "
                f"first seen {plain(when(card['first_seen']))} UTC")
    if card["reason"]:
        st.caption("Why: " + plain(card["reason"]))
    if st.button(f"Open alert #{card['id']}", key=f"board_open_{card['id']}", width="stretch"):
        _open_alert(card["id"])


def _open_alert(alert_id: int) -> None:
    """Show this alert in the detail below (as a link from a mail would) on the next run."""
    st.query_params["alert"] = str(alert_id)
    st.session_state.pop("alert_choice", None)
    st.session_state["flash"] = f"Alert #{alert_id} is open below the table."
    st.rerun()


def _per_day_chart(per_day: list[dict], filters: queries.AlertFilters) -> None:
    if not per_day:
        st.caption("No alerts were first seen in this period.")
        return
    frame = pd.DataFrame(per_day)
    frame["day"] = pd.to_datetime(frame["day"])
    frame["shown"] = frame["severity"].map(severity_cell)
    order = list(reversed(SEVERITIES))
    x_scale = alt.Scale(domain=[pd.Timestamp(filters.since).isoformat(), pd.Timestamp(filters.until).isoformat()]) \
        if filters.since and filters.until else alt.Undefined
    chart = alt.Chart(frame).mark_bar().encode(
        x=alt.X("day:T", title="day first seen (UTC)", scale=x_scale, axis=alt.Axis(format="%d %b")),
        y=alt.Y("sum(alerts):Q", title="alerts", axis=alt.Axis(tickMinStep=1)),
        color=alt.Color("shown:N", title="severity",
                        scale=alt.Scale(domain=[severity_cell(s) for s in order],
                                        range=[SEVERITY_COLOURS[s] for s in order])),
        order=alt.Order("rank:Q", sort="descending"),
        tooltip=[alt.Tooltip("day:T", format="%Y-%m-%d"), alt.Tooltip("shown:N", title="severity"),
                 alt.Tooltip("alerts:Q")],
    ).transform_calculate(rank=f"indexof({order!r}, datum.severity)").properties(height=180)
    st.altair_chart(chart, key="alerts_per_day")


def _filters(options: dict) -> queries.AlertFilters:
    with st.expander("Filters", expanded=False):
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
        span = sixth.date_input("Seen between", value=(today - timedelta(days=DEFAULT_PERIOD_DAYS), today),
                                key="f_dates", help="Alerts with an article in this period (UTC days).")
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
    st.subheader(f"Alert #{detail['id']}: {severity_markdown(detail['severity'])} · {', '.join(detail['labels'])}")
    left, middle, right = st.columns(3)
    left.metric("Severity", severity_badge(detail["severity"]))
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
