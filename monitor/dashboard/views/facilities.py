"""Facilities: a map with geography (offline), a sortable table, and a profile page with trend, timeline
and edits."""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd
import pydeck as pdk
import streamlit as st

from monitor.countries import country_name
from monitor.dashboard import queries
from monitor.dashboard.context import DashboardContext, when
from monitor.dashboard.display import styled_severity
from monitor.facilities.profiles import FacilityProfile, apply_profiles
from monitor.geo import basemap
from monitor.store.db import InvalidRow
from monitor.store.schema import utcnow

EDITABLE_STATUSES = ("", "operational", "closed", "partially_operational", "unknown")
MAP_KEY = "facility_map"
FACILITY_LAYER = "facilities"
# Land, borders and water of the offline base map: quiet colours so the facilities stand out.
LAND_COLOUR = [236, 233, 224, 255]
BORDER_COLOUR = [140, 140, 140, 255]
WATER_COLOUR = [212, 226, 238, 255]
# The sea: one rectangle over the whole Web Mercator world, under the land.
WATER = {"type": "Feature", "properties": {}, "geometry": {
    "type": "Polygon", "coordinates": [[[-180, -85], [180, -85], [180, 85], [-180, 85], [-180, -85]]]}}


def risk_colour(score: float | None) -> list[int]:
    """Grey when unscored; green through amber to red as the 0-100 score rises."""
    if score is None:
        return [150, 150, 150, 160]
    score = max(0.0, min(100.0, score))
    if score < 50:
        return [int(40 + 4.3 * score), 170, 60, 200]
    return [230, int(170 - 3.0 * (score - 50)), 40, 220]


def marker_radius(population: int | None) -> float:
    """Marker radius in pixels: area grows with the population held; unknown populations get the smallest."""
    if not population:
        return 4.0
    return round(4.0 + math.sqrt(population) / 10.0, 1)


def picked_slug(selection: Any) -> str | None:
    """The slug of the facility clicked on the map, from st.pydeck_chart's selection state."""
    try:
        objects = selection["selection"]["objects"].get(FACILITY_LAYER) or []
    except (KeyError, TypeError, AttributeError):
        return None
    return objects[0].get("slug") if objects else None


def _follow_map_selection() -> None:
    """Clicking a facility on the map chooses it in the profile box (runs before the page is drawn)."""
    slug = picked_slug(st.session_state.get(MAP_KEY))
    if slug:
        st.session_state["profile_choice"] = slug


def render(ctx: DashboardContext) -> None:
    st.header("Facilities")
    countries = ctx.read(queries.facility_countries)
    choice = st.selectbox("Country", ["All countries"] + countries, key="fac_country",
                          format_func=lambda c: c if c == "All countries" else f"{country_name(c)} ({c})")
    rows = ctx.read(queries.facility_rows, None if choice == "All countries" else choice)
    st.caption(f"{len(rows)} facilities · risk is 0-100 (see a profile for its factors)")
    # Riskiest first, so the profile that opens by default is the one most worth reading.
    ranked = sorted(rows, key=lambda r: (r["risk"] is None, -(r["risk"] or 0), -r["open_alerts"], r["name"]))
    names = {row["slug"]: f"{row['name']} ({row['country_code']})" for row in ranked}
    if st.session_state.get("profile_choice") not in names:
        st.session_state.pop("profile_choice", None)  # a facility outside the chosen country
    map_column, side = st.columns([4, 1])
    with map_column:
        _map(ctx, rows)
    slug = None
    with side:
        if rows:
            slug = st.selectbox("Profile", list(names), format_func=names.get, key="profile_choice",
                                help="Click a facility on the map, or choose it here.")
            row = next(r for r in rows if r["slug"] == slug)
            st.metric("Risk", "not scored" if row["risk"] is None else f"{row['risk']:.0f}/100")
            st.metric("Open alerts", row["open_alerts"])
            st.caption("The profile is below the table.")

    frame = pd.DataFrame(rows, columns=["name", "country", "kind", "risk", "open_alerts", "population", "capacity",
                                        "occupancy_pct", "operator", "status", "population_date", "slug"])
    # Sorting is built into the table: click a column header.
    st.dataframe(frame.sort_values("risk", ascending=False, na_position="last"), hide_index=True, width="stretch",
                 key="facilities_table",
                 column_config={"population": st.column_config.NumberColumn(format="%d"),
                                "capacity": st.column_config.NumberColumn(format="%d"),
                                "occupancy_pct": st.column_config.NumberColumn("occupancy %", format="%d%%"),
                                "risk": st.column_config.ProgressColumn("risk", min_value=0, max_value=100,
                                                                        format="%.0f"),
                                "slug": None})
    if not slug:
        return
    profile = ctx.read(queries.facility_profile, slug)
    if profile is None:
        st.info("That facility is no longer in the store.")
        return
    render_profile(ctx, profile)


class CompactDeck(pdk.Deck):
    """pydeck writes its JSON indented, which multiplies the base map's size; this writes it compactly."""

    def to_json(self) -> str:
        return json.dumps(json.loads(super().to_json()), separators=(",", ":"))


