"""Turn a raw mail body into the text the classifier should judge.

Real mail carries a lot that the sender did not write *now*: quoted reply chains (often our own
earlier answer, full of the very words a request uses), forwarded header blocks, signatures,
legal disclaimers and HTML markup. Judging those would turn "thanks, got my data" into an access
request. So the body is reduced to the sender's own new words first; the signature is kept apart
because entities (the name, the customer number) often live there.
"""

from __future__ import annotations

import functools
import html
import re
import unicodedata
from dataclasses import dataclass
from html.parser import HTMLParser

SHORT_FORWARD_NOTE = 15
"""Fewer words than this above a forwarded message: the forward carries the request."""
MAX_BODY_CHARS = 60_000
"""Longer bodies are cut: no request needs more, and 2 MB of text must stay fast."""

_HTML_HINT = re.compile(r"<(html|body|div|p|br|span|table|td|a\s|b>|i>|ul|li|font)\b", re.I)
_BLOCK_TAGS = frozenset(
    "p div br li ul ol tr table h1 h2 h3 h4 h5 h6 blockquote hr pre section article".split()
)
_SKIP_TAGS = frozenset({"script", "style", "head", "title"})

# A line that starts the quoted or forwarded part of a message: everything below it is old mail.
_REPLY_HEADER = re.compile(
    r"""^\s*(
        -{2,}\s*(original\s+message|alkuper[aä]inen\s+viesti|ursprungligt\s+meddelande
                 |forwarded\s+message|v[aä]litetty\s+viesti|vidarebefordrat\s+meddelande
                 |original\s+message)\s*-{2,}
      | -{3,}\s*original\s+message\s*-{3,}
      | begin\s+forwarded\s+message:?
      | on\s.{3,120}\swrote:\s*$
      | .{3,120}\s(kirjoitti|skrev)\s?.{0,40}:\s*$
      | (from|l[aä]hett[aä]j[aä]|fr[aå]n)\s*:\s.*$
      | _{8,}\s*$
    )""",
    re.I | re.X,
)
# Header lines of a quoted/forwarded block (used to drop the block when it is all there is).
_HEADER_LINE = re.compile(
    r"^\s*(from|to|cc|sent|date|subject|l[aä]hett[aä]j[aä]|vastaanottaja|l[aä]hetetty|aihe|"
    r"p[aä]iv[aä]m[aä]{1,2}r[aä]|kopio|fr[aå]n|till|skickat|datum|[aä]mne|kopia)\s*:",
    re.I,
)
_FORWARD_MARK = re.compile(
    r"forwarded\s+message|v[aä]litetty\s+viesti|vidarebefordrat\s+meddelande|begin\s+forwarded",
    re.I,
)
_FORWARD_SUBJECT = re.compile(
    r"^\s*(?:(?:re|vs|sv|aw|vast|antw)\s*:\s*)*(?:fwd?|vl|vb|wg|tr)\b\s*:?", re.I)
