"""How each severity looks: one colour and one symbol per severity, for the dashboard and for mail.

The symbol and the word go beside the colour everywhere, so severity reads without colour (colour-blind
readers, greyscale print, plain-text mail). monitor/vocabulary.py will take these tables over; until then
this is their one home.
"""

from __future__ import annotations

# Hex colours for HTML mail, table cells, charts and the map.
SEVERITY_COLOURS = {"low": "#4c78a8", "medium": "#d4a017", "high": "#e8590c", "critical": "#c92a2a"}
# A shape per severity: distinct without colour. Geometric shapes found in the common text fonts
# (DejaVu, Liberation, Noto Sans): an emoji such as "⬛" shows as an empty box where no emoji font is installed.
SEVERITY_SYMBOLS = {"low": "▽", "medium": "◆", "high": "▲", "critical": "■"}
# The nearest name in Streamlit's palette, for badges and coloured markdown (which take names, not hex).
SEVERITY_STREAMLIT_COLOURS = {"low": "blue", "medium": "yellow", "high": "orange", "critical": "red"}


def severity_badge(severity: str) -> str:
    """Severity as text that reads without colour, e.g. '▲ HIGH'."""
    return f"{SEVERITY_SYMBOLS.get(severity, '?')} {severity.upper()}"


def severity_markdown(severity: str) -> str:
    """The badge as Streamlit markdown on its severity's colour (the text itself still says the severity)."""
    colour = SEVERITY_STREAMLIT_COLOURS.get(severity, "gray")
    return f":{colour}-background[{severity_badge(severity)}]"


def severity_rgba(severity: str, alpha: int = 230) -> list[int]:
    """The colour as [r, g, b, a], the form deck.gl layers take."""
    value = SEVERITY_COLOURS.get(severity, "#888888").lstrip("#")
    return [int(value[i:i + 2], 16) for i in (0, 2, 4)] + [alpha]
