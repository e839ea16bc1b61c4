"""Facility reports as one standalone HTML page: inline CSS, an inline SVG chart, no external resources.

All stored text (article titles and snippets, profile facts, analysts' notes) goes through
html.escape; only http(s) addresses become links. A Content-Security-Policy forbids scripts and any
outside resource, as a second line of defence should anything ever slip through.
"""

from __future__ import annotations

from html import escape

from monitor.reports.model import FacilityReport, ReportBundle, RiskPoint
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
from monitor.vocabulary import SEVERITY_COLOURS

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
STYLE = """
body { font-family: "DejaVu Sans", "Noto Sans", "Segoe UI", Arial, sans-serif; margin: 2rem auto; max-width: 60rem;
       padding: 0 1rem; color: #1a202c; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { border-bottom: 2px solid #2d3748; padding-bottom: .2rem;
     margin-top: 2.5rem; } h3 { margin-top: 1.6rem; } h4 { margin-bottom: .3rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0; font-size: .92rem; }
th, td { border: 1px solid #cbd5e0; padding: .3rem .5rem; text-align: start; vertical-align: top; }
th { background: #edf2f7; } td.num { text-align: end; white-space: nowrap; }
.meta, footer { color: #4a5568; font-size: .9rem; } .aliases bdi { white-space: nowrap; }
.severity { color: #fff; border-radius: .25rem; padding: 0 .4rem; font-weight: bold; text-transform: uppercase;
            font-size: .8rem; }
blockquote { margin: .2rem 0 .6rem 1rem; padding-left: .6rem; border-left: 3px solid #cbd5e0; color: #2d3748; }
ol.sources li { margin-bottom: .3rem; word-break: break-all; } .empty { font-style: italic; }
svg { max-width: 100%; height: auto; }
"""


def h(value: object) -> str:
    return escape(str(value), quote=True)


def link(text: str, url: str) -> str:
    if is_web_address(url):
        return f'<a href="{h(url.strip())}" rel="noopener noreferrer">{h(text)}</a>'
    return f"{h(text)} ({h(url)})"


def cite(number) -> str:
    return f' <a href="#src-{number}" class="cite">[{number}]</a>' if number else ""