"""A forward's subject ("FW:", "Fwd:", "VL:", "VB:", "WG:", "TR:"), perhaps answered ("VS: VL:")."""
_FORWARD_NOTE = re.compile(
    r"\b(?:fyi|fw|fwd|forward\w*|passing (?:this|it) on|sending this|eteenp[aä]in|v[aä]lit[aä]n"
    r"|l[aä]het[aä]n t[aä]m[aä]n|vidare\w*|skickar (?:detta|det h[aä]r)"
    r"|(?:can|could) you (?:please )?(?:handle|take)|(?:pls|please) handle|kuuluu (?:nyt )?sinulle"
    r"|hoida(?:tko|isitko)|ta hand om|g[aä]ller (?:nog )?dig)\b",
    re.I,
)
"""A colleague's note that passes a mail on ("FYI", "laitan eteenpäin", "skickar vidare", "can
you handle this?", "tämä kuuluu sinulle", "kan du ta hand om detta?")."""
_UNCHECKED = re.compile(r"(?:\[ ?\]|☐|□)(?:(?!\[[ xX✓✔]?\]|☐|□|☒|☑|\n).)*")
_CHECKED = re.compile(r"\[[xX✓✔]\]|☒|☑")
_MOBILE_FOOTER = re.compile(
    r"^\s*(sent\s+from\s+my\s+\w+|get\s+outlook\s+for\s+\w+|l[aä]hetetty\s+(iphonesta|"
    r"androidista|android-\w+|\w+-laitteesta|mobiilista|puhelimesta)|skickat\s+fr[aå]n\s+min\s+\w+)",
    re.I,
)
_SIG_DELIMITER = re.compile(r"^\s*(--|—|__+)\s*$")
_CLOSING = re.compile(
    r"""^\s*(
        (yst[aä]v[aä]llisin\s+|parhain\s+|l[aä]mpimin\s+|hyv[aä]t\s+)?terveisin\b | terv\.?\b |
        t\.\s | t:\s* | kiitoksin | kiitos\s+(jo\s+)?etuk[aä]teen | kunnioittavasti |
        (best|kind|warm|with\s+kind|many)\s+(regards|thanks|wishes) | regards | best,?\s*$ |
        br,?\s | yours\s+(sincerely|faithfully|truly) | sincerely | cheers |
        thanks(\s+in\s+advance)?[,.!]?\s*$ | thank\s+you[,.!]?\s*$ | rgds |
        (med\s+)?(v[aä]nliga?|b[aä]sta|varma)\s+h[aä]lsning(ar)? | h[aä]lsningar | mvh |
        tack\s+p[aå]\s+f[oö]rhand | tack[,.!]?\s*$ | kiitos[,.!]?\s*$
    )""",
    re.I | re.X,
)
_DISCLAIMER = re.compile(
    r"(this\s+(e-?mail|message)(\s+and\s+any\s+(attachments?|files))?.{0,60}(confidential|"
    r"intended\s+(solely|only))|t[aä]m[aä]\s+(s[aä]hk[oö]posti)?viesti.{0,80}luottamukselli|"
    r"detta\s+(e-?post)?meddelande.{0,80}konfidentiell|if\s+you\s+(have\s+)?received\s+this"
    r".{0,40}in\s+error|jos\s+olet\s+saanut\s+t[aä]m[aä]n.{0,40}erehdyksess|please\s+consider\s+"
    r"the\s+environment|think\s+before\s+you\s+print|ajattele\s+ymp[aä]rist[oö][aä])",
    re.I | re.S,
)
_WS = re.compile(r"[ \t\u00a0]+")
# OpenPGP clear-signed text: the armour lines and the signature block are not words.
_PGP_BLOCK = re.compile(
    r"-----BEGIN PGP (?:SIGNATURE|PUBLIC KEY BLOCK|MESSAGE)-----(?:(?!-----BEGIN PGP ).)*?"
    r"-----END PGP [A-Z ]+-----",
    re.S,
)
_PGP_HEAD = re.compile(r"-----BEGIN PGP SIGNED MESSAGE-----\n(?:[A-Za-z-]+: .*\n)*\n?")


@dataclass(frozen=True)
class CleanText:
    """The parts of a message body, as the classifier and the entity extractor need them."""

    own: str
    """The sender's own new words: no quotes, forwards, signature, disclaimer, markup."""
    signature: str
    """The closing and signature block (names, titles, phone numbers live here); when there is
    no closing word, the trailing short lines, which then also remain in `own`."""
    full: str
    """The whole body as plain text (markup and OpenPGP armour removed, line ends normalised);
    entity offsets index this text."""
    new_end: int
    """Where the quoted or forwarded old mail starts in `full` (len(full) if there is none)."""


