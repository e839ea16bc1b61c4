"""The situation board at the top of the Alerts page, and severity shown in colour and in words, via AppTest."""

# The shared dashboard fixtures are imported from test_dashboard; pytest passes them in as arguments.
# ruff: noqa: F811

from __future__ import annotations

import json
from collections import Counter

from sqlmodel import Session, select

from monitor.dashboard.display import plain, severity_cell, styled_severity
from monitor.severity_style import (
    SEVERITY_COLOURS,
    SEVERITY_STREAMLIT_COLOURS,
    SEVERITY_SYMBOLS,
    severity_badge,
    severity_rgba,
)
from monitor.store.db import session_scope
from monitor.store.schema import SEVERITIES, Alert, Facility
from tests.test_dashboard import app_for, demo_store, logged_in, needs_model, users  # noqa: F401 (fixtures)

OPEN = ("new", "confirmed", "escalated")


def _board_metrics(at) -> dict[str, int]:
    """Severity -> the open-alert count its metric shows (labels are ':colour[**symbol WORD**]')."""
    counts = {}
    for metric in at.metric:
        for severity in SEVERITIES:
            if metric.label == f":{SEVERITY_STREAMLIT_COLOURS[severity]}[**{severity_badge(severity)}**]":
                counts[severity] = int(metric.value)
    return counts


def _per_day_chart(at):
    from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df

    chart = at.get("vega_lite_chart")[0]  # the only chart on the page
    spec = json.loads(chart.proto.spec)
    frame = convert_arrow_bytes_to_pandas_df(chart.proto.datasets[0].data.data) if chart.proto.datasets else None
    return spec, frame


def _card_buttons(at) -> list[int]:
    return [int(b.label.removeprefix("Open alert #")) for b in at.button if b.label.startswith("Open alert #")]


# --- one home for severity looks -------------------------------------------------------------------------------

def test_every_severity_has_its_own_colour_symbol_and_badge():
    for table in (SEVERITY_COLOURS, SEVERITY_SYMBOLS, SEVERITY_STREAMLIT_COLOURS):
        assert set(table) == set(SEVERITIES)
        assert len(set(table.values())) == len(SEVERITIES), "two severities would look alike"
    assert severity_badge("high") == "▲ HIGH" and severity_cell("low") == "▽ low"
    assert severity_rgba("critical") == [0xC9, 0x2A, 0x2A, 230]


def test_a_severity_table_cell_carries_the_symbol_word_and_a_readable_colour():
    import pandas as pd

    styled = styled_severity(pd.DataFrame({"severity": list(SEVERITIES)}))
    assert list(styled.data["severity"]) == [severity_cell(s) for s in SEVERITIES]
    css = "".join(styled.to_html().split())
    for colour in SEVERITY_COLOURS.values():
        assert f"background-color:{colour}" in css
    # Dark text on the light yellow and orange, white on the dark blue and red.
    assert "background-color:#d4a017;color:#000000" in css and "background-color:#c92a2a;color:#ffffff" in css


def test_store_text_is_escaped_for_markdown():
    hostile = "![x](https://tracker.example/p.png) :red[loud] <b>x</b> [link](javascript:alert(1))"
    escaped = plain(hostile)
    for raw in ("![", "](", ":red[", "<b>"):
        assert raw not in escaped
    assert escaped.replace("\\", "") == hostile


# --- the board --------------------------------------------------------------------------------------------------

@needs_model
def test_the_board_counts_open_alerts_by_severity_and_cards_the_new_critical_and_high(app_for, demo_store, engine):
    at = logged_in(app_for(demo_store), "vera")
    with Session(engine) as session:
        alerts = session.exec(select(Alert)).all()
    open_counts = Counter(a.severity for a in alerts if a.status in OPEN)
    assert _board_metrics(at) == {s: open_counts.get(s, 0) for s in SEVERITIES}
    assert open_counts["critical"] > 0

    urgent = sorted((a for a in alerts if a.status == "new" and a.severity in ("critical", "high")),
                    key=lambda a: (SEVERITIES.index(a.severity), a.first_seen_at, a.id), reverse=True)
    assert _card_buttons(at) == [a.id for a in urgent[:6]]
    markdown = [m.value for m in at.markdown]
    assert f"**New critical and high alerts** ({len(urgent)})" in markdown
    first = urgent[0]
    with Session(engine) as session:
        place = session.get(Facility, first.facility_id).name
    # The card: severity badge on its colour, the facility, labels, outlets and first seen; the reason beside.
    assert f":red-background[■ CRITICAL] **{plain(place)}" in "\n".join(markdown)
    card_text = next(m for m in markdown if "independent outlet" in m)
    assert ", ".join(label.replace("_", " ") for label in first.labels) in card_text
    assert f"{first.outlet_count} independent outlet" in card_text
    assert first.first_seen_at.strftime("%Y\\-%m\\-%d") in card_text
    assert any(c.value.startswith("Why: ") and plain(first.severity_reason.strip()[:40]) in c.value
               for c in at.caption)
    # A thick edge in the severity's colour on each card, from the one colour table.
    styles = " ".join(h.proto.body for h in at.get("html"))
    assert f"border-left: 6px solid {SEVERITY_COLOURS['critical']}" in styles


