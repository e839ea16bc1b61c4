"""Severity drawn for the dashboard and mail: Streamlit markdown badges and deck.gl colours.

The colours and symbols themselves live in monitor/vocabulary.py (their one home); the word and the symbol go
beside the colour everywhere, so severity reads without colour.
"""

from __future__ import annotations

from monitor.vocabulary import (  # noqa: F401  (re-exported for the views and mail)
    SEVERITY_COLOURS,
    SEVERITY_STREAMLIT_COLOURS,
    SEVERITY_SYMBOLS,
    severity_badge,
)


def severity_markdown(severity: str) -> str:
    """The badge as Streamlit markdown on its severity's colour (the text itself still says the severity)."""
    colour = SEVERITY_STREAMLIT_COLOURS.get(severity, "gray")
    return f":{colour}-background[{severity_badge(severity)}]"


def severity_rgba(severity: str, alpha: int = 230) -> list[int]:
    """The colour as [r, g, b, a], the form deck.gl layers take."""
    value = SEVERITY_COLOURS.get(severity, "#888888").lstrip("#")
    return [int(value[i:i + 2], 16) for i in (0, 2, 4)] + [alpha]