def trend_svg(points: list[RiskPoint], width: int = 640, height: int = 180) -> str:
    """A line chart of daily scores on a 0-100 axis, as inline SVG."""
    left, right, top, bottom = 36, 10, 10, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / max(len(points) - 1, 1)

    def xy(i: int, score: float) -> tuple[float, float]:
        return left + (i * step if len(points) > 1 else plot_w / 2), top + plot_h * (1 - score / 100)

    parts = [f'<svg viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="Risk score by day">']
    for tick in (0, 25, 50, 75, 100):
        y = top + plot_h * (1 - tick / 100)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#e2e8f0"/>'
                     f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end" fill="#4a5568">{tick}'
                     f'</text>')
    coords = [xy(i, p.score) for i, p in enumerate(points)]
    if len(coords) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        parts.append(f'<polyline points="{path}" fill="none" stroke="#c53030" stroke-width="2"/>')
    for (x, y), point in zip(coords, points):
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#c53030"><title>{h(point.day)}: '
                     f'{point.score:g}</title></circle>')
    parts.append(f'<text x="{left}" y="{height - 8}" font-size="10" fill="#4a5568">{h(points[0].day)}</text>')
    if len(points) > 1:
        parts.append(f'<text x="{width - right}" y="{height - 8}" font-size="10" text-anchor="end" '
                     f'fill="#4a5568">{h(points[-1].day)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _facility(report: FacilityReport) -> list[str]:
    f = report.facility
    out = [f'<section id="facility-{h(f.slug)}">', f'<h2 dir="auto">{h(f.name)}</h2>']
    if f.aliases:
        out.append('<p class="aliases">Also known as: '
                   + "; ".join(f'<bdi dir="auto">{h(a)}</bdi>' for a in f.aliases) + "</p>")
    out.append(f'<p class="meta">{h(f.kind.replace("_", " ").capitalize())} in {h(f.place)}. '
               f"Slug <code>{h(f.slug)}</code>.</p>")

    out += ["<h3>Profile</h3>", "<table><thead><tr><th>Fact</th><th>Value</th><th>As of</th><th>Source</th></tr>"
            "</thead><tbody>"]
    for fact in report.profile:
        out.append(f'<tr><th scope="row">{h(fact.label)}</th><td dir="auto">{h(fact.value)}</td>'
                   f"<td>{h(fact.as_of or '')}</td><td>{cite(fact.source_number).strip()}</td></tr>")
    out.append("</tbody></table>")

    out += ["<h3>Risk score</h3>", f"<p>{h(risk_headline(report))}</p>"]
    if report.risk.factors:
        out.append("<table><thead><tr><th>Factor</th><th>Points</th><th>Detail</th></tr></thead><tbody>")
        out += [f'<tr><td>{h(x.factor)}</td><td class="num">{x.points:+g}</td><td>{h(x.detail)}</td></tr>'
                for x in report.risk.factors]
        out.append("</tbody></table>")
    out.append("<h3>Risk trend</h3>")
    out.append(trend_svg(report.risk.history) if report.risk.history else f'<p class="empty">{h(NO_RISK_HISTORY)}</p>')

    out.append(f"<h3>Alerts ({h(report.period.describe())})</h3>")
    if not report.alerts:
        out.append(f'<p class="empty">{h(NO_ALERTS)}</p>')
    for alert in report.alerts:
        colour = SEVERITY_COLOURS.get(alert.severity, "#4a5568")
        out += [f'<article id="alert-{alert.id}">',
                f'<h4><span class="severity" style="background:{colour}">{h(alert.severity)}</span> '
                f"{h(alert_heading(alert))}</h4>",
                f"<p>{h(alert_facts(alert))}<br>Why this severity: {h(alert.severity_reason)}</p>",
                "<p>Evidence:</p><ul>"]
        for article_id in alert.article_ids:
            article = report.article(article_id)
            out.append(f'<li dir="auto">{link(article_line(article), article.url)}{cite(article.source_number)}'
                       + (f'<blockquote dir="auto">{h(article.snippet)}</blockquote>' if article.snippet else "")
                       + "</li>")
        out += ["</ul>", "</article>"]
    if report.dismissed_alerts:
        out.append(f'<p class="meta">{h(dismissed_note(report.dismissed_alerts))}</p>')

    others = [a for a in report.articles if not a.alert_ids]
    out.append("<h3>Other articles linked to the facility (no alert)</h3>")
    if others:
        out.append("<ul>" + "".join(f'<li dir="auto">{link(article_line(a), a.url)}{cite(a.source_number)} '
                                    f"({h(a.role or 'linked')})</li>" for a in others) + "</ul>")
    else:
        out.append(f'<p class="empty">{h(NO_ARTICLES)}</p>')

    if report.incidents:
        out += ["<h3>Known incidents (facility profile)</h3>", "<ul>"]
        out += [f"<li>{h(i.date)}: {h(i.summary)}{cite(i.source_number)}</li>" for i in report.incidents]
        out.append("</ul>")

    out.append("<h3>Sources</h3>")
    if report.sources:
        out.append('<ol class="sources">')
        for source in report.sources:
            out.append(f'<li id="src-{source.number}" value="{source.number}">{h(source_line(source))}<br>'
                       f"{link(source.url, source.url)}</li>")
        out.append("</ol>")
    else:
        out.append(f'<p class="empty">{h(NO_SOURCES)}</p>')
    out.append("</section>")
    return out


def render_html(bundle: ReportBundle) -> bytes:
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{h(bundle.title)}</title>", f"<style>{STYLE}</style>", "</head>", "<body>",
           f'<h1 dir="auto">{h(bundle.title)}</h1>',
           f'<p class="meta">Period: {h(bundle.period.describe())}. Generated {h(utc_minute(bundle.generated_at))}. '
           f"Classifier model: {h(bundle.model_version)}.</p>"]
    if len(bundle.reports) > 1:
        # Anchors only (#facility-...), never outside addresses.
        out.append("<table><thead><tr><th>Facility</th><th>Country</th><th>Risk score</th><th>Alerts in period</th>"
                   "</tr></thead><tbody>")
        for report in bundle.reports:
            score = f"{report.risk.score:g}" if report.risk.score is not None else "not computed"
            out.append(f'<tr><td><a href="#facility-{h(report.facility.slug)}">{h(report.facility.name)}</a></td>'
                       f'<td>{h(report.facility.country)}</td><td class="num">{score}</td>'
                       f'<td class="num">{len(report.alerts)}</td></tr>')
        out.append("</tbody></table>")
    for report in bundle.reports:
        out += _facility(report)
    out += [f"<footer><hr><p>{h(footer_text(bundle))}</p></footer>", "</body>", "</html>", ""]
    return "\n".join(out).encode("utf-8")
