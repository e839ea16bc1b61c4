"""Facility reports as PDF (fpdf2), with the bundled DejaVu Sans so Latin and Arabic names both show.

Text shaping (HarfBuzz, through uharfbuzz) joins Arabic letters and lays right-to-left runs out in
visual order, while the text stays extractable in reading order. The risk-trend chart is drawn with
fpdf2's own lines and circles. Several facilities make one document: a cover page listing them,
then each facility from a new page with its own title block and its own numbered sources.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Optional

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

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

FONT_DIR = Path(__file__).parent / "fonts"
FONT = "DejaVu"
SEVERITY_RGB = {"low": (91, 112, 131), "medium": (183, 121, 31), "high": (192, 86, 33), "critical": (197, 48, 48)}
INK = (26, 32, 44)
MUTED = (74, 85, 104)
RULE = (203, 213, 224)
MISSING_GLYPH = "\ufffd"


def starts_rtl(text: str) -> bool:
    """Whether the first letter with a direction is right-to-left (Arabic, Hebrew, ...)."""
    for char in text:
        kind = unicodedata.bidirectional(char)
        if kind in ("R", "AL"):
            return True
        if kind == "L":
            return False
    return False


class ReportPDF(FPDF):
    def __init__(self, footer_line: str):
        super().__init__(format="A4")
        self.footer_line = footer_line
        self.add_font(FONT, "", str(FONT_DIR / "DejaVuSans.ttf"))
        self.add_font(FONT, "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
        self._direction: Optional[str] = "ltr"
        self.set_text_shaping(True, direction="ltr")
        self.set_auto_page_break(True, margin=20)
        self.set_margins(18, 18, 18)
        self.set_creator("detention-monitor")

    def normalize_text(self, text: str) -> str:
        """Characters the bundled font cannot draw (emoji, CJK, Myanmar ...) become a visible
        replacement mark instead of silently vanishing; the HTML and Markdown reports show them."""
        cmap = getattr(self.current_font, "cmap", None)
        if cmap and any(ord(char) not in cmap for char in text):
            text = "".join(char if ord(char) in cmap or char in "\n\r" else MISSING_GLYPH for char in text)
        return super().normalize_text(text)

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font(FONT, "", 7.5)
        self.set_text_color(*MUTED)
        self.cell(0, 5, f"{self.footer_line} · page {self.page_no()} of {{nb}}", align="C")
        self.set_text_color(*INK)

    # Small building blocks -------------------------------------------------------------------------

    def heading(self, text: str, size: float = 13, space: float = 4) -> None:
        if self.get_y() > self.h - 45:  # keep a heading with what follows it
            self.add_page()
        self.ln(space)
        self.set_font(FONT, "B", size)
        self.multi_cell(0, size * 0.5, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_draw_color(*RULE)
        self.line(self.l_margin, self.get_y() + 0.8, self.w - self.r_margin, self.get_y() + 0.8)
        self.ln(2.5)

    def direction(self, direction: Optional[str]) -> None:
        if direction != self._direction:
            self.set_text_shaping(True, direction=direction)
            self._direction = direction

    def para(self, text: str, size: float = 9.5, bold: bool = False, colour=INK, link: Optional[str] = None,
             indent: float = 0, free_text: bool = False) -> None:
        """A paragraph. Our own lines run left to right (an Arabic title inside one is an RTL run);
        free text (a snippet) takes the direction of its first letter and aligns to that side."""
        rtl = free_text and starts_rtl(text)
        self.direction("rtl" if rtl else "ltr")
        self.set_font(FONT, "B" if bold else "", size)
        self.set_text_color(*colour)
        self.set_x(self.l_margin + indent)
        self.multi_cell(self.w - self.r_margin - self.l_margin - indent, size * 0.48, text, align="R" if rtl else "L",
                        link=link if link and is_web_address(link) else None, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.direction("ltr")
        self.set_text_color(*INK)
        self.ln(0.8)

    def badge(self, severity: str) -> None:
        self.set_font(FONT, "B", 8)
        self.set_fill_color(*SEVERITY_RGB.get(severity, MUTED))
        self.set_text_color(255, 255, 255)
        self.cell(self.get_string_width(severity.upper()) + 4, 5, severity.upper(), fill=True, align="C",
                  new_x=XPos.RIGHT, new_y=YPos.TOP)
        self.set_text_color(*INK)
        self.cell(2, 5, "")

    def table_rows(self, header: tuple[str, ...], rows: list[tuple[str, ...]], widths: tuple[int, ...],
                   align_right: tuple[int, ...] = ()) -> None:
        self.set_font(FONT, "", 8.5)
        self.set_draw_color(*RULE)
        with self.table(col_widths=widths, line_height=4.4, text_align="LEFT", first_row_as_headings=True,
                        headings_style=FontFace(emphasis="BOLD", fill_color=(237, 242, 247)),
                        padding=1.2) as table:
            table.row(header)
            for values in rows:
                row = table.row()
                for i, value in enumerate(values):
                    row.cell(value, align="RIGHT" if i in align_right else "LEFT")
        self.ln(1.5)

    def trend_chart(self, points: list[RiskPoint], height: float = 46) -> None:
        """Daily risk scores on a 0-100 axis: grid, line, a dot per day, first and last day under it."""
        if self.get_y() + height + 12 > self.h - self.b_margin:
            self.add_page()
        left = self.l_margin + 9
        width = self.w - self.r_margin - left
        top = self.get_y() + 2
        self.set_font(FONT, "", 7)
        self.set_text_color(*MUTED)
        self.set_line_width(0.2)
        for tick in (0, 25, 50, 75, 100):
            y = top + height * (1 - tick / 100)
            self.set_draw_color(*RULE)
            self.line(left, y, left + width, y)
            self.set_xy(self.l_margin, y - 2)
            self.cell(8, 4, str(tick), align="R")

        def xy(i: int, score: float) -> tuple[float, float]:
            x = left + (width * i / (len(points) - 1) if len(points) > 1 else width / 2)
            return x, top + height * (1 - score / 100)

        coords = [xy(i, p.score) for i, p in enumerate(points)]
        self.set_draw_color(*SEVERITY_RGB["critical"])
        self.set_fill_color(*SEVERITY_RGB["critical"])
        self.set_line_width(0.6)
        if len(coords) > 1:
            self.polyline(coords)
        radius = 0.9 if len(coords) > 40 else 1.3
        for x, y in coords:
            self.circle(x, y, radius, style="F")
        self.set_line_width(0.2)
        self.set_xy(left, top + height + 1.5)
        self.cell(width / 2, 4, points[0].day, align="L")
        if len(points) > 1:
            self.cell(width / 2, 4, points[-1].day, align="R")
        self.set_text_color(*INK)
        self.set_xy(self.l_margin, top + height + 8)


def _title_block(pdf: ReportPDF, report: FacilityReport, bundle: ReportBundle, cover: bool) -> None:
    f = report.facility
    if cover:
        pdf.ln(30)
        pdf.para(bundle.title.split(":")[0].upper(), size=10, colour=MUTED)
    pdf.para(f.name, size=22 if cover else 18, bold=True)
    pdf.para(f"{f.kind.replace('_', ' ').capitalize()} in {f.place}", size=11, colour=MUTED)
    if f.aliases:
        pdf.ln(2)
        pdf.para("Also known as", size=9, bold=True)
        pdf.para("; ".join(f.aliases), size=10.5)
    if cover:
        pdf.ln(8)
        pdf.para(f"Period: {bundle.period.describe()}", size=10)
        pdf.para(f"Generated {utc_minute(bundle.generated_at)}", size=10)
        pdf.para(f"Classifier model: {bundle.model_version}", size=10)
        pdf.para(risk_headline(report), size=10)
        pdf.para(f"Alerts in the period: {len(report.alerts)}", size=10)


def _facility(pdf: ReportPDF, report: FacilityReport, bundle: ReportBundle, single: bool) -> None:
    f = report.facility
    pdf.add_page()
    pdf.start_section(f.name, level=0)
    if single:
        _title_block(pdf, report, bundle, cover=True)
        pdf.add_page()
    else:
        _title_block(pdf, report, bundle, cover=False)

    pdf.heading("Profile")
    pdf.table_rows(("Fact", "Value", "As of", "Source"),
                   [(x.label, x.value, x.as_of or "", f"[{x.source_number}]" if x.source_number else "")
                    for x in report.profile], (17, 60, 13, 10))

    pdf.heading("Risk score")
    pdf.para(risk_headline(report), bold=report.risk.score is not None)
    if report.risk.factors:
        pdf.table_rows(("Factor", "Points", "Detail"),
                       [(x.factor, f"{x.points:+g}", x.detail) for x in report.risk.factors], (16, 10, 74),
                       align_right=(1,))
    pdf.heading("Risk trend")
    if report.risk.history:
        pdf.trend_chart(report.risk.history)
    else:
        pdf.para(NO_RISK_HISTORY, colour=MUTED)

    pdf.heading(f"Alerts ({report.period.describe()})")
    if not report.alerts:
        pdf.para(NO_ALERTS)
    for alert in report.alerts:
        if pdf.get_y() > pdf.h - 50:
            pdf.add_page()
        pdf.ln(1.5)
        pdf.badge(alert.severity)
        pdf.set_font(FONT, "B", 9.5)
        pdf.multi_cell(0, 5, alert_heading(alert), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.para(alert_facts(alert))
        pdf.para(f"Why this severity: {alert.severity_reason}")
        pdf.para("Evidence:", bold=True, size=9)
        for article_id in alert.article_ids:
            article = report.article(article_id)
            pdf.para(f"[{article.source_number}] {article_line(article)}", size=9, link=article.url, indent=3)
            if article.snippet:
                pdf.para(article.snippet, size=8.5, colour=MUTED, indent=7, free_text=True)
    if report.dismissed_alerts:
        pdf.para(dismissed_note(report.dismissed_alerts), colour=MUTED)

    others = [a for a in report.articles if not a.alert_ids]
    pdf.heading("Other articles linked to the facility (no alert)")
    if others:
        for article in others:
            pdf.para(f"[{article.source_number}] {article_line(article)} ({article.role or 'linked'})", size=9,
                     link=article.url)
    else:
        pdf.para(NO_ARTICLES)

    if report.incidents:
        pdf.heading("Known incidents (facility profile)")
        for incident in report.incidents:
            cite = f" [{incident.source_number}]" if incident.source_number else ""
            pdf.para(f"{incident.date}: {incident.summary}{cite}", size=9)

    pdf.heading("Sources")
    if not report.sources:
        pdf.para(NO_SOURCES)
    for source in report.sources:
        pdf.para(f"[{source.number}] {source_line(source)}", size=8.5)
        pdf.para(source.url, size=8, colour=MUTED, link=source.url, indent=6)


def _cover(pdf: ReportPDF, bundle: ReportBundle) -> None:
    pdf.add_page()
    pdf.ln(30)
    pdf.para(bundle.title, size=20, bold=True)
    pdf.para(f"Period: {bundle.period.describe()}", size=10)
    pdf.para(f"Generated {utc_minute(bundle.generated_at)}", size=10)
    pdf.para(f"Classifier model: {bundle.model_version}", size=10)
    pdf.ln(4)
    rows = []
    for report in bundle.reports:
        score = f"{report.risk.score:g}" if report.risk.score is not None else "not computed"
        rows.append((report.facility.name, report.facility.country, score, str(len(report.alerts))))
    pdf.table_rows(("Facility", "Country", "Risk score", "Alerts in period"), rows, (52, 14, 16, 18),
                   align_right=(2, 3))


def render_pdf(bundle: ReportBundle) -> bytes:
    pdf = ReportPDF(footer_text(bundle))
    pdf.set_title(bundle.title)
    pdf.set_subject(f"Period: {bundle.period.describe()}")
    pdf.set_creation_date(bundle.generated_at)
    single = len(bundle.reports) == 1
    if not single:
        _cover(pdf, bundle)
    for report in bundle.reports:
        _facility(pdf, report, bundle, single)
    return bytes(pdf.output())
