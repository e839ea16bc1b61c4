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

    settings_flags = ["--set", f"model_store_dir={tmp_path / 'models'}", "--set", "retrain_encoder=false"]
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


def _feedback_on_demo_alerts(run_cli, engine) -> None:
    run_cli("demo")
    with Session(engine) as session:
        alerts = session.exec(select(Alert).order_by(Alert.id)).all()
    run_cli("alerts", "set-status", str(alerts[0].id), "confirmed", "--as", "amina")
    run_cli("alerts", "set-status", str(alerts[1].id), "dismissed", "--as", "amina")


def test_a_retrain_request_is_queued_once_and_the_worker_job_runs_it(run_cli, initialised, engine, tmp_path,
                                                                     database_url):
    from monitor import worker
    from monitor.store.db import session_scope
    from monitor.store.schema import RetrainRequest

    with pytest.raises(registry.RegistryError, match="no analyst feedback"):
        with session_scope(engine) as session:
            registry.request_retrain(session, "adam")
    _feedback_on_demo_alerts(run_cli, engine)
    with session_scope(engine) as session:
        registry.request_retrain(session, "adam")
    with pytest.raises(registry.RegistryError, match="already queued"):
        with session_scope(engine) as session:
            registry.request_retrain(session, "ana")

    settings = load_settings(flags={"database_url": database_url, "model_store_dir": str(tmp_path / "models"),
                                    "corpus_dir": str(small_corpus(tmp_path / "corpus")),
                                    "retrain_encoder": "false"})
    worker._context = worker.WorkerContext(settings=settings, engine=engine, stopping=__import__("threading").Event())
    try:
        worker.retrain_job()  # what the worker's scheduler runs every retrain_check_seconds
        worker.retrain_job()  # nothing left to do
    finally:
        worker._context = None
    with Session(engine) as session:
        requests = registry.retrain_requests(session)
        versions = {v.version: v for v in registry.versions(session)}
    assert len(requests) == 1 and requests[0].state == "done" and requests[0].worker == worker.worker_identity()
    assert requests[0].version in versions and not versions[requests[0].version].active
    assert versions[requests[0].version].trained_by == "adam" and requests[0].finished_at >= requests[0].started_at

    with session_scope(engine) as session:  # a request whose training fails is recorded as failed
        registry.request_retrain(session, "adam")
    broken = load_settings(flags={"database_url": database_url, "model_store_dir": str(tmp_path / "models"),
                                  "corpus_dir": str(tmp_path / "empty"), "retrain_encoder": "false"})
    (tmp_path / "empty").mkdir()
    request_id = registry.claim_retrain_request(engine, "test:1")
    assert registry.claim_retrain_request(engine, "test:2") is None  # taken: nobody else runs it
    row = registry.run_retrain_request(engine, broken, request_id)
    assert row.state == "failed" and "no *.jsonl files" in row.message

    with session_scope(engine) as session:  # a worker killed mid-training leaves its request running
        session.add(RetrainRequest(requested_by="adam", state="running", worker="gone-host:1"))
    assert registry.fail_abandoned_requests(engine, lambda w: w == "gone-host:1") == 1
    with Session(engine) as session:
        assert registry.retrain_requests(session)[0].state == "failed"
    assert worker._gone_from_this_host(worker.worker_identity()) is False


def test_a_retrain_with_the_encoder_writes_two_stages_that_load_and_activate(run_cli, initialised, engine,
                                                                            tmp_path, database_url):
    pytest.importorskip("torch", reason="the train extra is not installed")
    if not database_url.startswith("sqlite"):
        pytest.skip("training is the same on either store; once is enough")
    from monitor.classify.encoder_train import EncoderTrainingConfig
    from monitor.classify.two_stage import TwoStageClassifier
    from monitor.store.db import session_scope

    _feedback_on_demo_alerts(run_cli, engine)
    settings = load_settings(flags={"database_url": database_url, "model_store_dir": str(tmp_path / "models"),
                                    "corpus_dir": str(small_corpus(tmp_path / "corpus", per_file=12))})
    tiny = EncoderTrainingConfig(epochs=1, batch_size=8, max_tokens=32, max_steps=1, threads=1)
    row = registry.retrain_with_feedback(engine, settings, "adam", encoder_config=tiny)
    card = row.card
    assert card["encoder"]["quantized"] and card["encoder"]["onnx"].endswith(".onnx")
    folder = Path(row.path).parent
    from monitor.classify.encoder import file_sha256

    assert file_sha256(folder / card["encoder"]["onnx"]) == card["encoder"]["onnx_sha256"]
    assert not list(folder.glob("*.pkl")) and not list(folder.glob("*.pt"))
    holdout = card["holdout"]
    assert holdout["used_for_choosing"] and holdout["items"] > 0
    assert set(card["combination"]["thresholds"]) == set(card["labels"])
    with session_scope(engine) as session:
        registry.activate_version(session, row.version, "adam")
    classifier = registry.load_active_classifier(engine, settings)
    assert isinstance(classifier, TwoStageClassifier) and classifier.version == row.version
    predictions = classifier.predict([{"title": "Inmates escape from the central prison", "text": ""},
                                      {"title": "", "text": ""}])
    assert len(predictions) == 2 and set(predictions[0].scores) == set(card["labels"])
