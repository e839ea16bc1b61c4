"""Model versions: the packaged model is recorded, a retrain learns from analysts' feedback, admins switch
versions and can roll back, and the pipeline classifies with whichever version is active."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select

from monitor.classify import registry
from monitor.classify.corpus import CORPUS_DIR
from monitor.classify.model import PACKAGED_MODEL
from monitor.settings import load_settings
from monitor.store.schema import ActivityLog, Alert, ModelVersion

pytestmark = pytest.mark.skipif(not PACKAGED_MODEL.is_file(), reason="no trained model in models/")


def small_corpus(folder: Path, per_file: int = 45) -> Path:
    """The first examples of every corpus file: enough to train on in seconds."""
    folder.mkdir()
    for path in sorted(CORPUS_DIR.glob("*.jsonl")):
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()][:per_file]
        (folder / path.name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def test_init_records_the_packaged_model_as_active(run_cli, initialised, engine):
    run_cli("init")  # twice: still one row
    with Session(engine) as session:
        rows = session.exec(select(ModelVersion)).all()
    assert len(rows) == 1 and rows[0].active and rows[0].origin == "packaged"
    assert rows[0].sha256 and rows[0].card["version"] == rows[0].version
    assert "* " + rows[0].version in run_cli("models", "list").output


def test_retrain_with_feedback_then_activate_and_roll_back(run_cli, initialised, engine, tmp_path, database_url):
    if not database_url.startswith("sqlite"):
        pytest.skip("training is the same on either store; once is enough")
    assert "no analyst feedback yet" in run_cli("models", "retrain", expect=1).output
    run_cli("demo")
    with Session(engine) as session:
        alerts = session.exec(select(Alert).order_by(Alert.id)).all()
    run_cli("alerts", "set-status", str(alerts[0].id), "confirmed", "--as", "amina")
    run_cli("alerts", "set-status", str(alerts[1].id), "dismissed", "--as", "amina")
    with Session(engine) as session:
        examples = registry.feedback_examples(session)
    assert any(ex.labels == () for ex in examples) and any(ex.labels for ex in examples)

    settings_flags = ["--set", f"model_store_dir={tmp_path / 'models'}"]
    output = run_cli(*settings_flags, "models", "retrain", "--corpus", str(small_corpus(tmp_path / "corpus"))).output
    assert "Trained " in output
    with Session(engine) as session:
        packaged = session.exec(select(ModelVersion).where(ModelVersion.origin == "packaged")).one()
        retrained = session.exec(select(ModelVersion).where(ModelVersion.origin == "retrained")).one()
    assert packaged.active and not retrained.active  # a retrain never switches by itself
    assert Path(retrained.path).is_file() and retrained.card["feedback_examples"] == len(examples)

    run_cli("models", "activate", retrained.version)
    settings = load_settings(flags={"database_url": database_url})
    assert registry.load_active_classifier(engine, settings).version == retrained.version
    from monitor.flow import load_classifier

    assert load_classifier(engine, settings).version == retrained.version  # what the worker polls with
    classified = run_cli("classify", input='{"id": "a", "title": "Inmates escape", "text": "Inmates escaped."}\n')
    assert classified.output.strip()  # the active retrained model serves the pipeline's classify path

    run_cli("models", "activate", packaged.version)  # roll back
    assert registry.load_active_classifier(engine, settings).version == packaged.version
    assert load_classifier(engine, settings).version == packaged.version
    with Session(engine) as session:
        log = session.exec(select(ActivityLog.action, ActivityLog.target).where(ActivityLog.action.startswith("model."))
                           .order_by(ActivityLog.id)).all()
    assert log == [("model.train", retrained.version), ("model.activate", retrained.version),
                   ("model.activate", packaged.version)]
    assert "no model version 'nope'" in run_cli("models", "activate", "nope", expect=1).output


def test_model_path_setting_pins_a_file_over_the_active_version(run_cli, initialised, engine, tmp_path):
    settings = load_settings(flags={"database_url": initialised, "model_path": str(PACKAGED_MODEL)})
    assert registry.load_active_classifier(engine, settings).version
    listing = run_cli("--set", f"model_path={PACKAGED_MODEL}", "models", "list").output
    assert "model_path setting pins" in listing
