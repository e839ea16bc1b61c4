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
from monitor.classify.model import PACKAGED_CARD, PACKAGED_MODEL, ModelError, SignalClassifier, load_packaged_model
from monitor.settings import Settings
from monitor.store.db import session_scope
from monitor.store.schema import ActivityLog, Article, Feedback, ModelVersion, utcnow


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


def load_active_classifier(engine: Optional[Engine], settings: Settings) -> SignalClassifier:
    """The classifier the pipeline should use now: model_path if set, else the active version, else packaged."""
    path, sha256 = active_model_file(engine, settings)
    return SignalClassifier.from_file(path, expected_sha256=sha256) if path else load_packaged_model()


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


def retrain_with_feedback(engine: Engine, settings: Settings, actor: str,
                          progress: Optional[Callable[[str], None]] = None,
                          corpus_dir: Optional[Path] = None) -> ModelVersion:
    """Train a new version on the corpus plus feedback and register it, inactive, for an admin to compare."""
    from monitor.classify.train import train, write_model

    if corpus_dir is None and settings.corpus_dir:
        corpus_dir = Path(settings.corpus_dir)
    with Session(engine) as session:
        extra = feedback_examples(session)
    if not extra:
        raise RegistryError("there is no analyst feedback yet: confirm or dismiss some alerts first")
    result = train(corpus_dir, progress=progress, extra_examples=extra)
    store_dir = Path(settings.model_store_dir)
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
            SignalClassifier.from_file(Path(row.path), expected_sha256=row.sha256)
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
