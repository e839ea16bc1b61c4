"""The sentences and lines every report format shares, so a PDF and a Markdown file say the same words."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from monitor.reports.model import (
    FacilityReport,
    ReportAlert,
    ReportArticle,
    ReportBundle,
    Source,
    label_names,
)

NO_ALERTS = "No alerts in this period."
NO_ARTICLES = "No other articles were linked to this facility in this period."
NO_RISK = ("No risk score has been computed for this facility yet (the worker computes scores daily; "
           "`monitor risk --recompute` does it now).")
NO_RISK_HISTORY = "No daily risk scores in this period."
NO_SOURCES = "No sources recorded."
SOURCE_SCHEMES = ("http://", "https://")


def utc_minute(when: Optional[datetime]) -> str:
    return f"{when:%Y-%m-%d %H:%M} UTC" if when else "unknown"


def dismissed_note(count: int) -> str:
    return (f"{count} alert{'s' if count != 1 else ''} in this period "
            f"{'were' if count != 1 else 'was'} dismissed by analysts as false positive{'s' if count != 1 else ''} "
            "and left out.")


def alert_heading(alert: ReportAlert) -> str:
    span = utc_minute(alert.first_seen_at)
    if alert.last_seen_at != alert.first_seen_at:
        span += f" to {utc_minute(alert.last_seen_at)}"
    return f"Alert #{alert.id}: {label_names(alert.labels)} ({span})"


def alert_facts(alert: ReportAlert) -> str:
    outlets = f"{alert.outlet_count} independent outlet{'s' if alert.outlet_count != 1 else ''}"
    return f"Severity {alert.severity}; {outlets}; status {alert.status}."


def article_line(article: ReportArticle) -> str:
    """Date, outlet and title, without the citation number, which each format places itself.

    The title comes last: an Arabic outlet and title then form one right-to-left run that reads
    correctly, instead of a date or bracket landing inside it.
    """
    return f"{article.when:%Y-%m-%d} · {article.outlet or 'unknown outlet'}: {article.title}"


def source_line(source: Source) -> str:
    return f"{source.date or 'date unknown'} · {source.outlet + ': ' if source.outlet else ''}{source.title}"


def risk_headline(report: FacilityReport) -> str:
    if report.risk.score is None:
        return NO_RISK
    return f"Risk score {report.risk.score:g} / 100 (computed {report.risk.day})."


def is_web_address(url: Optional[str]) -> bool:
    """Only http(s) addresses become links; anything else (javascript:, data:) is shown as text."""
    return bool(url) and url.strip().lower().startswith(SOURCE_SCHEMES)


def footer_text(bundle: ReportBundle) -> str:
    return f"Generated {utc_minute(bundle.generated_at)} · model {bundle.model_version}"
