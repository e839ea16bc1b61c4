"""The facility map: Natural Earth geography drawn offline, facilities by risk and population, click to profile."""

# The shared dashboard fixtures are imported from test_dashboard; pytest passes them in as arguments.
# ruff: noqa: F811

from __future__ import annotations

import json

from sqlmodel import Session, select

from monitor.dashboard.views.facilities import FACILITY_LAYER, marker_radius, picked_slug, risk_colour
from monitor.geo import BASEMAP_PATH, basemap
from monitor.store.schema import Facility
from tests.test_dashboard import (  # noqa: F401 (fixtures)
    app_for,
    demo_store,
    go_to,
    logged_in,
    needs_model,
    table_with,
    users,
)


def _deck(at) -> tuple[object, dict]:
    charts = at.get("deck_gl_json_chart")
    assert len(charts) == 1, "one map on the Facilities page"
    return charts[0], json.loads(charts[0].proto.json)


def _layer(spec: dict, layer_id: str) -> dict:
    return next(layer for layer in spec["layers"] if layer["id"] == layer_id)


def click_on_map(at, slug: str):
    """What the browser sends when a facility is clicked: the selection state of the map widget.

    AppTest has no map element to click, so the widget state is sent by hand, as the frontend would.
    """
    from streamlit.proto.WidgetStates_pb2 import WidgetState

    chart, spec = _deck(at)
    data = _layer(spec, FACILITY_LAYER)["data"]
    index, row = next((i, row) for i, row in enumerate(data) if row["slug"] == slug)
    states = at._tree.get_widget_states()
    selection = {"selection": {"indices": {FACILITY_LAYER: [index]}, "objects": {FACILITY_LAYER: [row]}}}
    states.widgets.append(WidgetState(id=chart.proto.id, string_value=json.dumps(selection)))
    at._run(states)
    assert not at.exception, at.exception
    return at


# --- the shipped base map ---------------------------------------------------------------------------------------

def test_the_base_map_is_a_small_public_domain_geojson_of_the_world():
    assert BASEMAP_PATH.stat().st_size < 1_000_000
    world = basemap()
    assert world["type"] == "FeatureCollection" and len(world["features"]) == 177
    names = {f["properties"]["name"] for f in world["features"]}
    assert {"Syria", "Iraq", "Nigeria", "Haiti", "Brazil", "Dem. Rep. Congo"} <= names
    for feature in world["features"]:
        assert feature["geometry"]["type"] == "MultiPolygon"
        for polygon in feature["geometry"]["coordinates"]:
            for ring in polygon:
                assert len(ring) >= 4 and ring[0] == ring[-1]
                assert all(-180 <= x <= 180 and -90 <= y <= 90 for x, y in ring)
    readme = (BASEMAP_PATH.parent / "README.md").read_text()
    assert "Natural Earth" in readme and "public" in readme and "domain" in readme
    assert "http" not in BASEMAP_PATH.read_text()  # nothing in it can make a browser fetch anything


def test_markers_grow_with_population_and_picks_are_read_from_the_selection():
    assert marker_radius(None) == marker_radius(0) < marker_radius(100) < marker_radius(5_000) < marker_radius(50_000)
    assert marker_radius(50_000) < 30  # al-Hol sized: large, not a country-covering disc
    assert risk_colour(None) != risk_colour(0) != risk_colour(100)
    assert picked_slug({"selection": {"indices": {}, "objects": {}}}) is None
    assert picked_slug(None) is None
    assert picked_slug({"selection": {"objects": {FACILITY_LAYER: [{"slug": "roj-camp"}]}}}) == "roj-camp"


# --- the page ---------------------------------------------------------------------------------------------------

