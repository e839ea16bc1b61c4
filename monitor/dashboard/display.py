"""Small pieces of presentation the dashboard pages share: severity styling and safe markdown.

Colours and symbols come from monitor.severity_style (the one home, shared with mail); this module only
applies them to Streamlit elements and pandas tables.
"""

from __future__ import annotations

import re

import pandas as pd

from monitor.severity_style import SEVERITY_COLOURS, SEVERITY_SYMBOLS, severity_badge, severity_markdown

# Every character CommonMark or Streamlit's markdown directives (":red[...]", ":material/x:", "$math$")
# give a meaning; escaped, text from the store renders as the characters it holds.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:$&])")


def plain(text: object) -> str:
    """Text from the store, escaped so markdown shows it literally (no links, images or colours)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")


def severity_cell(severity: str) -> str:
    """What a table cell shows for a severity: its symbol and word, e.g. '▲ high'."""
    return f"{SEVERITY_SYMBOLS.get(severity, '?')} {severity}"


def _text_on(hex_colour: str) -> str:
    """Black or white text, whichever reads better on this background (WCAG relative luminance)."""
    channels = [int(hex_colour.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return "#000000" if luminance > 0.179 else "#ffffff"


def _cell_style(value: object) -> str:
    severity = str(value).split(" ")[-1]
    colour = SEVERITY_COLOURS.get(severity)
    if colour is None:
        return ""
    return f"background-color: {colour}; color: {_text_on(colour)}; font-weight: 600"


def styled_severity(frame: pd.DataFrame, column: str = "severity"):
    """The table with its severity column as symbol + word on the severity's colour."""
    frame = frame.copy()
    frame[column] = frame[column].map(severity_cell)
    return frame.style.map(_cell_style, subset=[column])


__all__ = ["plain", "severity_badge", "severity_cell", "severity_markdown", "styled_severity"]
