"""CSV cells that are safe to open in a spreadsheet.

A cell starting with = + - @ (or a tab / carriage return before one) is run as a formula by Excel,
LibreOffice and Google Sheets. Prefixing an apostrophe makes it plain text; numbers are left alone.
"""

from __future__ import annotations

import re

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?([eE][+-]?\d+)?$")


def guard_cell(value: object) -> str:
    if value is None:
        return ""
    text = str(value)
    if text.startswith(_FORMULA_START) and not _PLAIN_NUMBER.match(text):
        return "'" + text
    return text


def unguard_cell(text: str) -> str:
    """Undo `guard_cell`, so a file we exported imports back to the same values."""
    if len(text) > 1 and text[0] == "'" and text[1] in "=+-@\t\r":
        return text[1:]
    return text