def facility_map(rows: list[dict], map_style: str = "") -> pdk.Deck | None:
    """The deck: Natural Earth countries underneath (unless a tile server is set), facilities on top."""
    placed = [{
        "slug": row["slug"], "name": row["name"], "country": row["country"],
        "longitude": row["longitude"], "latitude": row["latitude"],
        "colour": risk_colour(row["risk"]), "radius": marker_radius(row["population"]),
        "risk_text": "not scored" if row["risk"] is None else f"{row['risk']:.0f}/100",
        "population_text": "unknown" if row["population"] is None else f"{row['population']:,}",
        "open_alerts": row["open_alerts"],
        # Names only where there is something to look at, so the labels do not bury each other.
        "label": row["name"] if row["open_alerts"] else "",
    } for row in rows if row["latitude"] is not None and row["longitude"] is not None]
    if not placed:
        return None
    layers = []
    if not map_style:
        # Drawn from the GeoJSON shipped in the package: no request leaves the browser for a base map,
        # and nothing tells a tile server which places staff are looking at.
        layers.append(pdk.Layer("GeoJsonLayer", id="water", data=WATER, filled=True, stroked=False,
                                get_fill_color=WATER_COLOUR, pickable=False))
        layers.append(pdk.Layer("GeoJsonLayer", id="countries", data=basemap(), stroked=True, filled=True,
                                get_fill_color=LAND_COLOUR, get_line_color=BORDER_COLOUR,
                                line_width_min_pixels=0.6, pickable=False))
    layers.append(pdk.Layer("ScatterplotLayer", id=FACILITY_LAYER, data=placed,
                            get_position=["longitude", "latitude"], get_fill_color="colour",
                            get_radius="radius", radius_units="pixels", pickable=True, auto_highlight=True,
                            stroked=True, get_line_color=[40, 40, 40, 220], line_width_min_pixels=1))
    layers.append(pdk.Layer("TextLayer", id="names", data=[p for p in placed if p["label"]],
                            get_position=["longitude", "latitude"], get_text="label", get_size=12,
                            get_color=[20, 20, 20, 235], get_alignment_baseline="'bottom'",
                            get_pixel_offset=[0, -12], character_set="auto", outline_width=2,
                            outline_color=[255, 255, 255, 220], font_settings={"sdf": True}))
    view = pdk.data_utils.compute_view([[p["longitude"], p["latitude"]] for p in placed], view_proportion=0.95)
    view.zoom = max(1.0, min(view.zoom, 7.0))
    # With no provider, pydeck sends its "__MAP_STYLE__" placeholder, which Streamlit reads as "no base map".
    # (map_style=None instead would make Streamlit fall back to Carto's tiles, a request to a third party.)
    base_map = {"map_style": map_style} if map_style else {"map_provider": None}
    tooltip = {"text": "{name}\n{country}\nrisk {risk_text}\nopen alerts {open_alerts}\npopulation "
                       "{population_text}\n(click to open the profile)"}
    return CompactDeck(layers=layers, initial_view_state=view, tooltip=tooltip, **base_map)


def _map(ctx: DashboardContext, rows: list[dict]) -> None:
    deck = facility_map(rows, ctx.settings.map_style)
    if deck is not None:
        st.pydeck_chart(deck, key=MAP_KEY, on_select=_follow_map_selection, selection_mode="single-object",
                        height=520, alt="Map of the facilities, coloured by risk and sized by population")
        st.caption("Colour: risk from green (0) through amber to red (100), grey when not scored. Size: "
                   "population held (smallest when unknown). Names shown where alerts are open. Borders: "
                   "Natural Earth 1:110m, drawn offline." if not ctx.settings.map_style else
                   "Colour: risk from green (0) through amber to red (100), grey when not scored. Size: population.")
    missing = sum(1 for row in rows if row["latitude"] is None or row["longitude"] is None)
    if missing:
        st.caption(f"{missing} facilities have no coordinates in the store and are not on the map.")


