"""Model versions: the packaged model, models retrained with analysts' feedback, and which one is active.

Every version stays on disk and in the `modelversion` table, so an admin can switch back to any of them.
The `model_path` setting, when set, overrides all of this (an operator pinning a file by hand).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from monitor.classify.corpus import CorpusExample
from monitor.classify.model import PACKAGED_CARD, PACKAGED_MODEL, ModelError, load_model, load_packaged_model
from monitor.settings import Settings
from monitor.store.db import session_scope
from monitor.store.schema import ActivityLog, Article, Feedback, ModelVersion, RetrainRequest, utcnow


class RegistryError(ValueError):
    pass


@dataclass(frozen=True)
class FeedbackCounts:
    confirmed: int
    dismissed: int
    relabelled: int
    articles: int  # distinct articles with a verdict: what a retrain would add to the corpus


def packaged_card() -> dict:
    return json.loads(PACKAGED_CARD.read_text(encoding="utf-8")) if PACKAGED_CARD.is_file() else {}


def register_packaged_model(session: Session) -> ModelVersion:
    """Record the model shipped in models/; it is active unless an admin activated another version."""
    card = packaged_card()
    version = card.get("version") or "packaged"
    row = session.exec(select(ModelVersion).where(ModelVersion.version == version)).first()
    if row is None:
        row = ModelVersion(version=version, sha256=card.get("sha256", ""), path=str(PACKAGED_MODEL), card=card,
                           origin="packaged")
        session.add(row)
        session.flush()
    if session.exec(select(ModelVersion.id).where(ModelVersion.active == True)).first() is None:  # noqa: E712
        row.active = True
        row.activated_by = "monitor init"
        row.activated_at = utcnow()
    return row


def versions(session: Session) -> list[ModelVersion]:
    return list(session.exec(select(ModelVersion).order_by(ModelVersion.created_at.desc(), ModelVersion.id.desc())))


def active_version(session: Session) -> Optional[ModelVersion]:
    return session.exec(select(ModelVersion).where(ModelVersion.active == True)).first()  # noqa: E712


def active_model_file(engine: Optional[Engine], settings: Settings) -> tuple[Optional[Path], Optional[str]]:
    """(file, expected sha256) the pipeline should load now; (None, None) means the packaged model.

    Precedence: the model_path setting (an operator pinning a file), then the active retrained version.
    """
    if settings.model_path:
        return Path(settings.model_path), None
    if engine is not None:
        with Session(engine) as session:
            active = active_version(session)
        if active is not None and active.origin != "packaged":
            return Path(active.path), active.sha256
    return None, None


def load_active_classifier(engine: Optional[Engine], settings: Settings):
    """The classifier the pipeline should use now: model_path if set, else the active version, else packaged.

    Two stages when the version's card names an encoder (see monitor.classify.model.load_model).
    """
    path, sha256 = active_model_file(engine, settings)
    return load_model(path, expected_sha256=sha256) if path else load_packaged_model()


def feedback_counts(session: Session) -> FeedbackCounts:
    rows = list(session.exec(select(Feedback.verdict, Feedback.article_id)))
    return FeedbackCounts(
        confirmed=sum(1 for verdict, _ in rows if verdict == "confirmed"),
        dismissed=sum(1 for verdict, _ in rows if verdict == "dismissed"),
        relabelled=sum(1 for verdict, _ in rows if verdict == "relabelled"),
        articles=len({article_id for _, article_id in rows if article_id is not None}),
    )


def feedback_examples(session: Session) -> list[CorpusExample]:
    """Analysts' verdicts as training examples; the latest verdict on an article wins."""
    latest: dict[int, Feedback] = {}
    for feedback in session.exec(select(Feedback).where(Feedback.article_id.is_not(None))
                                 .order_by(Feedback.created_at, Feedback.id)):
        latest[feedback.article_id] = feedback
    if not latest:
        return []
    articles = {a.id: a for a in session.exec(select(Article).where(Article.id.in_(list(latest))))}
    examples = []
    for article_id, feedback in sorted(latest.items()):
        article = articles.get(article_id)
        if article is None:
            continue
        text = "\n".join(part for part in (article.title.strip(), article.summary.strip()) if part)
        if not text:
            continue
        language = article.language if article.language in ("en", "ar", "fr") else "en"
        labels = tuple(feedback.labels) if feedback.verdict != "dismissed" else ()
        examples.append(CorpusExample(id=f"feedback-{feedback.id}", text=text, labels=labels, language=language,
                                      style="rss", source_file="analyst feedback"))
    return examples


