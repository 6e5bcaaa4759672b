"""Cells a spreadsheet will not run: the defence against CSV (formula) injection.

Excel, LibreOffice and Google Sheets treat a cell that begins with ``=``, ``+``, ``-`` or ``@``
as a formula (``=HYPERLINK(...)`` phones home, ``+cmd|...`` used to start programs via DDE),
and a leading tab or carriage return can hide such a start. Register data is typed by customers
(names, addresses, order descriptions), so every CSV we write passes each cell through
:func:`safe_cell`, which prefixes such a cell with ``'``: the spreadsheet shows it as text.
Left alone are plain numbers (``-12.50``, ``+5``, ``129,90``) and E.164 phone numbers
(``+358401234567``), which a spreadsheet reads as values, not formulas.
"""

from __future__ import annotations

import re

#: What a spreadsheet may read as the start of a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:[.,]\d+)?|[.,]\d+)")
_E164 = re.compile(r"\+[1-9]\d{6,14}")


def safe_cell(value: object) -> str:
    """``value`` as CSV cell text, with ``'`` prepended when a spreadsheet would run it."""
    text = "" if value is None else str(value)
    if not text.startswith(FORMULA_STARTS):
        return text
    if _PLAIN_NUMBER.fullmatch(text) or _E164.fullmatch(text):
        return text
    return "'" + text