def render_profile(ctx: DashboardContext, profile: dict) -> None:
    facts = profile.get("facts") or {}
    st.subheader(profile["name"])
    place = ", ".join(p for p in (profile.get("city"), profile.get("admin_area"), profile["country_name"]) if p)
    st.write(f"{profile['kind'].replace('_', ' ')} · {place}")
    risk = profile.get("risk")
    cols = st.columns(4)
    cols[0].metric("Risk", f"{risk['score']:.0f}/100" if risk else "not scored",
                   help=f"computed {risk['day']}" if risk else None)
    summaries = profile.get("fact_summaries") or {}
    cols[1].metric("Population", f"{profile['population']:,}" if profile.get("population") is not None else "unknown",
                   help=summaries.get("population") or f"as of {profile.get('population_date') or 'unknown'}")
    cols[2].metric("Capacity", f"{profile['capacity']:,}" if profile.get("capacity") is not None else "unknown",
                   help=summaries.get("capacity"))
    cols[3].metric("Operator", profile.get("operator") or "unknown", help=summaries.get("operator"))
    if profile.get("fact_history") and len(profile["fact_history"]) > len(summaries):
        st.markdown("**Facts over time**")
        for name, line in summaries.items():
            st.text(f"{name}: {line}")
        st.dataframe(pd.DataFrame(profile["fact_history"]), hide_index=True, width="stretch", key="fact_history",
                     column_config={"source": st.column_config.LinkColumn()})
    if risk and risk["factors"]:
        st.markdown("**Risk factors**")
        st.dataframe(pd.DataFrame(risk["factors"]), hide_index=True, width="stretch", key="risk_factors")
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
        ]), hide_index=True, key="nationalities")
    if profile.get("aliases"):
        st.markdown("**Also known as**")
        st.text("; ".join(profile["aliases"]))

    history = ctx.read(queries.risk_history, profile["id"])
    st.markdown("**Risk trend**")
    if len(history) >= 2:
        st.line_chart(pd.DataFrame(history).set_index("day"), y="score", height=220)
    else:
        st.caption("Not enough daily scores yet for a trend (one is kept per day).")

    st.markdown("**Signals**")
    alerts = ctx.read(queries.facility_alerts, profile["id"])
    if alerts:
        frame = pd.DataFrame(alerts)
        frame["first_seen"] = frame["first_seen"].map(when)
        frame["last_seen"] = frame["last_seen"].map(when)
        st.dataframe(styled_severity(frame), hide_index=True, width="stretch", key="facility_alerts",
                     column_config={"id": st.column_config.NumberColumn("alert", format="#%d")})
    else:
        st.caption("No alerts for this facility.")
    if profile.get("incidents"):
        st.markdown("**Notable past incidents**")
        st.dataframe(pd.DataFrame(sorted(profile["incidents"], key=lambda i: str(i.get("date", "")))),
                     hide_index=True, width="stretch", key="incidents",
                     column_config={"source": st.column_config.LinkColumn()})
    sources = sorted({(field, fact.get("source"), str(fact.get("as_of", ""))) for field, fact in facts.items()
                      if isinstance(fact, dict) and fact.get("source")})
    if sources:
        st.markdown("**Sources**")
        st.dataframe(pd.DataFrame(sources, columns=["fact", "source", "as of"]), hide_index=True, width="stretch",
                     key="sources", column_config={"source": st.column_config.LinkColumn()})
    with st.expander("Profile history"):
        changes = ctx.read(queries.profile_history, profile["id"])
        if changes:
            frame = pd.DataFrame(changes)
            frame["when"] = frame["when"].map(when)
            st.dataframe(frame, hide_index=True, width="stretch", key="profile_history")
        else:
            st.caption("No recorded changes.")
    if ctx.can("analyst"):
        _edit_form(ctx, profile)


def _edit_form(ctx: DashboardContext, profile: dict) -> None:
    with st.expander("Edit profile"):
        with st.form("edit_profile"):
            operator = st.text_input("Operator", value=profile.get("operator") or "")
            status = st.selectbox("Status", EDITABLE_STATUSES,
                                  index=EDITABLE_STATUSES.index(profile.get("status") or "")
                                  if (profile.get("status") or "") in EDITABLE_STATUSES else 0)
            left, right = st.columns(2)
            capacity = left.number_input("Capacity", min_value=0, step=1, value=profile.get("capacity") or 0)
            population = right.number_input("Population", min_value=0, step=1, value=profile.get("population") or 0)
            population_date = st.text_input("Population as of (YYYY, YYYY-MM or YYYY-MM-DD)",
                                            value=profile.get("population_date") or "")
            conditions = st.text_area("Conditions", value=profile.get("conditions") or "")
            tags = st.text_input("Condition tags (comma-separated)", value=", ".join(profile.get("condition_tags") or []))
            source = st.text_input("Source URL for these changes (required)")
            submitted = st.form_submit_button("Save changes")
        if not submitted:
            return
        if not source.strip().lower().startswith(("http://", "https://")):
            st.error("Give the source of the change as an http(s) URL: every fact in a profile carries its source.")
            return
        proposed = {
            "operator": operator.strip() or None, "status": status or None,
            "capacity": int(capacity) if capacity else None, "population": int(population) if population else None,
            "population_date": population_date.strip() or None, "conditions": conditions.strip() or None,
            "condition_tags": [t.strip() for t in tags.split(",") if t.strip()] or None,
        }
        changed = {k: v for k, v in proposed.items() if v is not None and v != profile.get(k)}
        if not changed:
            st.info("Nothing changed.")
            return
        as_of = population_date.strip() if "population" in changed and population_date.strip() \
            else utcnow().date().isoformat()
        edit = FacilityProfile(name=profile["name"], country=profile["country"], slug=profile["slug"], **changed,
                               facts={field: {"source": source.strip(), "as_of": as_of} for field in changed})
        try:
            ctx.write(lambda s: apply_profiles(s, [edit], actor=ctx.user.name, origin="analyst", local=True,
                                               default_source=source.strip()))
        except InvalidRow as exc:
            st.error(f"Not saved: {exc}")
            return
        st.session_state["flash"] = f"Saved {len(changed)} change(s) to {profile['name']}."
        st.rerun()