def _training_data_key(corpus_dir: Optional[Path], extra: list[CorpusExample]) -> str:
    import hashlib

    from monitor.classify.corpus import CORPUS_DIR, corpus_hash

    digest = hashlib.sha256(corpus_hash(corpus_dir or CORPUS_DIR).encode())
    for example in extra:
        digest.update(json.dumps([example.text, sorted(example.labels)], ensure_ascii=False).encode())
    return digest.hexdigest()[:16]


def retrain_with_feedback(engine: Engine, settings: Settings, actor: str,
                          progress: Optional[Callable[[str], None]] = None,
                          corpus_dir: Optional[Path] = None, encoder: Optional[bool] = None,
                          encoder_config=None, show_progress: bool = False) -> ModelVersion:
    """Train a new version on the corpus plus feedback and register it, inactive, for an admin to compare.

    With `encoder` (default: the retrain_encoder setting) both stages are trained, as `monitor train`
    does; that fine-tunes MiniLM and needs the train extra. Without, only the first stage.
    """
    from monitor.classify.train import train, train_two_stage, write_model, write_two_stage

    if corpus_dir is None and settings.corpus_dir:
        corpus_dir = Path(settings.corpus_dir)
    if encoder is None:
        encoder = settings.retrain_encoder
    with Session(engine) as session:
        extra = feedback_examples(session)
    if not extra:
        raise RegistryError("there is no analyst feedback yet: confirm or dismiss some alerts first")
    store_dir = Path(settings.model_store_dir)
    if encoder:
        from monitor.classify.encoder_train import EncoderTrainingError

        # One work folder per training data: a request that died mid-training resumes from its checkpoint,
        # and new feedback starts afresh instead of meeting a checkpoint of other data.
        work_dir = store_dir / "training" / _training_data_key(corpus_dir, extra)
        try:
            result = train_two_stage(corpus_dir, progress=progress, extra_examples=extra, work_dir=work_dir,
                                     resume=True, encoder_config=encoder_config, show_progress=show_progress)
        except EncoderTrainingError as exc:
            raise RegistryError(str(exc)) from None
        version = result.card["version"]
        model_path = (store_dir / f"classifier-{version}.skops").resolve()
        card = write_two_stage(result, model_path, model_path.with_suffix(".card.json"))
        import shutil

        shutil.rmtree(work_dir, ignore_errors=True)  # checkpoints are hundreds of MB; the version is written
    else:
        result = train(corpus_dir, progress=progress, extra_examples=extra)
        version = result.card["version"]
        model_path = (store_dir / f"classifier-{version}.skops").resolve()
        card = write_model(result, model_path, model_path.with_suffix(".card.json"))
    card["feedback_examples"] = len(extra)
    with session_scope(engine) as session:
        row = ModelVersion(version=version, sha256=card["sha256"], path=str(model_path), card=card,
                           origin="retrained", trained_by=actor)
        session.add(row)
        session.add(ActivityLog(actor=actor, action="model.train", target=version,
                                detail=f"corpus + {len(extra)} feedback example(s)"))
        session.flush()
        session.expunge(row)
    return row


def activate_version(session: Session, version: str, actor: str) -> ModelVersion:
    row = session.exec(select(ModelVersion).where(ModelVersion.version == version)).first()
    if row is None:
        raise RegistryError(f"no model version {version!r}")
    if row.origin != "packaged":
        try:  # never activate a file that would not load: the worker would stop classifying
            load_model(Path(row.path), expected_sha256=row.sha256)
        except ModelError as exc:
            raise RegistryError(f"version {version} cannot be activated: {exc}") from None
    previous = active_version(session)
    for other in session.exec(select(ModelVersion).where(ModelVersion.active == True)):  # noqa: E712
        other.active = False
    row.active = True
    row.activated_by = actor
    row.activated_at = utcnow()
    session.add(ActivityLog(actor=actor, action="model.activate", target=version,
                            detail=f"replacing {previous.version}" if previous and previous.id != row.id else ""))
    return row


