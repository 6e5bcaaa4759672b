"""Readable plain text from an HTML body, with the standard library only.

Scripts and styles are dropped and blocks become line breaks, so the classifier and staff read
what the sender saw.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_SPACES = re.compile(r"[ \t\f\v\xa0\u200b]+")
_BLANKS = re.compile(r"\n{3,}")


# -- HTML to text ------------------------------------------------------------------------------


class _HtmlToText(HTMLParser):
    """Visible text of an HTML body: scripts and styles dropped, blocks become line breaks."""

    _SKIP = frozenset({"script", "style", "title", "noscript", "template", "head"})
    _BLOCK = frozenset({
        "p", "div", "br", "li", "tr", "table", "ul", "ol", "blockquote", "pre", "hr",
        "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "header", "footer",
        "dd", "dt", "dl", "address", "body", "form", "fieldset",
    })

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0
        self._seen_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            # A <head> that was never closed must not swallow the body.
            self._seen_body = True
            self._skip = 0
        if tag in self._SKIP:
            self._skip += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Readable plain text from HTML with the standard library only."""
    parser = _HtmlToText()
    try:
        parser.feed(html)
        parser.close()
        text = "".join(parser.parts)
    except Exception:
        text = re.sub(r"<[^<>]*>", " ", html)
    lines = [_SPACES.sub(" ", line).strip() for line in text.replace("\r", "").split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()
