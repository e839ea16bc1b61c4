"""Read-side queries about alerts shared by the command line, the dashboard, mail and reports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from sqlmodel import Session, select

from monitor.store.schema import Alert, AlertArticle, AlertStatusChange, Article
from monitor.vocabulary import at_or_above


class AlertNotFound(LookupError):
    def __init__(self, alert_id: int):
        super().__init__(f"no alert #{alert_id}")
        self.alert_id = alert_id


def articles_of_alert(session: Session, alert_id: int, *, newest_first: bool = False,
                      limit: Optional[int] = None) -> list[Article]:
    """The articles that make up an alert, in the order they were first seen (or newest first)."""
    order = (Article.published_at.desc(), Article.id.desc()) if newest_first else (Article.first_seen_at, Article.id)
    query = (select(Article).join(AlertArticle, AlertArticle.article_id == Article.id)
             .where(AlertArticle.alert_id == alert_id).order_by(*order))
    if limit is not None:
        query = query.limit(limit)
    return list(session.exec(query))


def article_ids_of_alert(session: Session, alert_id: int) -> list[int]:
    return list(session.exec(select(AlertArticle.article_id).where(AlertArticle.alert_id == alert_id)))


@dataclass
class AlertLine:
    """One alert as a list shows it."""

    alert: Alert
    place: str
    country: Optional[str]


@dataclass
class AlertDetail:
    alert: Alert
    place: str
    country: Optional[str]
    articles: list[Article]
    audit: list[AlertStatusChange]


def list_alerts(session: Session, *, status: Optional[str] = None, min_severity: str = "low",
                limit: int = 50) -> list[AlertLine]:
    """Alerts, most recently active first."""
    from monitor.alerts.events import alert_place

    query = (select(Alert).where(Alert.severity.in_(at_or_above(min_severity)))
             .order_by(Alert.last_seen_at.desc(), Alert.id.desc()).limit(limit))
    if status:
        query = query.where(Alert.status == status)
    return [AlertLine(alert, *alert_place(session, alert)) for alert in session.exec(query)]


def alert_detail(session: Session, alert_id: int) -> AlertDetail:
    """One alert with its articles and audit trail; AlertNotFound when there is none."""
    from monitor.alerts.events import alert_place

    alert = session.get(Alert, alert_id)
    if alert is None:
        raise AlertNotFound(alert_id)
    audit = list(session.exec(select(AlertStatusChange).where(AlertStatusChange.alert_id == alert_id)
                              .order_by(AlertStatusChange.at, AlertStatusChange.id)))
    return AlertDetail(alert, *alert_place(session, alert), articles_of_alert(session, alert_id), audit)
