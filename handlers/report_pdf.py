"""A PDF copy of a letter (the access report), made with fpdf2 and its built-in Helvetica.

Why the built-in font: it needs no font file at run time (nothing to ship, nothing to
download) and it is Latin-1, which covers Finnish and Swedish (ä, ö, å, Ä, Ö, Å) and most
Western European names. Characters outside Latin-1 are replaced by a readable ASCII
equivalent (``€`` -> ``EUR``, typographic dashes and quotes -> ASCII) or, failing that, by a
decomposed base letter (``č`` -> ``c``) or ``?``. The mail body itself carries the full
Unicode text, so nothing is lost from the answer; the PDF is a printable copy.

fpdf2 is optional: :func:`available` says whether it is installed, and callers skip the PDF
when it is not.
"""

from __future__ import annotations

import importlib.util
import unicodedata
from datetime import datetime
from typing import Any

_REPLACEMENTS = {
    "€": "EUR", "–": "-", "—": "-", "‒": "-", "−": "-", "‘": "'", "’": "'", "‚": ",",
    "“": '"', "”": '"', "„": '"', "…": "...", "•": "-", "·": "-", "\u00a0": " ",
    "\u202f": " ", "\u2009": " ", "™": "(TM)", "Œ": "OE", "œ": "oe", "Š": "S", "š": "s",
    "Ž": "Z", "ž": "z",
}


def available() -> bool:
    """True when fpdf2 is installed (it is a declared dependency, but stay usable without)."""
    return importlib.util.find_spec("fpdf") is not None


def to_latin1(text: str) -> str:
    """Text the core fonts can draw: Latin-1 kept as is, everything else approximated."""
    out = []
    for ch in text:
        if ord(ch) < 256:
            out.append(ch)
        elif ch in _REPLACEMENTS:
            out.append(_REPLACEMENTS[ch])
        else:
            base = unicodedata.normalize("NFKD", ch)[0]
            out.append(base if ord(base) < 256 else "?")
    return "".join(out)


def _is_underline(line: str) -> bool:
    return len(line) >= 3 and set(line) == {"-"}


def _wrap(pdf: Any, line: str) -> list[str]:
    """Greedy word wrap to the page width.

    fpdf2's ``multi_cell`` measures every character again for every candidate break, which
    made a report with 500 invoices take seconds; the core fonts have no kerning, so a line's
    width is the sum of its words' widths and each word is measured once.
    """
    widths = pdf.current_font.cw  # core font: character -> width in 1/1000 em
    scale = pdf.font_size / 1000

    def measure(text: str) -> float:
        return float(sum(widths.get(ch, 500) for ch in text)) * scale

    width = pdf.epw - 1
    if measure(line) <= width:
        return [line]
    space = measure(" ")
    lines: list[str] = []
    current: list[str] = []
    used = 0.0
    for word in line.split(" "):
        w = measure(word)
        while w > width:  # a single word wider than the page: cut it
            cut = max(1, int(len(word) * width / w))
            if current:
                lines.append(" ".join(current))
                current, used = [], 0.0
            lines.append(word[:cut])
            word = word[cut:]
            w = measure(word)
        if current and used + space + w > width:
            lines.append(" ".join(current))
            current, used = [], 0.0
        used += (space if current else 0.0) + w
        current.append(word)
    if current:
        lines.append(" ".join(current))
    return lines


def letter_pdf(title: str, text: str, *, footer: str = "",
               created: datetime) -> bytes:
    """Lay out a plain-text letter: headings (a line underlined with ``---``) in bold."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_creation_date(created)
    pdf.set_title(to_latin1(title))
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_margins(18, 18, 18)
    pdf.add_page()
    pdf.set_font("helvetica", style="B", size=15)
    pdf.multi_cell(0, 8, to_latin1(title), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if _is_underline(line):
            continue
        heading = index + 1 < len(lines) and _is_underline(lines[index + 1]) and line.strip()
        if heading:
            pdf.ln(2)
            pdf.set_font("helvetica", style="B", size=12)
        else:
            pdf.set_font("helvetica", size=10)
        if not line.strip():
            pdf.ln(3)
            continue
        for part in _wrap(pdf, to_latin1(line)):
            pdf.cell(0, 5, part, new_x="LMARGIN", new_y="NEXT")
    if footer:
        pdf.ln(6)
        pdf.set_font("helvetica", style="I", size=8)
        pdf.multi_cell(0, 4, to_latin1(footer), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
