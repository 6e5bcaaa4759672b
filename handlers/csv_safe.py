"""CSV cells that a spreadsheet will not run as a formula (CSV/formula injection, OWASP).

Why: reports and exports are opened in Excel or LibreOffice, which treat a cell starting with
``=``, ``+``, ``-`` or ``@`` (and, in some versions, a tab or carriage return) as a formula. A
requester's name or mail subject like ``=HYPERLINK(...)`` must stay text, so such a cell gets
a leading apostrophe. Plain numbers (``-3``, ``+1.5``) and E.164 phone numbers
(``+358401234567``) are left alone: they are data, not formulas, and the apostrophe would
corrupt them.
"""

from __future__ import annotations

import re

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_E164 = re.compile(r"\+[1-9]\d{1,14}")


def safe_cell(value: object) -> str:
    """``value`` as CSV cell text, prefixed with ``'`` when a spreadsheet would evaluate it."""
    text = "" if value is None else str(value)
    if not text.startswith(_TRIGGERS):
        return text
    if _PLAIN_NUMBER.fullmatch(text) or _E164.fullmatch(text):
        return text
    return "'" + text
