"""The dashboard, driven by Streamlit's AppTest against a real store: login, every page, every action."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from monitor.classify.model import PACKAGED_MODEL
from monitor.store.db import session_scope
from monitor.store.schema import (
    ActivityLog,
    Alert,
    AlertStatusChange,
    Article,
    Facility,
    FacilityMention,
    FacilityProfileChange,
    Feed,
    Feedback,
    User,
)
from monitor.users import create_user
from tests.conftest import REPO_ROOT

APP = str(REPO_ROOT / "app.py")
PASSWORD = "a-long-test-password"
needs_model = pytest.mark.skipif(not PACKAGED_MODEL.is_file(), reason="no trained model in models/")


@pytest.fixture
def app_for(monkeypatch):
    def make(database_url: str) -> AppTest:
        monkeypatch.setenv("MONITOR_DATABASE_URL", database_url)
        return AppTest.from_file(APP, default_timeout=90)

    return make


@pytest.fixture
def users(engine):
    with session_scope(engine) as session:
        for name, role in (("vera", "viewer"), ("ana", "analyst"), ("adam", "admin")):
            create_user(session, name, role, PASSWORD, actor="test")
    return engine


@pytest.fixture
def demo_store(run_cli, initialised, users):
    run_cli("demo")
    return initialised


def logged_in(at: AppTest, name: str, password: str = PASSWORD) -> AppTest:
    at.run()
    at.text_input[0].input(name)
    at.text_input[1].input(password)
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at


def go_to(at: AppTest, page: str) -> AppTest:
    at.sidebar.radio(key="page").set_value(page).run()
    assert not at.exception, at.exception
    return at


def table_with(at: AppTest, column: str):
    """The first table on the page that has this column (AppTest does not expose dataframe keys)."""
    for frame in at.dataframe:
        if column in frame.value.columns:
            return frame.value
    raise AssertionError(f"no table with a {column!r} column")


def texts(at: AppTest) -> str:
    return "\n".join(str(e.value) for kind in ("text", "markdown", "caption", "subheader", "header", "warning",
                                               "info", "error", "success")
                     for e in getattr(at, kind))


# --- access ---------------------------------------------------------------------------------------------------

def test_nothing_is_shown_before_login(app_for, users, initialised):
    at = app_for(initialised).run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Detention-facility risk monitor"]
    assert not at.dataframe and not at.header and not at.sidebar.radio
    assert [b.label for b in at.button] == ["Log in"]


def test_a_wrong_password_is_refused_and_repeated_failures_lock_the_account(app_for, users, initialised, engine):
    at = app_for(initialised)
    logged_in(at, "ana", "not-the-password")
    assert "wrong user name or password" in at.error[0].value
    assert not at.header
    logged_in(at, "nobody", "whatever-password")
    assert "wrong user name or password" in at.error[0].value  # same words: no way to probe for names
    for _ in range(4):
        at.text_input[0].input("ana")
        at.text_input[1].input("still-wrong-password")
        at.button[0].click().run()
    at.text_input[1].input(PASSWORD)
    at.button[0].click().run()
    assert "locked" in at.error[0].value
    with Session(engine) as session:
        assert session.exec(select(User).where(User.name == "ana")).one().locked_until is not None
        failures = session.exec(select(ActivityLog).where(ActivityLog.action == "login.failed")).all()
    assert len(failures) == 5


def test_with_no_users_the_page_says_how_to_create_one(app_for, initialised):
    at = app_for(initialised).run()
    assert "monitor users add" in at.info[0].value
    assert not at.text_input


def test_a_disabled_account_is_logged_out_on_the_next_run(app_for, users, initialised, run_cli):
    at = logged_in(app_for(initialised), "vera")
    assert at.header[0].value == "Alerts"
    run_cli("users", "disable", "vera")
    at.run()
    assert "disabled or removed" in at.warning[0].value
    assert not at.header


def test_an_uninitialised_store_says_what_to_do(app_for, sqlite_url):
    at = app_for(sqlite_url).run()
    assert not at.exception
    assert "monitor init" in at.warning[0].value


def test_an_unreachable_database_is_reported_plainly(app_for, monkeypatch):
    from tests.conftest import free_port

    at = app_for(f"postgresql+psycopg://postgres:secret-pw@127.0.0.1:{free_port()}/test").run()
    assert not at.exception
    message = at.error[0].value
    assert "store is unavailable" in message and "secret-pw" not in message


# --- pages ----------------------------------------------------------------------------------------------------

@needs_model
def test_every_page_renders_for_a_viewer_without_edit_controls(app_for, demo_store):
    at = logged_in(app_for(demo_store), "vera")
    assert at.header[0].value == "Alerts" and len(at.dataframe[0].value) > 0
    assert not [b for b in at.button if b.key and b.key.startswith("triage_")]
    assert "read-only access" in texts(at)
    go_to(at, "Facilities")
    table = table_with(at, "open_alerts")
    assert "Ghwayran prison" in set(table["name"]) and len(table) >= 70
    assert not [e for e in at.expander if e.label == "Edit profile"]
    go_to(at, "Feeds")
    assert set(table_with(at, "next_check")["state"]) == {"demo"}
    assert not [f for f in at.text_input if f.label == "URL (RSS or Atom)"]
    go_to(at, "Model")
    assert at.subheader[0].value.startswith("Active: ")
    assert "prison_break" in set(table_with(at, "measure")["measure"])
    assert not [b for b in at.button if b.key in ("retrain", "activate_version")]


@needs_model
def test_alert_filters_narrow_the_list(app_for, demo_store, engine):
    at = logged_in(app_for(demo_store), "vera")
    with Session(engine) as session:
        alerts = session.exec(select(Alert)).all()
        facility = session.get(Facility, next(a.facility_id for a in alerts if a.facility_id))
    all_rows = at.dataframe[0].value
    assert len(all_rows) == sum(1 for a in alerts if a.status in ("new", "confirmed", "escalated"))

    at.multiselect(key="f_severity").set_value(["critical"]).run()
    assert set(at.dataframe[0].value["severity"]) == {"■ critical"}  # symbol and word: readable without colour
    at.multiselect(key="f_severity").set_value([]).run()

    at.multiselect(key="f_label").set_value(["riot_unrest"]).run()
    rows = at.dataframe[0].value if at.dataframe else []
    assert len(rows) == sum(1 for a in alerts if "riot_unrest" in a.labels)
    assert all("riot_unrest" in labels for labels in rows["labels"])
    at.multiselect(key="f_label").set_value([]).run()

    at.selectbox(key="f_country").set_value(facility.country).run()
    assert len(at.dataframe[0].value) >= 1
    at.selectbox(key="f_country").set_value("").run()
    at.selectbox(key="f_facility").set_value(facility.id).run()
    assert set(at.dataframe[0].value["place"]) == {facility.name}
    at.selectbox(key="f_facility").set_value(0).run()

    at.radio(key="f_order").set_value("Most severe first").run()
    severities = [cell.split(" ")[-1] for cell in at.dataframe[0].value["severity"]]
    ranks = [("low", "medium", "high", "critical").index(s) for s in severities]
    assert ranks == sorted(ranks, reverse=True) and severities[0] == "critical"

    at.multiselect(key="f_status").set_value(["resolved"]).run()
    assert "No alerts match these filters." in [i.value for i in at.info]


@needs_model
def test_a_link_from_a_mail_opens_that_alert(app_for, demo_store, engine):
    with Session(engine) as session:
        alert = session.exec(select(Alert).where(Alert.severity == "critical")).first()
    at = app_for(demo_store)
    at.query_params["alert"] = str(alert.id)
    logged_in(at, "vera")
    assert any(s.value.startswith(f"Alert #{alert.id}:") for s in at.subheader)
    assert alert.severity_reason.splitlines()[0] in texts(at)


@needs_model
def test_triage_by_an_analyst_writes_the_audit_trail_and_feedback(app_for, demo_store, engine):
    with Session(engine) as session:
        alert = session.exec(select(Alert).where(Alert.severity == "critical")).first()
    at = app_for(demo_store)
    at.query_params["alert"] = str(alert.id)
    logged_in(at, "ana")
    at.text_input(key="triage_note").input("two sources on the ground agree").run()
    at.button(key="triage_confirm").click().run()
    assert not at.exception
    assert f"Alert #{alert.id} is now confirmed." in [s.value for s in at.success]
    at.text_input(key="triage_note").input("families report calls cut").run()
    at.button(key="triage_add_note").click().run()
    at.button(key="triage_escalate").click().run()
    with Session(engine) as session:
        trail = session.exec(select(AlertStatusChange).where(AlertStatusChange.alert_id == alert.id)
                             .order_by(AlertStatusChange.id)).all()
        feedback = session.exec(select(Feedback).where(Feedback.alert_id == alert.id)).all()
        assert session.get(Alert, alert.id).status == "escalated"
    assert [(c.actor, c.from_status, c.to_status, c.note) for c in trail] == [
        ("ana", "new", "confirmed", "two sources on the ground agree"),
        ("ana", "confirmed", "confirmed", "families report calls cut"),
        ("ana", "confirmed", "escalated", "families report calls cut")]
    assert feedback and all(f.verdict == "confirmed" and f.actor == "ana" for f in feedback)
    assert "two sources on the ground agree" in set(table_with(at, "note")["note"])


@needs_model
def test_article_text_is_shown_as_text_never_as_html(app_for, demo_store, engine):
    hostile = '<img src=x onerror="alert(1)"> **Riot** at <b>Camp</b>'
    with session_scope(engine) as session:
        alert = session.exec(select(Alert)).first()
        from monitor.store.schema import AlertArticle
        article_id = session.exec(select(AlertArticle.article_id).where(AlertArticle.alert_id == alert.id)).first()
        session.get(Article, article_id).title = hostile
    at = app_for(demo_store)
    at.query_params["alert"] = str(alert.id)
    logged_in(at, "vera")
    assert hostile in [t.value for t in at.text]
    assert not any("<img" in m.value for m in at.markdown)


@needs_model
def test_an_analyst_adds_a_candidate_facility_and_its_alerts_link_to_it(app_for, demo_store, engine, run_cli,
                                                                       feed_server, feeds_file):
    feed_server.serve_file("/courier", "unknown_facility.xml")
    run_cli("--feeds-file", str(feeds_file(("Courier", feed_server.url("/courier")))), "init")
    run_cli("poll", "--all")
    with Session(engine) as session:
        alert = session.exec(select(Alert).where(Alert.candidate_name.is_not(None))).first()
    assert alert is not None and alert.candidate_name == "Mbarara Central Prison"
    at = app_for(demo_store)
    at.query_params["alert"] = str(alert.id)
    logged_in(at, "ana")
    form_inputs = {t.label: t for t in at.text_input}
    assert form_inputs["Country (ISO code, e.g. SY)"].value == "UG"
    form_inputs["Operator"].input("Ministry of Justice")
    at.button(key="FormSubmitter:add_candidate-Add facility").click().run()
    assert "Give the source" in at.error[0].value or "source" in at.error[0].value
    form_inputs = {t.label: t for t in at.text_input}
    form_inputs["Source URL for these facts (required)"].input("https://example.org/report-on-the-prison")
    at.button(key="FormSubmitter:add_candidate-Add facility").click().run()
    assert not at.exception
    with Session(engine) as session:
        linked = session.get(Alert, alert.id)
        facility = session.get(Facility, linked.facility_id)
        mentions = session.exec(select(FacilityMention).where(FacilityMention.candidate_name == alert.candidate_name)
                                ).all()
        history = session.exec(select(FacilityProfileChange).where(
            FacilityProfileChange.facility_id == facility.id)).all()
    assert facility.name == alert.candidate_name and facility.operator == "Ministry of Justice"
    assert linked.group_key.startswith(f"facility:{facility.id}|")
    assert mentions and all(m.facility_id == facility.id for m in mentions)
    assert all(c.changed_by == "ana" for c in history)


@needs_model
def test_an_analyst_edits_a_profile_with_a_source_and_the_history_keeps_it(app_for, demo_store, engine):
    at = logged_in(app_for(demo_store), "ana")
    go_to(at, "Facilities")
    at.selectbox(key="profile_choice").set_value("ghwayran-prison").run()
    assert "Ghwayran prison" in [s.value for s in at.subheader]
    population = next(n for n in at.number_input if n.label == "Population")
    population.set_value(4100)
    next(t for t in at.text_input if t.label.startswith("Population as of")).input("2026-10")
    at.button(key="FormSubmitter:edit_profile-Save changes").click().run()
    assert "source" in at.error[0].value  # no source given: nothing saved
    with Session(engine) as session:
        assert session.exec(select(Facility).where(Facility.slug == "ghwayran-prison")).one().population != 4100
    next(t for t in at.text_input if t.label.startswith("Source URL")).input("https://example.org/visit-2026")
    at.button(key="FormSubmitter:edit_profile-Save changes").click().run()
    assert not at.exception
    with Session(engine) as session:
        facility = session.exec(select(Facility).where(Facility.slug == "ghwayran-prison")).one()
        change = session.exec(select(FacilityProfileChange).where(
            FacilityProfileChange.facility_id == facility.id, FacilityProfileChange.field == "population")
            .order_by(FacilityProfileChange.id.desc())).first()
    assert facility.population == 4100 and facility.population_date == "2026-10"
    assert change.changed_by == "ana" and change.source_url == "https://example.org/visit-2026"
    assert facility.facts["population"]["source"] == "https://example.org/visit-2026"
    assert "population" in facility.local_fields  # a reload of the bundled data won't overwrite it


@needs_model
def test_an_analyst_adds_disables_and_re_enables_a_feed(app_for, demo_store, engine):
    at = logged_in(app_for(demo_store), "ana")
    go_to(at, "Feeds")
    fields = {t.label: t for t in at.text_input}
    fields["Name"].input("Local radio")
    fields["URL (RSS or Atom)"].input("javascript:alert(1)")
    at.button(key="FormSubmitter:add_feed-Add feed").click().run()
    assert "http:// or https://" in at.error[0].value
    fields = {t.label: t for t in at.text_input}
    fields["URL (RSS or Atom)"].input("https://radio.example.org/feed.xml")
    at.button(key="FormSubmitter:add_feed-Add feed").click().run()
    assert "Added Local radio" in at.success[0].value
    at.selectbox(key="feed_choice").set_value("Local radio").run()
    at.button(key="feed_disable").click().run()
    with Session(engine) as session:
        assert session.exec(select(Feed).where(Feed.name == "Local radio")).one().enabled is False
    at.selectbox(key="feed_choice").set_value("Local radio").run()
    at.button(key="feed_enable").click().run()
    with Session(engine) as session:
        feed = session.exec(select(Feed).where(Feed.name == "Local radio")).one()
        log = session.exec(select(ActivityLog.action, ActivityLog.actor).where(ActivityLog.target == "Local radio")
                           .order_by(ActivityLog.id)).all()
    assert feed.enabled and feed.managed_by == "dashboard"
    assert log == [("feed.add", "ana"), ("feed.disable", "ana"), ("feed.enable", "ana")]


@needs_model
def test_an_admin_switches_model_versions_and_can_roll_back(app_for, demo_store, engine, tmp_path):
    from monitor.classify import registry
    from monitor.settings import load_settings
    from monitor.store.schema import ModelVersion

    with Session(engine) as session:
        packaged = registry.active_version(session)
    # A second version on disk, as a retrain would leave it (a copy of the packaged file under a new version).
    copy = tmp_path / "classifier-copy.skops"
    copy.write_bytes(PACKAGED_MODEL.read_bytes())
    with session_scope(engine) as session:
        session.add(ModelVersion(version="copy-for-rollback-test", sha256=packaged.sha256, path=str(copy),
                                 card=packaged.card, origin="retrained", trained_by="test"))
    at = logged_in(app_for(demo_store), "ana")
    go_to(at, "Model")
    assert not [b for b in at.button if b.key == "activate_version"]  # analysts see, admins switch
    at = logged_in(app_for(demo_store), "adam")
    go_to(at, "Model")
    at.selectbox(key="version_choice").set_value("copy-for-rollback-test").run()
    at.button(key="activate_version").click().run()
    assert not at.exception
    with Session(engine) as session:
        assert registry.active_version(session).version == "copy-for-rollback-test"
    settings = load_settings(flags={"database_url": demo_store})
    assert registry.load_active_classifier(engine, settings).version == packaged.card["version"]
    at.selectbox(key="version_choice").set_value(packaged.version).run()
    at.button(key="activate_version").click().run()
    with Session(engine) as session:
        assert registry.active_version(session).version == packaged.version
        log = session.exec(select(ActivityLog.target).where(ActivityLog.action == "model.activate")
                           .order_by(ActivityLog.id)).all()
    assert log == ["copy-for-rollback-test", packaged.version]


@needs_model
def test_a_tampered_model_file_cannot_be_activated(app_for, demo_store, engine, tmp_path):
    from monitor.classify import registry
    from monitor.store.schema import ModelVersion

    bad = tmp_path / "tampered.skops"
    bad.write_bytes(PACKAGED_MODEL.read_bytes()[:-10] + b"0123456789")
    with session_scope(engine) as session:
        session.add(ModelVersion(version="tampered", sha256="0" * 64, path=str(bad), origin="retrained"))
    with pytest.raises(registry.RegistryError, match="cannot be activated"):
        with session_scope(engine) as session:
            registry.activate_version(session, "tampered", "adam")


@needs_model
def test_reports_are_offered_as_downloads(app_for, demo_store, engine):
    at = logged_in(app_for(demo_store), "vera")
    go_to(at, "Reports")
    with Session(engine) as session:
        ghwayran = session.exec(select(Facility).where(Facility.slug == "ghwayran-prison")).one()
    at.selectbox(key="report_facility").set_value(ghwayran.id).run()
    at.selectbox(key="report_format").set_value("csv").run()
    at.button(key="build_report").click().run()
    assert not at.exception, at.exception
    assert [d for d in at.get("download_button")], "no download button after building the report"
    assert any("facility-" in str(c.value) or "bytes" in str(c.value) for c in at.caption)


@needs_model
def test_an_admin_retrains_with_feedback_and_compares_before_activating(app_for, demo_store, engine, run_cli,
                                                                         tmp_path, monkeypatch):
    from tests.test_models import small_corpus

    if not demo_store.startswith("sqlite"):
        pytest.skip("training is the same on either store; once is enough")
    with Session(engine) as session:
        alert = session.exec(select(Alert).order_by(Alert.id)).first()
    run_cli("alerts", "set-status", str(alert.id), "dismissed", "--as", "ana")
    monkeypatch.setenv("MONITOR_CORPUS_DIR", str(small_corpus(tmp_path / "corpus")))
    monkeypatch.setenv("MONITOR_MODEL_STORE_DIR", str(tmp_path / "models"))
    at = logged_in(app_for(demo_store), "adam")
    go_to(at, "Model")
    monkeypatch.setenv("MONITOR_RETRAIN_ENCODER", "false")
    at.button(key="retrain").click().run()
    assert not at.exception, at.exception
    from monitor.classify import registry
    from monitor.settings import load_settings

    # The page only queues the request; the worker's retrain job trains (here run as the job would).
    with Session(engine) as session:
        assert [r.state for r in registry.retrain_requests(session)] == ["queued"]
    request_id = registry.claim_retrain_request(engine, "test-worker:1")
    assert registry.run_retrain_request(engine, load_settings(flags={"database_url": demo_store}),
                                        request_id).state == "done"
    at.run()
    assert not at.exception, at.exception
    with Session(engine) as session:
        versions = registry.versions(session)
        active = registry.active_version(session)
    retrained = next(v for v in versions if v.origin == "retrained")
    assert active.origin == "packaged" and retrained.trained_by == "adam"
    assert at.selectbox(key="version_choice").value == retrained.version
    assert len(at.dataframe) >= 3  # the active card, and the two compared side by side