@needs_model
def test_the_map_draws_natural_earth_offline_and_the_facilities_by_risk_and_population(app_for, demo_store, engine):
    at = go_to(logged_in(app_for(demo_store), "vera"), "Facilities")
    _, spec = _deck(at)
    # No tile server: pydeck's "no style" placeholder, which Streamlit reads as "no base map". A missing
    # mapStyle would make Streamlit load Carto's tiles instead.
    assert spec.get("mapStyle") == "__MAP_STYLE__" and not spec.get("mapProvider")
    assert "http://" not in json.dumps(spec) and "https://" not in json.dumps(spec)
    assert [layer["id"] for layer in spec["layers"]] == ["water", "countries", FACILITY_LAYER, "names"]
    assert _layer(spec, "countries")["data"] == basemap()

    table = table_with(at, "open_alerts")
    points = {p["slug"]: p for p in _layer(spec, FACILITY_LAYER)["data"]}
    with Session(engine) as session:
        placed = session.exec(select(Facility).where(Facility.latitude.is_not(None))).all()
    assert set(points) == {f.slug for f in placed}
    ghwayran = points["ghwayran-prison"]
    row = table[table["name"] == "Ghwayran prison"].iloc[0]
    assert ghwayran["colour"] == risk_colour(None if row["risk"] != row["risk"] else row["risk"])
    assert ghwayran["radius"] == marker_radius(int(row["population"]))
    assert ghwayran["open_alerts"] == row["open_alerts"] > 0
    assert ghwayran["label"] == "Ghwayran prison"  # named on the map: it has open alerts
    assert any(p["label"] == "" for p in points.values())  # quiet places are left unnamed
    tooltip = json.loads(_deck(at)[0].proto.tooltip)["text"]
    for field in ("{name}", "{risk_text}", "{open_alerts}"):
        assert field in tooltip
    assert "Natural Earth" in "\n".join(c.value for c in at.caption)


@needs_model
def test_clicking_a_facility_on_the_map_opens_its_profile(app_for, demo_store):
    at = go_to(logged_in(app_for(demo_store), "vera"), "Facilities")
    first = at.selectbox(key="profile_choice").value
    target = "roj-camp" if first != "roj-camp" else "ghwayran-prison"
    click_on_map(at, target)
    assert at.selectbox(key="profile_choice").value == target
    table = table_with(at, "open_alerts")
    name = table.loc[table["slug"] == target, "name"].iloc[0] if "slug" in table else None
    assert at.subheader[0].value == (name or {"roj-camp": "Roj camp", "ghwayran-prison": "Ghwayran prison"}[target])
    # The box beside the map still chooses freely after a click.
    at.selectbox(key="profile_choice").set_value(first).run()
    assert at.selectbox(key="profile_choice").value == first


@needs_model
def test_the_profile_opens_on_the_riskiest_facility_and_its_signals_show_severity(app_for, demo_store):
    at = go_to(logged_in(app_for(demo_store), "vera"), "Facilities")
    table = table_with(at, "open_alerts")
    riskiest = table.sort_values(["risk", "open_alerts"], ascending=False, na_position="last").iloc[0]
    assert at.subheader[0].value == riskiest["name"]
    at.selectbox(key="profile_choice").set_value("ghwayran-prison").run()
    signals = table_with(at, "outlets")
    assert all(cell.split(" ")[0] in "■▲◆▽" and cell.split(" ")[-1] in ("low", "medium", "high", "critical")
               for cell in signals["severity"])


@needs_model
def test_the_country_filter_narrows_the_map_and_the_profile_box(app_for, demo_store):
    at = go_to(logged_in(app_for(demo_store), "vera"), "Facilities")
    click_on_map(at, "roj-camp")
    at.selectbox(key="fac_country").set_value("IQ").run()
    assert not at.exception
    _, spec = _deck(at)
    countries = {p["country"] for p in _layer(spec, FACILITY_LAYER)["data"]}
    assert countries == {"Iraq"}
    assert at.selectbox(key="profile_choice").value != "roj-camp"  # a Syrian camp is not offered under Iraq


@needs_model
def test_a_configured_tile_server_replaces_the_offline_base_map(app_for, demo_store, monkeypatch):
    monkeypatch.setenv("MONITOR_MAP_STYLE", "https://tiles.internal.example/style.json")
    at = go_to(logged_in(app_for(demo_store), "vera"), "Facilities")
    _, spec = _deck(at)
    assert spec["mapStyle"] == "https://tiles.internal.example/style.json"
    assert [layer["id"] for layer in spec["layers"]] == [FACILITY_LAYER, "names"]