class _HtmlToText(HTMLParser):
    """Stdlib HTML-to-text: block tags become line breaks, blockquotes become '>' lines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0
        self._quote = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip += 1
        elif tag == "blockquote":
            self._quote += 1
            self.parts.append("\n")
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip = max(0, self._skip - 1)
        elif tag == "blockquote":
            self._quote = max(0, self._quote - 1)
            self.parts.append("\n")
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._quote:
            data = "\n".join("> " + line for line in data.split("\n"))
        self.parts.append(data)


def html_to_text(markup: str) -> str:
    """Plain text of an HTML body; never raises (broken markup gives its best text)."""
    parser = _HtmlToText()
    try:
        parser.feed(markup)
        parser.close()
    except (AssertionError, ValueError):  # pragma: no cover - HTMLParser is very lenient
        return html.unescape(re.sub(r"<[^<>]*>", " ", markup))
    text = "".join(parser.parts)
    return re.sub(r"\n\s*\n+", "\n\n", text)


def looks_like_html(text: str) -> bool:
    return bool(_HTML_HINT.search(text[:5000]))


class _WithoutCombining(dict[int, int | None]):
    """A `str.translate` table that drops combining marks and keeps every other character.
    Filled as characters are met (Latin and the other alphabets below U+3000 are remembered,
    so the table stays a few thousand entries whatever a mail holds)."""

    def __missing__(self, code: int) -> int | None:
        kept = None if unicodedata.combining(chr(code)) else code
        if code < 0x3000:
            self[code] = kept
        return kept


_NO_COMBINING = _WithoutCombining()


def fold(text: str) -> str:
    """Lower-case and strip diacritics, so 'rekisteristä' and 'rekisterista' meet."""
    lowered = text.casefold()
    if lowered.isascii():  # NFKD leaves ASCII as it is and it has no combining marks
        return lowered
    return unicodedata.normalize("NFKD", lowered).translate(_NO_COMBINING)


def _aligned_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for code in range(0x250):
        ch = chr(code)
        folded = fold(ch)
        if folded != ch:
            table[code] = folded if len(folded) == 1 else (ch.lower()[:1] or " ")
    return table


_ALIGNED = _aligned_table()


@functools.lru_cache(maxsize=32)
def fold_aligned(text: str) -> str:
    """`fold` that keeps every offset (one character in, one out): for spans found in folded
    text that must point back into `text`. Covers the Latin alphabets; others are lower-cased.
    Remembered for the last few texts: the reminder, date and representative rules fold the
    same words of a mail three or four times, and `translate` of non-ASCII text is slow."""
    if text.isascii():  # the table only lower-cases ASCII
        return text.lower()
    translated = text.translate(_ALIGNED)
    lowered = translated.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in translated)


def _strip_quoted(lines: list[str]) -> tuple[list[str], list[str]]:
    """Split lines into (new text, old text) at the first reply/forward header."""
    for i, line in enumerate(lines):
        if not _may_be_header(line):
            continue
        if _REPLY_HEADER.match(line) or (
            _HEADER_LINE.match(line) and any(_HEADER_LINE.match(n) for n in lines[i + 1:i + 3])
        ):
            return lines[:i], lines[i:]
    return lines, []


def _may_be_header(line: str) -> bool:
    """False where no header pattern can match: each branch needs a colon, dash, underscore or
    "forwarded" (only ASCII letters fold to these under IGNORECASE). Most lines have none, and
    the "... kirjoitti:" branch reads 120 characters of every line before it fails."""
    return ":" in line or "-" in line or "_" in line or "forwarded" in line.lower()


def _word_count(lines: list[str]) -> int:
    return sum(len(line.split()) for line in lines if not line.lstrip().startswith(">"))


def _forwarded_content(old: list[str]) -> list[str]:
    """The text of a forwarded message with its header block removed."""
    out: list[str] = []
    in_header = True
    for line in old:
        header = _HEADER_LINE.match(line) or _REPLY_HEADER.match(line)
        if in_header and (not line.strip() or header):
            continue
        in_header = False
        if line.lstrip().startswith(">"):
            continue
        out.append(line)
    return out


def _split_signature(lines: list[str]) -> tuple[list[str], list[str]]:
    """Split off the signature: after '-- ', a mobile footer, or a closing + short lines."""
    for i, line in enumerate(lines):
        if _SIG_DELIMITER.match(line) or _MOBILE_FOOTER.match(line):
            return lines[:i], lines[i:]
    for i, line in enumerate(lines):
        if i == 0 or not _CLOSING.match(line):
            continue
        tail = [t for t in lines[i + 1:] if t.strip()]
        if len(tail) <= 8 and all(len(t) <= 80 for t in tail):
            # "Kiitos, Juha" on one line: the closing itself belongs to the signature.
            return lines[:i], lines[i:]
    return lines, []


def _split_trailing_block(lines: list[str]) -> tuple[list[str], list[str]]:
    """A last paragraph of short unpunctuated lines (name, title, phone) is a signature."""
    end = len(lines)
    while end > 0 and not lines[end - 1].strip():
        end -= 1
    start = end
    while start > 0 and lines[start - 1].strip():
        start -= 1
    block = lines[start:end]
    if start == 0 or not block or len(block) > 8:
        return lines, []
    if all(len(t) <= 70 and not t.rstrip().endswith((".", "?", "!", ":")) for t in block) and (
        len(block) >= 2 or len(block[0].split()) <= 3
    ):
        return lines[:start], lines[start:]
    return lines, []


def _drop_disclaimers(text: str) -> str:
    paragraphs = re.split(r"\n\s*\n", text)
    return "\n\n".join(p for p in paragraphs if not _DISCLAIMER.search(p))


def new_text(body: str) -> str:
    """Only what the sender wrote now: the body above any quoted or forwarded part, without
    ``>`` lines, and never the forwarded message (unlike :func:`clean_body`, which lets a
    bare forward speak for the sender). For checks where old text must never count, such as a
    confirmation code."""
    text = body[:MAX_BODY_CHARS].replace("\r\n", "\n").replace("\r", "\n").replace("\x00", " ")
    if looks_like_html(text):
        text = html_to_text(text)
    new, _old = _strip_quoted(text.split("\n"))
    return "\n".join(line for line in new if not line.lstrip().startswith(">"))


def is_forward_subject(subject: str) -> bool:
    """"FW: x", "VL: x", "VS: VL: x": the mail passes another one on."""
    return bool(_FORWARD_SUBJECT.match(subject or ""))


def tick_boxes(text: str) -> str:
    """A filled-in form as what it asks: options left unticked ("[ ] Radering") go, the
    ticked ones ("[x] Tillgång") stay without their box. A form lists every right; only the
    ticked ones are asked for."""
    if "[" not in text and not any(ch in text for ch in "☐□☒☑"):
        return text
    return _CHECKED.sub(" ", _UNCHECKED.sub(" ", text))


def _is_forward(new: list[str], old: list[str], quoted: list[str], forwarded: bool) -> bool:
    """Whether the forwarded (or '>'-quoted) mail below speaks for the sender: a forward by its
    subject ("FW:", "VL:"), whatever the note on top says (a colleague passing on a customer's
    mail writes a line or a page about it, the request is below); or a short note above a
    marked forward ("---- Forwarded message ----") or above quoted mail the note says it
    passes on ("FYI", "laitan eteenpäin", "skickar vidare")."""
    if not (old or quoted):
        return False
    if forwarded:
        return True
    if _word_count(new) >= SHORT_FORWARD_NOTE:
        return False
    return bool(old and _FORWARD_MARK.search(old[0])) or bool(
        _FORWARD_NOTE.search(" ".join(new)))


def _unquote(lines: list[str]) -> list[str]:
    return [re.sub(r"^\s*>\s?", "", line) for line in lines]


def clean_body(body: str, *, forwarded: bool = False) -> CleanText:
    """Reduce a body to the sender's own words (see module docstring). `forwarded`: the
    subject says the mail is a forward (:func:`is_forward_subject`)."""
    text = body[:MAX_BODY_CHARS].replace("\r\n", "\n").replace("\r", "\n").replace("\x00", " ")
    if looks_like_html(text):
        text = html_to_text(text)
    if "-----BEGIN PGP" in text:
        text = _PGP_HEAD.sub("", _PGP_BLOCK.sub("", text))
        text = re.sub(r"(?m)^- (?=-)", "", text)  # dash-escaped lines
    text = tick_boxes(text)
    lines = text.split("\n")
    new, old = _strip_quoted(lines)
    new_end = min(len(text), sum(len(line) + 1 for line in new))
    quoted = [line for line in new if line.lstrip().startswith(">")]
    new = [line for line in new if not line.lstrip().startswith(">")]
    passed_on: list[str] = []
    if _is_forward(new, old, quoted, forwarded):
        # A bare forward, "my lawyer told me to send this" or a colleague's note on top of
        # one: the forwarded message is what the sender means.
        passed_on = [_WS.sub(" ", line) for line in _forwarded_content(_unquote(quoted + old))]
        new_end = len(text)
    # (In one pass: `_WS` never spans a line end.)
    new = _WS.sub(" ", "\n".join(new)).split("\n") if new else []
    own_lines, sig_lines = _split_signature(new)
    if passed_on:
        # The note's signature and the forwarded mail's are split apart each on its own, so a
        # "Thanks, Mark" in the note does not swallow the forwarded request as a signature.
        more_own, more_sig = _split_signature(passed_on)
        own_lines = [*own_lines, "", *more_own]
        sig_lines = [*sig_lines, "", *more_sig]
    own = _drop_disclaimers("\n".join(own_lines)).strip()
    signature = _drop_disclaimers("\n".join(sig_lines)).strip()
    if not own and signature:
        # "Kiitos, poistakaa tietoni." — a one-line mail that starts with a closing word.
        own, signature = signature, ""
    if not signature:
        # Without a closing word the last short lines are probably the signature; they stay
        # in `own` too (a last line may also be the request: "Unsubscribe").
        signature = "\n".join(_split_trailing_block(own.split("\n"))[1]).strip()
    return CleanText(own=own, signature=signature, full=text, new_end=new_end)


def older_text(clean: CleanText, *, headers: bool = True) -> str:
    """The quoted and forwarded older mail, without its '>' marks (and, unless `headers`,
    without its header lines): where a reminder's earlier request often is."""
    lines = [line for line in clean.full[: clean.new_end].split("\n")
             if line.lstrip().startswith(">")]
    lines += clean.full[clean.new_end:].split("\n")
    out = []
    for line in lines:
        line = re.sub(r"^\s*(?:>\s?)+", "", line)
        if not headers and (_HEADER_LINE.match(line) or _REPLY_HEADER.match(line)):
            continue
        out.append(line)
    return "\n".join(out).strip()
