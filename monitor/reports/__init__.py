"""Facility reports: PDF, CSV, Markdown, HTML and GeoJSON from one gathered `ReportBundle`.

`render_report` is the one call the command line and the dashboard's download buttons both use.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Optional, Union

from sqlalchemy.engine import Engine

from monitor.reports.gather import build_facility_report, gather_reports
from monitor.reports.model import FacilitySelection, Period, ReportBundle, ReportError, parse_report_date

# format -> (MIME type, file extension)
FORMATS: dict[str, tuple[str, str]] = {
    "pdf": ("application/pdf", "pdf"),
    "csv": ("text/csv", "csv"),
    "md": ("text/markdown", "md"),
    "html": ("text/html", "html"),
    "geojson": ("application/geo+json", "geojson"),
}

__all__ = [
    "FORMATS", "FacilitySelection", "Period", "ReportBundle", "ReportError", "build_facility_report",
    "gather_reports", "render_bundle", "render_report", "write_report",
]


def render_bundle(bundle: ReportBundle, fmt: str, articles: bool = False) -> bytes:
    if fmt not in FORMATS:
        raise ReportError(f"unknown report format {fmt!r}; one of {', '.join(FORMATS)}")
    if articles and fmt != "csv":
        raise ReportError("one row per article is a CSV option")
    if fmt == "pdf":
        from monitor.reports.pdf import render_pdf

        return render_pdf(bundle)
    if fmt == "csv":
        from monitor.reports.csv_export import render_csv

        return render_csv(bundle, articles=articles)
    if fmt == "md":
        from monitor.reports.markdown import render_markdown

        return render_markdown(bundle)
    if fmt == "html":
        from monitor.reports.html import render_html

        return render_html(bundle)
    from monitor.reports.geojson import render_geojson

    return render_geojson(bundle)


def _as_date(value: Union[date, str, None], option: str) -> Optional[date]:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date) or value is None:
        return value
    return parse_report_date(value, option)


def render_report(engine: Engine, selection: FacilitySelection, fmt: str, since: Union[date, str, None] = None,
                  until: Union[date, str, None] = None, articles: bool = False,
                  now: Optional[datetime] = None) -> bytes:
    """The report on the selected facilities in one format, as the bytes of the file to save."""
    period = Period(_as_date(since, "first day"), _as_date(until, "last day"))
    return render_bundle(gather_reports(engine, selection, period, now=now), fmt, articles=articles)


@dataclass
class WrittenReport:
    path: Path
    size: int
    facilities: int
    alerts: int
    period: Period


def write_report(engine: Engine, selection: FacilitySelection, period: Period, fmt: str, output: Path,
                 articles: bool = False) -> WrittenReport:
    """`monitor report`: gather, render and write the file in one step (never half a file under its name)."""
    folder = output.parent
    if output.is_dir():
        raise ReportError(f"{output} is a folder; give a file name, e.g. {output / ('report.' + FORMATS[fmt][1])}")
    if not folder.is_dir():
        raise ReportError(f"the folder {folder} does not exist; create it first")
    bundle = gather_reports(engine, selection, period)
    data = render_bundle(bundle, fmt, articles=articles)
    try:
        write_atomically(output, data)
    except OSError as exc:
        raise ReportError(f"could not write {output}: {exc.strerror or exc}") from None
    return WrittenReport(output, len(data), len(bundle.reports), sum(len(r.alerts) for r in bundle.reports), period)


def write_atomically(path: Path, data: bytes) -> None:
    """Write next to the target and rename, so a failure never leaves half a report under its name."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise

