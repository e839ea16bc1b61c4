"""Facility reports as CSV: one row per alert, or (articles=True) one row per article.

The column names below are part of the interface (documented in the README): add columns at the
end, never rename or reorder. Every cell goes through `guard_cell`, so a title like
`=HYPERLINK(...)` is text in a spreadsheet, never a formula.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Optional

from monitor.reports.model import ReportBundle
from monitor.spreadsheet import guard_cell

ALERT_COLUMNS = (
    "facility_slug", "facility_name", "country", "alert_id", "first_seen_utc", "last_seen_utc", "severity",
    "severity_reason", "labels", "independent_outlets", "status", "article_count", "source_urls",
    "risk_score", "risk_day", "period", "generated_utc", "model_version",
)
ARTICLE_COLUMNS = (
    "facility_slug", "facility_name", "country", "article_id", "published_utc", "first_seen_utc", "title",
    "outlet", "language", "url", "labels", "link_role", "alert_ids", "snippet", "period", "generated_utc",
    "model_version",
)


def _utc(when: Optional[datetime]) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ") if when else ""


def csv_rows(bundle: ReportBundle, articles: bool = False) -> list[list[str]]:
    """Header and rows, every cell already guarded."""
    period, generated = bundle.period.describe(), _utc(bundle.generated_at)
    rows: list[list[object]] = [list(ARTICLE_COLUMNS if articles else ALERT_COLUMNS)]
    for report in bundle.reports:
        f = report.facility
        if articles:
            for a in report.articles:
                rows.append([f.slug, f.name, f.country, a.id, _utc(a.published_at), _utc(a.first_seen_at), a.title,
                             a.outlet or "", a.language or "", a.url, ";".join(a.labels), a.role or "",
                             ";".join(map(str, a.alert_ids)), a.snippet, period, generated, bundle.model_version])
            continue
        for alert in report.alerts:
            urls = [report.article(i).url for i in alert.article_ids]
            rows.append([f.slug, f.name, f.country, alert.id, _utc(alert.first_seen_at), _utc(alert.last_seen_at),
                         alert.severity, alert.severity_reason, ";".join(alert.labels), alert.outlet_count,
                         alert.status, len(alert.article_ids), " ".join(urls),
                         "" if report.risk.score is None else f"{report.risk.score:g}", report.risk.day or "",
                         period, generated, bundle.model_version])
    return [[guard_cell(cell) for cell in row] for row in rows]


def render_csv(bundle: ReportBundle, articles: bool = False) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(csv_rows(bundle, articles))
    # A byte-order mark lets Excel open UTF-8 (Arabic titles) correctly; csv readers skip it with utf-8-sig.
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
