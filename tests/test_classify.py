"""`monitor classify` and `monitor evaluate` with the shipped model; safe model loading."""

from __future__ import annotations

import json
import os

import pytest
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from monitor.classify.model import PACKAGED_MODEL, ModelError, SignalClassifier
from tests.conftest import REPO_ROOT

SEED = REPO_ROOT.parent / "shared" / "seed_article.txt"
pytestmark = pytest.mark.skipif(not PACKAGED_MODEL.is_file(), reason="no trained model in models/")


def _seed_item() -> dict:
    if SEED.is_file():
        title, _, text = SEED.read_text(encoding="utf-8").partition("\n")
    else:  # the shared folder is beside every clone in CI; this fallback keeps the test meaningful elsewhere
        title = "IS attacks Syria jail holding jihadists"
        text = ("Islamic State fighters attacked Ghwayran prison in Hasakeh with a car bomb and freed dozens of "
                "detainees, in the group's boldest operation since 2019. In 2013 the group freed hundreds from "
                "the notorious Abu Ghraib prison.")
    return {"id": "seed", "title": title, "text": text, "kept": {"any": "field"}}


def test_the_seed_story_is_flagged_and_linked(run_cli, initialised, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps(_seed_item()) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    run_cli("classify", "--input", str(source), "--output", str(out))
    item = json.loads(out.read_text())
    assert {"prison_break", "attack_on_facility", "resurgence_signal"} <= set(item["labels"])
    roles = {f["name"]: f["role"] for f in item["facilities"]}
    assert roles.get("Ghwayran prison") == "primary"
    assert roles.get("Abu Ghraib prison") == "mentioned"
    assert item["severity"] in ("high", "critical")
    assert item["kept"] == {"any": "field"} and item["id"] == "seed"
    assert set(item["scores"]) >= {"prison_break", "conditions_alert"}
    ghwayran = next(f for f in item["facilities"] if f["name"] == "Ghwayran prison")
    assert isinstance(ghwayran["id"], int) and ghwayran["confidence"] >= 0.9 and ghwayran["matched"]


def test_bad_lines_are_reported_by_number_and_skipped(run_cli, initialised, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": 1, "title": "Inmates escape from Kuje prison", "text": ""}\n'
                      "not json\n"
                      '{"id": 3}\n'
                      '{"id": 4, "title": "Stocks close higher", "text": "Markets rallied."}\n', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = run_cli("classify", "--input", str(source), "--output", str(out))
    assert "line 2: skipped" in result.output and "line 3: skipped: no title or text" in result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == [1, 4]
    assert "prison_break" in rows[0]["labels"] and rows[1]["labels"] == []
    assert rows[1]["severity"] is None


def test_evaluate_prints_figures_and_misclassified_ids(run_cli, tmp_path):
    dataset = tmp_path / "eval.jsonl"
    items = [
        {"id": "a", "title": "Dozens of inmates escape after gunmen storm jail", "text": "", "label": "prison_break"},
        {"id": "b", "title": "Riot at city prison leaves three inmates dead", "text": "", "label": "riot_unrest"},
        {"id": "c", "title": "Central bank raises interest rates", "text": "", "label": "none"},
        {"id": "d", "title": "Quarterly sales beat forecasts", "text": "", "label": "prison_break"},
    ]
    dataset.write_text("\n".join(json.dumps(i) for i in items) + "\n{broken\n", encoding="utf-8")
    output = run_cli("evaluate", "--dataset", str(dataset)).output
    assert "incident (any of prison_break, attack_on_facility, riot_unrest vs not)" in output
    assert "missed       d" in output and "line 5: not JSON" in output
    figures = json.loads(run_cli("evaluate", "--dataset", str(dataset), "--json").output)
    assert figures["items"] == 4 and figures["incident"]["fn"] >= 1


def test_a_model_file_with_untrusted_types_is_refused(tmp_path):
    # A model file that would call an OS function when used: exactly what a tampered file looks like.
    path = tmp_path / "evil.skops"
    SignalClassifier(Pipeline([("call", FunctionTransformer(os.getcwd))]), {}, [], "x").to_file(path)
    with pytest.raises(ModelError, match="outside the trusted list"):
        SignalClassifier.from_file(path)


def test_a_model_that_does_not_match_its_card_is_refused(tmp_path):
    with pytest.raises(ModelError, match="does not match the sha256"):
        SignalClassifier.from_file(PACKAGED_MODEL, expected_sha256="0" * 64)


def test_polled_articles_are_classified_and_linked(run_cli, database_url, feeds_file, feed_server):
    from sqlmodel import Session, select

    from monitor.store.db import make_engine
    from monitor.store.schema import Article, Classification, Facility, FacilityMention

    feed_server.serve_file("/wire", "levant_wire.xml")
    run_cli("--feeds-file", str(feeds_file(("Wire", feed_server.url("/wire")))), "init")
    output = run_cli("poll").output
    assert "Classified and linked 3 articles." in output
    engine = make_engine(database_url)
    with Session(engine) as session:
        pending = session.exec(select(Article).where(Article.classified_at.is_(None))).all()
        attack = session.exec(select(Article).where(Article.title.like("Gunmen attack prison%"))).one()
        labels = session.exec(select(Classification.labels).where(Classification.article_id == attack.id)).one()
        linked = session.exec(select(Facility.slug).join(FacilityMention, FacilityMention.facility_id == Facility.id)
                              .where(FacilityMention.article_id == attack.id)).all()
    engine.dispose()
    assert pending == []
    assert "attack_on_facility" in labels or "prison_break" in labels
    assert "ghwayran-prison" in linked


def test_incident_and_conditions_labels_need_a_detention_place():
    from monitor.classify.rules import apply_label_rules

    city = {"title": "Missile strike on apartment block kills nine", "text": "Rescuers searched the rubble overnight."}
    prison = {"title": "Shells hit penal colony", "text": "Officials said 17 inmates were killed."}
    rescue = {"title": "Police free 30 people held by a cult leader", "text": "They had been locked in a farmhouse."}
    escape = {"title": "Two men escape from Kano prison", "text": "Guards noticed at the evening count."}
    airline = {"title": "Staff shortages ground flights", "text": "Overcrowding at check-in desks was reported."}
    custody = {"title": "Man dies in police custody", "text": "An inquiry has been opened."}
    assert apply_label_rules(city, ["attack_on_facility", "riot_unrest"]) == []
    assert apply_label_rules(prison, ["attack_on_facility"]) == ["attack_on_facility"]
    assert apply_label_rules(rescue, ["prison_break"]) == []
    assert apply_label_rules(escape, ["prison_break"]) == ["prison_break"]
    assert apply_label_rules(airline, ["conditions_alert"]) == []
    assert apply_label_rules(custody, ["conditions_alert"]) == ["conditions_alert"]


def test_sentences_a_scraper_glued_together_are_split_again():
    from monitor.classify.features import unglue_sentences
    from monitor.classify.rules import current_escape_evidence

    glued = "The jail was attacked in 2013.Hundreds of inmates escaped on Sunday, officials said."
    assert unglue_sentences(glued) == ("The jail was attacked in 2013. Hundreds of inmates escaped on Sunday, "
                                       "officials said.")
    # Glued to a sentence about 2013, the current escape used to be discarded as history.
    assert current_escape_evidence(glued, this_year=2026) == "Hundreds of inmates escaped on Sunday, officials said."
    assert unglue_sentences("The U.S. Army said so.") == "The U.S. Army said so."


def test_thresholds_come_from_the_smoothed_cross_validated_f1():
    import numpy as np

    from monitor.classify.train import THRESHOLD_GRID, smoothed_best_threshold

    truth = np.array([True] * 50 + [False] * 50)
    scores = np.concatenate([np.linspace(0.62, 0.95, 50), np.linspace(0.05, 0.38, 50)])
    cut = smoothed_best_threshold(truth, scores)
    assert cut in THRESHOLD_GRID and 0.38 < cut <= 0.62  # anywhere in the gap separates them perfectly
    # One positive far below the rest must not drag the threshold down to it.
    scores[0] = 0.2
    assert smoothed_best_threshold(truth, scores) > 0.38


def test_the_shipped_model_keeps_hard_negatives_out_of_incidents():
    from monitor.classify.model import load_packaged_model
    from monitor.store.schema import INCIDENT_LABELS

    model = load_packaged_model()
    negatives = [
        {"title": "Drone strike on Dnipro power plant causes blackouts", "text": "Repairs will take weeks."},
        {"title": "Anniversary of 1990s jailbreak marked with exhibition",
         "text": "Thirty years ago, eleven men tunnelled out of the city's old gaol."},
        {"title": "Two jailed for helping killer escape from prison van last year", "text": ""},
        {"title": "Man escapes hotel quarantine, fined", "text": "He climbed out of a window."},
    ]
    positives = [
        {"title": "Inmates escape from Kano prison after wall collapses", "text": ""},
        {"title": "", "text": "A convicted robber has absconded from an open prison in Kent, police said on Sunday."},
    ]
    for document, prediction in zip(negatives, model.predict(negatives)):
        assert not set(prediction.labels) & set(INCIDENT_LABELS), document["title"]
    for document, prediction in zip(positives, model.predict(positives)):
        assert "prison_break" in prediction.labels, document


def test_life_after_release_and_protests_inside_have_their_own_cues():
    from monitor.classify.features import CUE_FEATURE_NAMES, cue_features

    def cues(title: str, text: str = "") -> set[str]:
        row = cue_features([{"title": title, "text": text}]).toarray()[0]
        return {name for name, value in zip(CUE_FEATURE_NAMES, row) if value}

    # A manhunt for a man out of prison is a manhunt, not an escape from custody.
    after = cues("Manhunt for gunman who left prison on licence a week ago")
    assert "near_escape_after_release" in after and "near_escape_custody" not in after
    assert "near_escape_after_release" not in cues("Manhunt after two inmates escape from prison van")
    assert "near_riot_hunger_strike" in cues("Inmates stage rooftop protest over visits")


def test_the_shipped_model_tells_releases_and_fears_from_incidents():
    from monitor.classify.model import load_packaged_model
    from monitor.store.schema import INCIDENT_LABELS

    model = load_packaged_model()
    negatives = [
        {"title": "Police hunt man released from prison last week over pub stabbing",
         "text": "Officers said he should not be approached."},
        {"title": "", "text": "A prisoner who did not return to jail after a weekend of temporary release was "
                              "arrested at his brother's house, police said."},
        {"title": "Guards' union fears riots at overcrowded jail", "text": "No disorder has been reported."},
    ]
    positives = [
        ({"title": "Inmates stage rooftop protest at county jail", "text": "Three men threw tiles at officers below."},
         "riot_unrest"),
        ({"title": "Aunt of escaped inmate urges him to give himself up",
          "text": "He broke out of the regional jail on Tuesday."}, "prison_break"),
    ]
    for document, prediction in zip(negatives, model.predict(negatives)):
        assert not set(prediction.labels) & set(INCIDENT_LABELS), document
    for (document, label), prediction in zip(positives, model.predict([d for d, _ in positives])):
        assert label in prediction.labels, document
