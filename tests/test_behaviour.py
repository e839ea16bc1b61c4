"""The behavioural suite (tests/behaviour) against the shipped model, and the runner on tiny fixtures."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from monitor.classify.checks import (
    CASE_TYPES,
    DEFAULT_CHECKS_DIR,
    LANGUAGES,
    BehaviourAnalyser,
    Case,
    CheckFileError,
    Observed,
    check_behaviour,
    format_report,
    judge,
    load_cases,
    load_floors,
    run_checks,
)
from monitor.classify.corpus import CORPUS_DIR
from monitor.classify.model import load_packaged_model
from monitor.cli import cli
from monitor.store.schema import LABELS

REQUIRED_REGIONS = {"syria_iraq", "sahel_lake_chad", "drc", "haiti", "latin_america", "south_asia", "europe", "us"}
RSS_SHAPES = {"headline", "headline_line", "flash", "lede"}
DIRECTION_CAPABILITIES = {"past_year", "decade_after", "sentenced_for", "fiction", "refugee_camp",
                          "escaped_sentence", "gunmen_stormed"}
INVARIANCE_CAPABILITIES = {"swap_facility", "swap_place", "swap_outlet", "swap_numbers"}


@pytest.fixture(scope="module")
def classifier():
    return load_packaged_model()


@pytest.fixture(scope="module")
def analyser(classifier):
    return BehaviourAnalyser(classifier)


@pytest.fixture(scope="module")
def suite_report(classifier):
    return check_behaviour(classifier, DEFAULT_CHECKS_DIR)


# -- the suite itself --------------------------------------------------------------------------------

def test_shipped_model_meets_every_floor(suite_report):
    below = {name: f"{figures.passed}/{figures.cases} = {figures.rate:.2f} < floor {figures.floor:.2f} "
                   f"(failing: {', '.join(figures.failing)})"
             for name, figures in suite_report.capabilities.items() if figures.below_floor}
    assert not below, "capabilities below their floor:\n" + "\n".join(f"{k}: {v}" for k, v in below.items())


def test_every_capability_has_a_floor_and_every_floor_has_cases(suite_report):
    floors = load_floors(DEFAULT_CHECKS_DIR)
    assert set(floors) == set(suite_report.capabilities)
    # Floors are honest measurements of today's model, not placeholders.
    assert all(0 < rate < 1 for rate in floors.values())


def test_suite_covers_labels_shapes_regions_languages_and_edits():
    cases = load_cases(DEFAULT_CHECKS_DIR)
    assert len(cases) >= 450
    mft = [case for case in cases if case.type == "mft"]
    for label in (*LABELS, "none"):
        of_label = [case for case in mft if case.capability == label]
        assert len(of_label) >= 30, label
        assert {case.language for case in of_label} == set(LANGUAGES), label
        assert RSS_SHAPES <= {case.shape for case in of_label}, label
    assert REQUIRED_REGIONS <= {case.region for case in mft}
    assert {case.type for case in cases} == set(CASE_TYPES)
    capabilities = {case.capability for case in cases}
    assert DIRECTION_CAPABILITIES | INVARIANCE_CAPABILITIES <= capabilities
    # Militants capturing prisons and freeing detainees count as prison_break (issue 12).
    freeing = [case for case in mft if case.capability == "prison_break"
               and re.search(r"\bfre(e|es|eing|ed)\b|release|open(s|ed)? (the )?(prison )?gates|libèr|سراح|يحررون",
                             case.docs[0]["title"] + " " + case.docs[0]["text"], re.IGNORECASE)]
    assert len(freeing) >= 10


def _normalised(text: str) -> str:
    return re.sub(r"\W+", " ", text).strip().lower()


def test_cases_are_not_in_the_corpus():
    """The suite is only worth something while no model has trained on it."""
    corpus_texts = []
    for path in sorted(Path(CORPUS_DIR).glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                corpus_texts.append(_normalised(json.loads(line).get("text", "")))
    corpus = "\n".join(corpus_texts)
    overlapping = []
    for case in load_cases(DEFAULT_CHECKS_DIR):
        for doc in case.docs:
            for part in (doc["title"], doc["text"]):
                needle = _normalised(part)
                if len(needle) >= 40 and needle in corpus:
                    overlapping.append(case.id)
    assert not overlapping, f"cases whose text is also in the corpus: {sorted(set(overlapping))}"


def test_table_lists_every_capability(suite_report):
    table = format_report(suite_report, show_failures=False)
    for name in suite_report.capabilities:
        assert re.search(rf"^{name}\s+(mft|inv|dir)\s+\d+\s+\d+\s+[01]\.\d\d", table, re.MULTILINE), name
    assert f"{suite_report.passed}/{suite_report.cases} cases pass" in table


# -- the runner on tiny fixtures ---------------------------------------------------------------------

def _line(**fields) -> str:
    base = {"id": "c1", "type": "mft", "capability": "prison_break", "language": "en", "shape": "headline",
            "region": "us", "doc": {"title": "Two inmates escape county jail"},
            "expect": {"includes": ["prison_break"]}}
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not None})


def test_bad_lines_are_all_reported_with_file_and_line(tmp_path):
    good = _line(id="ok")
    (tmp_path / "a.jsonl").write_text("\n".join([
        good,
        "{not json",
        _line(id="t", type="mft2"),
        _line(id="l", expect={"includes": ["jailbreak"]}),
        "",
        _line(id="e", expect=None),
        _line(id="d", doc={"title": "  "}),
        _line(id="i", type="inv", doc=None, docs=[{"title": "only one"}], expect={"same": "labels"}),
        _line(id="x", type="dir", doc=None, base={"title": "a"}, variant={"title": "b"}, expect={"base": {}}),
        _line(id="g", language="de"),
    ]) + "\n", encoding="utf-8")
    (tmp_path / "b.jsonl").write_text(_line(id="ok") + "\n", encoding="utf-8")
    with pytest.raises(CheckFileError) as caught:
        load_cases(tmp_path)
    message = str(caught.value)
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert f"{a}:2: not JSON" in message
    assert f"{a}:3: type must be one of mft, inv, dir, got 'mft2'" in message
    assert f"{a}:4: expect.includes: unknown label(s) ['jailbreak']" in message
    assert f"{a}:6: missing 'expect' object" in message
    assert f"{a}:7: doc has no title or text" in message
    assert f"{a}:8: an inv case needs 'docs': a list of at least two items" in message
    assert f"{a}:9: a dir expect is" in message
    assert f"{a}:10: language must be one of en, fr, ar, got 'de'" in message
    assert f"{b}:1: id 'ok' is also used at {a}:1" in message
    assert message.startswith("9 unusable line(s)")


def test_missing_folder_and_empty_folder_are_clear_errors(tmp_path):
    with pytest.raises(CheckFileError, match="no such folder"):
        load_cases(tmp_path / "nowhere")
    with pytest.raises(CheckFileError, match=r"no \*\.jsonl case files"):
        load_cases(tmp_path)


def test_bad_floors_file_is_a_clear_error(tmp_path):
    (tmp_path / "floors.json").write_text('{"floors": {"prison_break": 1.5}}', encoding="utf-8")
    with pytest.raises(CheckFileError, match="floors.json"):
        load_floors(tmp_path)
    (tmp_path / "floors.json").write_text('{"floors": {"prison_break": 0.5}}', encoding="utf-8")
    assert load_floors(tmp_path) == {"prison_break": 0.5}


def _case(kind: str, expect: dict, items: int) -> Case:
    return Case("k", kind, "cap", "", "en", "headline", "us", [{"title": "t", "text": ""}] * items, expect, "f:1")


def _seen(*labels: str, primary: str | None = None) -> Observed:
    return Observed(list(labels), {}, primary)


def test_mft_expectations():
    case = _case("mft", {"includes": ["prison_break"], "excludes": ["riot_unrest"]}, 1)
    assert judge(case, [_seen("prison_break", "resurgence_signal")]) == (True, "")
    passed, reason = judge(case, [_seen("prison_break", "riot_unrest")])
    assert not passed and "excludes riot_unrest" in reason
    none_case = _case("mft", {"labels": []}, 1)
    assert judge(none_case, [_seen()])[0]
    assert not judge(none_case, [_seen("conditions_alert")])[0]
    incident_case = _case("mft", {"incident": False}, 1)
    assert judge(incident_case, [_seen("conditions_alert")])[0]
    assert not judge(incident_case, [_seen("attack_on_facility")])[0]
    linked = _case("mft", {"primary": "ghwayran-prison"}, 1)
    assert judge(linked, [_seen(primary="ghwayran-prison")])[0]
    assert not judge(linked, [_seen(primary="panorama-prison")])[0]


def test_inv_needs_the_same_aspect_on_every_item():
    same_labels = _case("inv", {"same": "labels"}, 3)
    assert judge(same_labels, [_seen("prison_break")] * 3)[0]
    passed, reason = judge(same_labels, [_seen("prison_break"), _seen("prison_break", "resurgence_signal"),
                                         _seen("prison_break")])
    assert not passed and reason.startswith("labels differ")
    # Consistently none is consistent: invariance says nothing about correctness unless `each` does.
    assert judge(same_labels, [_seen()] * 3)[0]
    same_incident = _case("inv", {"same": "incident_labels"}, 2)
    assert judge(same_incident, [_seen("riot_unrest", "conditions_alert"), _seen("riot_unrest")])[0]
    with_each = _case("inv", {"same": "primary", "each": {"primary": "roj-camp"}}, 2)
    assert not judge(with_each, [_seen(primary="al-hol-camp")] * 2)[0]
    assert judge(with_each, [_seen(primary="roj-camp")] * 2)[0]


def test_dir_passes_only_when_the_edit_flips_the_prediction():
    case = _case("dir", {"base": {"includes": ["prison_break"]}, "variant": {"incident": False}}, 2)
    assert judge(case, [_seen("prison_break"), _seen()]) == (True, "")
    passed, reason = judge(case, [_seen("prison_break"), _seen("prison_break")])
    assert not passed and reason.startswith("variant did not move")
    passed, reason = judge(case, [_seen(), _seen()])
    assert not passed and "nothing to flip" in reason
    toward = _case("dir", {"base": {"incident": False}, "variant": {"incident": True}}, 2)
    assert judge(toward, [_seen(), _seen("attack_on_facility")])[0]
    assert not judge(toward, [_seen(), _seen("resurgence_signal")])[0]


def test_run_checks_on_a_tiny_fixture_through_the_real_model(tmp_path, analyser):
    lines = [
        _line(id="pb", doc={"title": "Dozens of inmates escape Makala central prison in Kinshasa"},
              expect={"includes": ["prison_break"], "primary": "makala-central-prison"}),
        _line(id="no", capability="none", doc={"title": "Punk band announces reunion tour"}, expect={"labels": []}),
        _line(id="inv", type="inv", capability="swap_outlet", doc=None,
              docs=[{"title": "Inmates escape county jail - KTLA"}, {"title": "Inmates escape county jail - WSB"}],
              expect={"same": "labels"}),
        _line(id="dir", type="dir", capability="gunmen_stormed", doc=None,
              base={"title": "County approves budget for jail repairs", "text": "Commissioners voted 4-1."},
              variant={"title": "Gunmen stormed the county jail, freeing inmates"},
              expect={"base": {"incident": False}, "variant": {"incident": True}}),
        # Deliberately wrong: a sentencing headline cannot be a prison break; the runner must count it failed.
        _line(id="wrong", capability="none", doc={"title": "Man sentenced to 25 years for robbery"},
              expect={"includes": ["prison_break"]}),
    ]
    (tmp_path / "cases.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = run_checks(load_cases(tmp_path), analyser, {"none": 0.9})
    outcome = {result.case.id: result.passed for result in report.results}
    assert outcome == {"pb": True, "no": True, "inv": True, "dir": True, "wrong": False}
    none_row = report.capabilities["none"]
    assert (none_row.cases, none_row.passed, none_row.failing) == (2, 1, ["wrong"])
    assert none_row.below_floor and report.below_floor == ["none"]
    assert list(report.capabilities) == ["none", "prison_break", "swap_outlet", "gunmen_stormed"]
    assert report.by_language == {"en": (4, 5)}
    as_dict = report.as_dict(with_results=True)
    assert as_dict["cases"] == 5 and as_dict["passed"] == 4
    assert as_dict["results"][0]["observed"][0]["primary"] == "makala-central-prison"


def test_unknown_facility_slug_is_a_clear_error(tmp_path, analyser):
    (tmp_path / "cases.jsonl").write_text(_line(expect={"primary": "no-such-prison"}) + "\n", encoding="utf-8")
    with pytest.raises(CheckFileError, match=r"cases.jsonl:1: primary 'no-such-prison' is not a bundled"):
        run_checks(load_cases(tmp_path), analyser)


# -- the command ---------------------------------------------------------------------------------------

def test_evaluate_checks_command_prints_the_table_and_json(tmp_path):
    from click.testing import CliRunner

    (tmp_path / "cases.jsonl").write_text("\n".join([
        _line(id="pb", doc={"title": "Two inmates escape county jail in Ohio"}),
        _line(id="wrong", capability="none", doc={"title": "Man sentenced to 25 years for robbery"},
              expect={"includes": ["prison_break"]}),
    ]) + "\n", encoding="utf-8")
    (tmp_path / "floors.json").write_text('{"floors": {"prison_break": 0.9, "none": 0.5}}', encoding="utf-8")
    runner = CliRunner()
    database = f"sqlite:///{tmp_path / 'unused.db'}"
    result = runner.invoke(cli, ["--database-url", database, "evaluate", "--checks", str(tmp_path)])
    assert result.exit_code == 1, result.output  # `none` is below its floor
    assert re.search(r"^prison_break\s+mft\s+1\s+1\s+1\.00\s+0\.90", result.output, re.MULTILINE)
    assert re.search(r"^none\s+mft\s+1\s+0\s+0\.00\s+0\.50\s+BELOW FLOOR", result.output, re.MULTILINE)
    assert "wrong" in result.output
    result = runner.invoke(cli, ["--database-url", database, "evaluate", "--checks", str(tmp_path), "--json"])
    payload = json.loads(result.output)
    assert payload["capabilities"]["none"]["failing"] == ["wrong"]
    assert payload["below_floor"] == ["none"]
    assert not (tmp_path / "unused.db").exists()  # evaluating never creates a store


def test_evaluate_checks_reports_bad_lines(tmp_path):
    from click.testing import CliRunner

    (tmp_path / "cases.jsonl").write_text("{oops\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["--database-url", f"sqlite:///{tmp_path / 'x.db'}", "evaluate",
                                      "--checks", str(tmp_path)])
    assert result.exit_code == 1
    assert f"{tmp_path / 'cases.jsonl'}:1: not JSON" in result.output


def test_evaluate_needs_a_dataset_or_checks(tmp_path):
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, ["--database-url", f"sqlite:///{tmp_path / 'x.db'}", "evaluate"])
    assert result.exit_code == 2
    assert "--dataset" in result.output and "--checks" in result.output