@needs_model
def test_a_card_opens_its_alert(app_for, demo_store):
    at = logged_in(app_for(demo_store), "vera")
    target = _card_buttons(at)[-1]
    at.button(key=f"board_open_{target}").click().run()
    assert not at.exception
    assert at.query_params["alert"] == str(target)  # the address now points at it, as a mail link would
    assert any(s.value.startswith(f"Alert #{target}:") for s in at.subheader)
    assert at.selectbox(key="alert_choice").value == target


@needs_model
def test_the_chart_counts_alerts_per_day_by_severity_in_the_severity_colours(app_for, demo_store, engine):
    at = logged_in(app_for(demo_store), "vera")
    spec, frame = _per_day_chart(at)
    order = list(reversed(SEVERITIES))
    assert spec["encoding"]["color"]["scale"] == {"domain": [severity_cell(s) for s in order],
                                                   "range": [SEVERITY_COLOURS[s] for s in order]}
    with Session(engine) as session:
        alerts = [a for a in session.exec(select(Alert)).all() if a.status != "dismissed"]
    expected = Counter((a.first_seen_at.date(), a.severity) for a in alerts)
    shown = Counter({(row.day.date(), row.severity): row.alerts for row in frame.itertuples()})
    assert shown == expected and sum(shown.values()) == len(alerts)


@needs_model
def test_the_board_follows_the_place_filter_but_not_the_status_filter(app_for, demo_store, engine):
    at = logged_in(app_for(demo_store), "vera")
    with Session(engine) as session:
        rows = session.exec(select(Alert, Facility.country).join(Facility, Facility.id == Alert.facility_id)).all()
    syrian = [a for a, country in rows if country == "SY"]
    at.selectbox(key="f_country").set_value("SY").run()
    assert _board_metrics(at) == {s: sum(1 for a in syrian if a.status in OPEN and a.severity == s)
                                  for s in SEVERITIES}
    assert set(_card_buttons(at)) == {a.id for a in syrian if a.status == "new" and a.severity in ("critical", "high")}
    before = _board_metrics(at)
    at.multiselect(key="f_status").set_value(["resolved"]).run()
    assert _board_metrics(at) == before  # the table below is empty; the board still shows the situation
    assert "No alerts match these filters." in [i.value for i in at.info]


@needs_model
def test_triaged_alerts_leave_the_cards_and_dismissed_ones_leave_the_counts(app_for, demo_store, engine, run_cli):
    at = logged_in(app_for(demo_store), "ana")
    first, second = _card_buttons(at)[:2]
    counts = _board_metrics(at)
    with Session(engine) as session:
        severity = session.get(Alert, second).severity
    run_cli("alerts", "set-status", str(first), "confirmed", "--as", "ana")
    run_cli("alerts", "set-status", str(second), "dismissed", "--as", "ana")
    import streamlit as st

    st.cache_data.clear()  # a change made outside the dashboard shows after the read cache's ttl; skip the wait
    at = logged_in(app_for(demo_store), "ana")
    buttons = _card_buttons(at)
    assert first not in buttons and second not in buttons
    after = _board_metrics(at)
    assert after[severity] == counts[severity] - 1  # confirmed is still open; dismissed is not


@needs_model
def test_store_text_on_a_card_cannot_become_a_link_or_an_image(app_for, demo_store, engine):
    hostile = "Camp ![pixel](https://tracker.example/p.png) [click](https://evil.example)"
    with session_scope(engine) as session:
        # A card that names a facility (an unlinked alert has none to rename); ordered, so both backends agree.
        alert = session.exec(select(Alert).where(Alert.status == "new", Alert.severity == "critical",
                                                 Alert.facility_id.is_not(None)).order_by(Alert.id)).first()
        session.get(Facility, alert.facility_id).name = hostile
    at = logged_in(app_for(demo_store), "vera")
    card = next(m.value for m in at.markdown if plain(hostile) in m.value)
    assert "![pixel](" not in card and "[click](" not in card
