"""Facility reports as Markdown: the same sections as the PDF, every piece of stored text escaped.

Markdown viewers render raw HTML, so text from feeds and analysts is HTML-escaped as well as
Markdown-escaped: an article titled `<script>...` shows as text, never runs.
"""

from __future__ import annotations

import html
import re
from urllib.parse import quote

from monitor.reports.model import FacilityReport, ReportBundle, clean_text
from monitor.reports.text import (
    NO_ALERTS,
    NO_ARTICLES,
    NO_RISK_HISTORY,
    NO_SOURCES,
    alert_facts,
    alert_heading,
    article_line,
    dismissed_note,
    footer_text,
    is_web_address,
    risk_headline,
    source_line,
    utc_minute,
)

_INLINE_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_LINE_START = re.compile(r"^(\s*)([#>+=-]|\d+[.)])")
_SPARKS = "▁▂▃▄▅▆▇█"


def md_text(value: object) -> str:
    """Plain text that Markdown shows as is, on one line."""
    text = " ".join(clean_text(str(value)).split())
    text = html.escape(text, quote=False)
    text = _INLINE_SPECIAL.sub(r"\\\1", text)
    return _LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), text)


def md_url(url: str) -> str:
    """An address safe inside a Markdown link: nothing that could end the link or start markup."""
    return quote(clean_text(url).strip(), safe=":/?#@!$&'*+,;=%~-._")


def md_link(text: str, url: str) -> str:
    if not is_web_address(url):
        return f"{md_text(text)} ({md_text(url)})"
    return f"[{md_text(text)}]({md_url(url)})"


def sparkline(scores: list[float]) -> str:
    return "".join(_SPARKS[min(len(_SPARKS) - 1, int(score / 100 * len(_SPARKS)))] for score in scores)


def _cite(number) -> str:
    return f" [{number}]" if number else ""


def _facility(report: FacilityReport, level: int) -> list[str]:
    h = "#" * level
    f = report.facility
    out = [f"{h} {md_text(f.name)}", ""]
    if f.aliases:
        out += ["Also known as: " + "; ".join(md_text(a) for a in f.aliases), ""]
    out += [f"{md_text(f.kind.replace('_', ' ').capitalize())} in {md_text(f.place)}. Slug `{f.slug}`.", ""]

    out += [f"{h}# Profile", "", "| Fact | Value | As of | Source |", "|---|---|---|---|"]
    for fact in report.profile:
        source = f"[{fact.source_number}]" if fact.source_number else ""
        out.append(f"| {md_text(fact.label)} | {md_text(fact.value)} | {md_text(fact.as_of or '')} | {source} |")
    out.append("")

    out += [f"{h}# Risk score", "", md_text(risk_headline(report)), ""]
    if report.risk.factors:
        out += ["| Factor | Points | Detail |", "|---|---:|---|"]
        out += [f"| {md_text(x.factor)} | {x.points:+g} | {md_text(x.detail)} |" for x in report.risk.factors]
        out.append("")
    out += [f"{h}# Risk trend", ""]
    if report.risk.history:
        out += [f"`{sparkline([p.score for p in report.risk.history])}` "
                f"({report.risk.history[0].day} to {report.risk.history[-1].day}, scale 0-100)", "",
                "| Day | Score |", "|---|---:|"]
        out += [f"| {p.day} | {p.score:g} |" for p in report.risk.history]
    else:
        out.append(NO_RISK_HISTORY)
    out.append("")

    out += [f"{h}# Alerts ({md_text(report.period.describe())})", ""]
    if not report.alerts:
        out += [NO_ALERTS, ""]
    for alert in report.alerts:
        out += [f"{h}## {md_text(alert_heading(alert))}", "", md_text(alert_facts(alert)), "",
                f"Why this severity: {md_text(alert.severity_reason)}", "", "Evidence:", ""]
        for article_id in alert.article_ids:
            article = report.article(article_id)
            out.append(f"- {md_link(article_line(article), article.url)}{_cite(article.source_number)}")
            if article.snippet:
                out.append(f"  > {md_text(article.snippet)}")
        out.append("")
    if report.dismissed_alerts:
        out += [md_text(dismissed_note(report.dismissed_alerts)), ""]

    others = [a for a in report.articles if not a.alert_ids]
    out += [f"{h}# Other articles linked to the facility (no alert)", ""]
    if others:
        out += [f"- {md_link(article_line(a), a.url)}{_cite(a.source_number)} ({md_text(a.role or 'linked')})"
                for a in others]
    else:
        out.append(NO_ARTICLES)
    out.append("")

    if report.incidents:
        out += [f"{h}# Known incidents (facility profile)", ""]
        out += [f"- {md_text(i.date)}: {md_text(i.summary)}{_cite(i.source_number)}" for i in report.incidents]
        out.append("")

    out += [f"{h}# Sources", ""]
    for source in report.sources:
        link = f"<{md_url(source.url)}>" if is_web_address(source.url) else md_text(source.url)
        out.append(f"{source.number}. {md_text(source_line(source))}: {link}")
    if not report.sources:
        out.append(NO_SOURCES)
    out.append("")
    return out


def render_markdown(bundle: ReportBundle) -> bytes:
    out = [f"# {md_text(bundle.title)}", "",
           f"Period: {md_text(bundle.period.describe())}. Generated {utc_minute(bundle.generated_at)}. "
           f"Classifier model: {md_text(bundle.model_version)}.", ""]
    several = len(bundle.reports) > 1
    if several:
        out += ["| Facility | Country | Risk score | Alerts in period |", "|---|---|---:|---:|"]
        for report in bundle.reports:
            score = f"{report.risk.score:g}" if report.risk.score is not None else "not computed"
            out.append(f"| {md_text(report.facility.name)} | {report.facility.country} | {score} | "
                       f"{len(report.alerts)} |")
        out.append("")
    for report in bundle.reports:
        out += _facility(report, 2)
    out += ["---", "", md_text(footer_text(bundle)), ""]
    return "\n".join(out).encode("utf-8")
