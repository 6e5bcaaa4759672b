"""A PDF copy of a letter (the access report), made with fpdf2 and its built-in Helvetica.

Why the built-in font: it needs no font file at run time (nothing to ship, nothing to
download) and, drawn in Windows-1252, it covers Finnish and Swedish (ä, ö, å, Ä, Ö, Å), the
euro sign (money reads ``199,90 €`` as in the letter), typographic quotes and dashes, and
most Western European names. Other characters are replaced by a readable equivalent
(``−`` -> ``-``) or, failing that, by a decomposed base letter (``č`` -> ``c``) or ``?``.
The mail body itself carries the full Unicode text, so nothing is lost from the answer; the
PDF is a printable copy.

fpdf2 is optional: :func:`available` says whether it is installed, and callers skip the PDF
when it is not.
"""

from __future__ import annotations

import importlib.util
import unicodedata
from datetime import datetime
from typing import Any

#: The core fonts' encoding here: Latin-1 plus the euro sign, quotes and dashes.
ENCODING = "windows-1252"

_REPLACEMENTS = {
    "‒": "-", "−": "-", "\u202f": "\u00a0", "\u2009": " ", "\u2011": "-", "\u2010": "-",
}


def _drawable(ch: str) -> bool:
    try:
        ch.encode(ENCODING)
    except UnicodeEncodeError:
        return False
    return True


def available() -> bool:
    """True when fpdf2 is installed (it is a declared dependency, but stay usable without)."""
    return importlib.util.find_spec("fpdf") is not None


def drawable(text: str) -> str:
    """Text the core fonts can draw: Windows-1252 kept as is, everything else approximated."""
    out = []
    for ch in text:
        if ord(ch) < 128 or _drawable(ch):
            out.append(ch)
        elif ch in _REPLACEMENTS:
            out.append(_REPLACEMENTS[ch])
        else:
            base = unicodedata.normalize("NFKD", ch)[0]
            out.append(base if _drawable(base) else "?")
    return "".join(out)


def _is_underline(line: str) -> bool:
    return len(line) >= 3 and set(line) == {"-"}


def _wrap(pdf: Any, line: str) -> list[str]:
    """Greedy word wrap to the page width.

    fpdf2's ``multi_cell`` measures every character again for every candidate break, which
    made a report with 500 invoices take seconds; the core fonts have no kerning, so a line's
    width is the sum of its words' widths and each word is measured once.
    """
    widths = pdf.current_font.cw  # core font: byte as a character -> width in 1/1000 em
    scale = pdf.font_size / 1000

    def measure(text: str) -> float:
        as_bytes = text.encode(ENCODING).decode("latin-1")  # how the font indexes them
        return float(sum(widths.get(ch, 500) for ch in as_bytes)) * scale

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


#: Room a heading needs below it: the heading and its first two lines of text (mm).
_KEEP_WITH_HEADING = 2 + 7 + 2 * 5


def letter_pdf(title: str, text: str, *, created: datetime, footer: str = "",
               page_label: str = "{page}/{pages}") -> bytes:
    """Lay out a plain-text letter: headings (a line underlined with ``---``) in bold.

    Every page ends with ``page_label`` (in the letter's language, e.g. "Page {page} of
    {pages}"), and a heading that would sit alone at the foot of a page starts the next one.
    """
    from fpdf import FPDF

    class _Letter(FPDF):
        def footer(self) -> None:
            self.set_y(-12)
            self.set_font("helvetica", style="I", size=8)
            label = page_label.format(page=self.page_no(), pages=self.str_alias_nb_pages)
            self.cell(0, 5, drawable(label), align="C")

    pdf = _Letter(format="A4")
    pdf.core_fonts_encoding = ENCODING
    pdf.set_creation_date(created)
    pdf.set_title(drawable(title))
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_margins(18, 18, 18)
    pdf.add_page()
    pdf.set_font("helvetica", style="B", size=15)
    pdf.multi_cell(0, 8, drawable(title), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if _is_underline(line):
            continue
        heading = index + 1 < len(lines) and _is_underline(lines[index + 1]) and line.strip()
        if heading:
            if pdf.get_y() + _KEEP_WITH_HEADING > pdf.page_break_trigger:
                pdf.add_page()
            else:
                pdf.ln(2)
            pdf.set_font("helvetica", style="B", size=12)
        else:
            pdf.set_font("helvetica", size=10)
        if not line.strip():
            pdf.ln(3)
            continue
        for part in _wrap(pdf, drawable(line)):
            pdf.cell(0, 5, part, new_x="LMARGIN", new_y="NEXT")
    if footer:
        pdf.ln(6)
        pdf.set_font("helvetica", style="I", size=8)
        pdf.multi_cell(0, 4, drawable(footer), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
