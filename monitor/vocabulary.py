"""One home for every fixed vocabulary: labels, severities, statuses, roles, delivery modes.

Schema validation, CLI choices, the dashboard and mail all read these tuples, so a word added here is
accepted everywhere at once and a typo anywhere else is an import error rather than a silent mismatch.
"""

from __future__ import annotations

from collections.abc import Iterable

# What the classifier can say about an article (see monitor/corpus/README.md for definitions).
LABELS = (
    "prison_break",
    "attack_on_facility",
    "riot_unrest",
    "resurgence_signal",
    "conditions_alert",
    "transfer_repatriation",
)
# The labels that mean something happened at a facility (an incident), as opposed to a warning or context.
INCIDENT_LABELS = ("prison_break", "attack_on_facility", "riot_unrest")

# Alert severities, lowest first: comparisons use the position in this tuple.
SEVERITIES = ("low", "medium", "high", "critical")
# Colour for screens, charts, the map, reports and mail, and a symbol so severity reads without colour
# (colour-blind readers, greyscale print, plain-text mail). The symbols are geometric shapes found in the
# common text fonts (DejaVu, Liberation, Noto Sans): an emoji would show as an empty box without an emoji font.
SEVERITY_COLOURS = {"low": "#4c78a8", "medium": "#d4a017", "high": "#e8590c", "critical": "#c92a2a"}
SEVERITY_SYMBOLS = {"low": "▽", "medium": "◆", "high": "▲", "critical": "■"}
# The nearest name in Streamlit's palette, for badges and coloured markdown (which take names, not hex).
SEVERITY_STREAMLIT_COLOURS = {"low": "blue", "medium": "yellow", "high": "orange", "critical": "red"}

ALERT_STATUSES = ("new", "confirmed", "dismissed", "escalated", "resolved")
# Alerts an analyst still has to act on; new articles join only these.
OPEN_ALERT_STATUSES = ("new", "confirmed", "escalated")

# How an article relates to a facility it names.
LINK_ROLES = ("primary", "mentioned")

USER_ROLES = ("viewer", "analyst", "admin")

SUBSCRIBER_MODES = ("immediate", "digest")
# The outbox: pending -> sending -> sent; failed after too many refusals; unconfirmed when a sender died
# between handing the message over and recording it (never resent automatically).
NOTIFICATION_STATUSES = ("pending", "sending", "sent", "failed", "unconfirmed")
# Facility facts that keep every dated value with its source (see monitor/facilities/data/README.md).
HISTORIED_FACTS = ("operator", "status", "capacity", "population")
# Who recorded a dated fact value: the bundled files (a reload follows them), an import, or an analyst.
FACT_ORIGINS = ("bundled", "import", "analyst")


def severity_rank(severity: str) -> int:
    """Position of a severity, lowest 0; raises ValueError for an unknown word."""
    return SEVERITIES.index(severity)


def at_or_above(severity: str) -> tuple[str, ...]:
    """The severities at or above `severity`."""
    return SEVERITIES[severity_rank(severity):]


def severity_badge(severity: str) -> str:
    """Severity as text that reads without colour, e.g. '▲ HIGH'."""
    return f"{SEVERITY_SYMBOLS.get(severity, '?')} {severity.upper()}"


def require_one_of(field: str, value: str, allowed: Iterable[str]) -> str:
    """The validator every vocabulary field uses: the value back, or a ValueError naming the choices."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"{field} must be one of {', '.join(allowed)}, got {value!r}")
    return value
