"""The dashboard, driven by Streamlit's AppTest against a real store."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import REPO_ROOT

APP = str(REPO_ROOT / "app.py")


@pytest.fixture
def app_for(monkeypatch):
    def make(database_url: str) -> AppTest:
        monkeypatch.setenv("MONITOR_DATABASE_URL", database_url)
        return AppTest.from_file(APP, default_timeout=60)

    return make


def test_the_facility_list_and_a_profile_render(app_for, initialised):
    at = app_for(initialised).run()
    assert not at.exception
    assert at.title[0].value == "Detention-facility risk monitor"
    table = at.dataframe[0].value
    assert "Ghwayran prison" in set(table["name"])
    assert len(table) >= 40

    at.selectbox[1].set_value("ghwayran-prison").run()
    assert not at.exception
    assert any(s.value == "Ghwayran prison" for s in at.subheader)
    assert any("3,500" == m.value for m in at.metric)


def test_the_country_filter_narrows_the_list(app_for, initialised):
    at = app_for(initialised).run()
    at.selectbox[0].set_value("IQ").run()
    table = at.dataframe[0].value
    assert len(table) > 0 and set(table["country"]) == {"Iraq"}


def test_an_uninitialised_store_says_what_to_do(app_for, sqlite_url):
    at = app_for(sqlite_url).run()
    assert not at.exception
    assert "monitor init" in at.warning[0].value
