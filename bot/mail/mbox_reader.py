"""Reading mbox files as they are written in the wild, without letting a body line split a mail.

An mbox is messages separated by ``From `` lines, so a body line that starts with ``From `` has
to be quoted by the writer. Writers differ:

* **mboxrd** (the default here): every ``>*From `` body line gets one more ``>``; reading takes
  one ``>`` off any ``>+From `` line. Lossless.
* **mboxo**: only ``From `` becomes ``>From ``; reading takes the ``>`` off ``>From ``. This is
  ambiguous: a body line that really was ``>From ...`` (a quoted reply) comes back as
  ``From ...``. Nothing can tell the two apart; choose mboxo only for files known to be mboxo.
* **Content-Length** (mboxcl/mboxcl2, Solaris, some MTAs): when a message has the header and it
  lands exactly on the next separator (or the end of the file), the message is that many body
  bytes whatever ``From `` lines they hold. A Content-Length that does not land on a separator
  is ignored (it was wrong, or the file was edited).

A ``From `` line only separates messages when it follows a blank line and looks like a real
separator: an address and then an asctime-style date (``From a@b.fi Tue Nov 24 10:00:00 2026``).
A writer that forgot to quote a body line usually leaves exactly such a line without a date, and
it stays in the body (counted in the item's ``notes``). When a separator that looks real still
seems to cut a message in two (the message before it is MIME multipart without its closing
boundary, its Content-Length runs past the line, or the part after it has neither Message-ID nor
Date), both parts are marked ``hold`` with a reason, so staff look at them instead of the second
half, with whatever ``From:`` it claims, becoming a request of its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path
from typing import BinaryIO, Literal

MboxFormat = Literal["mboxrd", "mboxo"]
MBOX_FORMATS: tuple[str, ...] = ("mboxrd", "mboxo")

#: A separator is short; longer lines are never tested against the pattern.
_MAX_SEPARATOR_BYTES = 300
_DAYS = rb"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_MONTHS = rb"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_SEPARATOR = re.compile(
    rb"From \S* +(?P<date>" + _DAYS + rb" +" + _MONTHS
    + rb" +\d{1,2} +\d{1,2}:\d{2}(?::\d{2})?(?: +(?P<zone>[A-Za-z]{1,5}|[+-]\d{4}))? +\d{4})"
    rb"(?: +(?P<offset>[+-]\d{4}))?(?: .*)?"
)
_QUOTED_RD = re.compile(rb">+From ")
_BLANK = (b"\n", b"\r\n")

SPLIT_NOTE = ("mbox: may be the second half of the message before it, split at a 'From ' line "
              "in its body ({why}); held for staff")
SPLIT_FIRST_NOTE = ("mbox: a 'From ' line in this message may have split it; the next message "
                    "in the file may be its second half; held for staff")


@dataclass(frozen=True)
class MboxMessage:
    raw: bytes
    delivered_at: datetime | None
    #: Bytes of the file this message accounts for (progress).
    size: int
    #: What the reader noticed (kept ``From `` lines, a possible split); ids and counts only.
    notes: tuple[str, ...] = ()
    #: A possible split: staff decide, the pipeline does not.
    hold: bool = False
    kept_from_lines: int = 0


def separator_date(line: bytes) -> datetime | None:
    """The date of a separator line, or None when ``line`` is not a separator."""
    if len(line) > _MAX_SEPARATOR_BYTES:
        return None
    match = _SEPARATOR.fullmatch(line.rstrip(b"\r\n"))
    if match is None:
        return None
    tokens = match.group("date").decode("ascii").split()
    zone = match.group("zone") or match.group("offset")
    if match.group("zone"):
        tokens.pop(4)
    clock = "%H:%M:%S" if tokens[3].count(":") == 2 else "%H:%M"
    try:
        parsed = datetime.strptime(" ".join(tokens), f"%a %b %d {clock} %Y")
    except ValueError:
        return None
    offset = timedelta()
    if zone and zone[:1] in (b"+", b"-"):
        sign = -1 if zone[:1] == b"-" else 1
        offset = sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5]))
    return (parsed - offset).replace(tzinfo=UTC)


def is_separator(line: bytes) -> bool:
    return line.startswith(b"From ") and separator_date(line) is not None


def _unquote(line: bytes, fmt: MboxFormat) -> bytes:
    if fmt == "mboxrd":
        return line[1:] if _QUOTED_RD.match(line) else line
    return line[1:] if line.startswith(b">From ") else line


def _headers(lines: list[bytes]) -> Message:
    return BytesHeaderParser(policy=compat32).parsebytes(b"".join(lines))


def _content_length(headers: Message) -> int | None:
    value = (headers.get("Content-Length") or "").strip()
    return int(value) if value.isdigit() and len(value) < 16 else None


@dataclass
class _Read:
    """One message as read, before its neighbour decides whether it looks split."""

    delivered_at: datetime | None
    head: list[bytes]
    body: list[bytes] = field(default_factory=list)
    size: int = 0
    kept: int = 0
    #: The file offset where a Content-Length that did not check out said the body ends.
    claimed_end: int | None = None
    end: int = 0
    _parsed: Message | None = None

    @property
    def headers(self) -> Message:
        """The header block, parsed once (the split check looks at it from both sides)."""
        if self._parsed is None:
            self._parsed = _headers(self.head)
        return self._parsed

    def item(self) -> MboxMessage:
        body = self.body
        if body and body[-1] in _BLANK:
            body = body[:-1]  # the blank line before a separator is the mbox's, not the mail's
        notes = (f"mbox: {self.kept} 'From ' line(s) in the body kept (no date: not a "
                 "message boundary)",) if self.kept else ()
        return MboxMessage(b"".join(self.head + body), self.delivered_at, self.size, notes,
                           kept_from_lines=self.kept)


class _Reader:
    def __init__(self, fh: BinaryIO, fmt: MboxFormat) -> None:
        self.fh = fh
        self.fmt = fmt

    def message(self, from_line: bytes) -> tuple[_Read, bytes]:
        """Read one message after ``from_line``; return it and the next separator (or b"")."""
        fh = self.fh
        msg = _Read(separator_date(from_line), [], size=len(from_line))
        while True:
            line = fh.readline()
            if not line or is_separator(line):
                msg.end = fh.tell() - len(line)
                return msg, line
            msg.head.append(line)
            msg.size += len(line)
            if line in _BLANK:
                break
        length = _content_length(msg.headers)
        if length is not None:
            ok, following = self._by_length(msg, length)
            if ok:
                return msg, following
        previous_blank = True
        while True:
            line = fh.readline()
            if not line:
                msg.end = fh.tell()
                return msg, b""
            if previous_blank and line.startswith(b"From "):
                if is_separator(line):
                    msg.end = fh.tell() - len(line)
                    return msg, line
                msg.kept += 1
            msg.body.append(_unquote(line, self.fmt))
            msg.size += len(line)
            previous_blank = line in _BLANK

    def _by_length(self, msg: _Read, length: int) -> tuple[bool, bytes]:
        """Take exactly ``length`` body bytes if they end on a separator or the file's end;
        (True, the next separator or b"") then, else (False, b"") with the file rewound."""
        fh = self.fh
        start = fh.tell()
        body = fh.read(length)
        following = fh.readline()
        if following in _BLANK:
            following = fh.readline()
        if len(body) != length or (following and not is_separator(following)):
            fh.seek(start)
            msg.claimed_end = start + length
            return False, b""
        msg.body = [_unquote(line, self.fmt) for line in body.splitlines(keepends=True)]
        msg.size += length
        msg.end = fh.tell() - len(following)
        return True, following


def _split_reason(before: _Read, after: _Read) -> str | None:
    """Why the separator between ``before`` and ``after`` may be a body line, if it may."""
    headers = before.headers
    boundary = headers.get_param("boundary") if headers.get_content_maintype() == "multipart" \
        else None
    if isinstance(boundary, str) and boundary:
        closing = b"--" + boundary.encode("ascii", "replace") + b"--"
        if not any(line.startswith(closing) for line in before.body):
            return "the message before it is MIME multipart and had not closed its parts"
    if before.claimed_end is not None and before.claimed_end > before.end:
        return "the message before it declares a Content-Length that runs past this line"
    second = after.headers
    if second.get("Message-ID") is None and second.get("Date") is None:
        return "it has neither Message-ID nor Date"
    return None


def read_mbox(path: Path, fmt: MboxFormat = "mboxrd") -> Iterator[MboxMessage]:
    """The messages of the mbox at ``path``, streamed (two in memory at a time)."""
    with path.open("rb") as fh:
        reader = _Reader(fh, fmt)
        line = fh.readline()  # the file starts with a From_ line (how it was recognised)
        previous: tuple[_Read, MboxMessage] | None = None
        while line:
            current, line = reader.message(line)
            item = current.item()
            if previous is not None:
                before, before_item = previous
                why = _split_reason(before, current)
                if why is not None:
                    before_item = replace(before_item, hold=True,
                                          notes=(*before_item.notes, SPLIT_FIRST_NOTE))
                    item = replace(item, hold=True,
                                   notes=(*item.notes, SPLIT_NOTE.format(why=why)))
                yield before_item
            previous = (current, item)
        if previous is not None:
            yield previous[1]