# --- Retrain requests: the dashboard queues one, the worker's retrain job runs it -----------------------

def request_retrain(session: Session, actor: str) -> RetrainRequest:
    """Queue a retrain with feedback; at most one request waits or runs at a time."""
    pending = session.exec(select(RetrainRequest).where(RetrainRequest.state.in_(("queued", "running")))).first()
    if pending is not None:
        raise RegistryError(f"a retrain is already {pending.state} (requested by {pending.requested_by} at "
                            f"{pending.requested_at:%Y-%m-%d %H:%M} UTC)")
    if feedback_counts(session).articles == 0:
        raise RegistryError("there is no analyst feedback yet: confirm or dismiss some alerts first")
    row = RetrainRequest(requested_by=actor)
    session.add(row)
    session.add(ActivityLog(actor=actor, action="model.retrain_requested", target="", detail=""))
    session.flush()
    return row


def retrain_requests(session: Session, limit: int = 10) -> list[RetrainRequest]:
    return list(session.exec(select(RetrainRequest).order_by(RetrainRequest.id.desc()).limit(limit)))


def claim_retrain_request(engine: Engine, worker: str) -> Optional[int]:
    """Mark the oldest queued request running for `worker`; None when nothing waits (or another took it)."""
    from sqlalchemy import update

    with Session(engine) as session:
        request_id = session.exec(select(RetrainRequest.id).where(RetrainRequest.state == "queued")
                                  .order_by(RetrainRequest.id).limit(1)).first()
    if request_id is None:
        return None
    with session_scope(engine) as session:
        # Conditional on the state, so two workers never both take it (SQLite has no SKIP LOCKED).
        claimed = session.execute(update(RetrainRequest)
                                  .where(RetrainRequest.id == request_id, RetrainRequest.state == "queued")
                                  .values(state="running", started_at=utcnow(), worker=worker, message="starting"))
        return request_id if claimed.rowcount == 1 else None


def _update_request(engine: Engine, request_id: int, **values) -> None:
    with session_scope(engine) as session:
        row = session.get(RetrainRequest, request_id)
        for key, value in values.items():
            setattr(row, key, value)


def run_retrain_request(engine: Engine, settings: Settings, request_id: int, encoder_config=None) -> RetrainRequest:
    """Train for a claimed request, recording progress, then done (with the version) or failed (with why)."""
    with Session(engine) as session:
        actor = session.get(RetrainRequest, request_id).requested_by

    def progress(message: str) -> None:
        _update_request(engine, request_id, message=message[:2000])

    try:
        version = retrain_with_feedback(engine, settings, actor, progress=progress, encoder_config=encoder_config)
    except (RegistryError, ModelError, OSError, ValueError) as exc:
        _update_request(engine, request_id, state="failed", finished_at=utcnow(), message=str(exc)[:2000])
    except Exception as exc:  # the worker must record any failure, then keep running its other jobs
        _update_request(engine, request_id, state="failed", finished_at=utcnow(),
                        message=f"{type(exc).__name__}: {exc}"[:2000])
        raise
    else:
        _update_request(engine, request_id, state="done", finished_at=utcnow(), version=version.version,
                        message=f"trained {version.version}; compare and activate it on the Model page")
    with Session(engine) as session:
        row = session.get(RetrainRequest, request_id)
        session.expunge(row)
    return row


def fail_abandoned_requests(engine: Engine, abandoned: Callable[[str], bool]) -> int:
    """Requests left running by a worker that is gone (`abandoned(worker)` says so) are marked failed."""
    with session_scope(engine) as session:
        rows = [row for row in session.exec(select(RetrainRequest).where(RetrainRequest.state == "running"))
                if abandoned(row.worker or "")]
        for row in rows:
            row.state, row.finished_at = "failed", utcnow()
            row.message = "the worker stopped while training; request again (training resumes from its checkpoint)"
        return len(rows)
