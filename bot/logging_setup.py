"""Logging for ``dsrbot run``: one JSON object per line, ids only, no personal data.

Why JSON lines: operators feed the service's output to journald, Loki or a file and filter by
``case_id`` or ``inbound_id``; one object per line survives every log shipper. Why no messages
of exceptions: a database error's text carries the SQL parameters (names, addresses, mail
bodies), so an exception is logged as its class and the frames of its traceback only. As a last
net, anything that looks like an email address in a log line is masked before it is written.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
from datetime import UTC, datetime
from typing import IO, Any

#: Attributes a caller may pass with ``extra=`` that are copied into the JSON object.
ID_FIELDS = ("case_id", "inbound_id", "outbound_id", "component", "counts")

_EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
#: Ids that modules write into their messages (``outbound_id=3``, ``case DSR-2026-0001``);
#: lifted into fields so a log search by id finds them even without ``extra=``.
_IN_MESSAGE = (
    ("case_id", re.compile(r"\b(DSR-\d{4}-\d{4,6})\b")),
    ("inbound_id", re.compile(r"\binbound_id=(\d+)\b")),
    ("outbound_id", re.compile(r"\boutbound_id=(\d+)\b")),
)


def mask_addresses(text: str) -> str:
    """Replace anything shaped like an email address with a placeholder."""
    return _EMAIL.sub("<address>", text)


def _stack(exc: BaseException) -> list[str]:
    """Where the error happened (file:line in function), never what it said."""
    frames = traceback.extract_tb(exc.__traceback__)
    return [f"{f.filename}:{f.lineno} in {f.name}" for f in frames[-8:]]


class JsonLineFormatter(logging.Formatter):
    """Formats a record as one JSON object: time, level, logger, message and the ids passed."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": mask_addresses(record.getMessage()),
        }
        for name in ID_FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                entry[name] = value
        for name, pattern in _IN_MESSAGE:
            match = pattern.search(entry["message"])
            if name not in entry and match:
                found = match.group(1)
                entry[name] = int(found) if found.isdigit() else found
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            entry["error"] = exc.__class__.__name__
            entry["stack"] = _stack(exc)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: int = logging.INFO, stream: IO[str] | None = None) -> logging.Handler:
    """Send every log record of the process to ``stream`` (stderr) as JSON lines.

    Replaces handlers already on the root logger, so calling it twice does not double lines.
    Returns the handler (tests attach it to a buffer).
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLineFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        if isinstance(old.formatter, JsonLineFormatter):
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Third-party chatter at INFO would log request URLs (the Telegram token is in them).
    for noisy in ("httpx", "httpcore", "telegram", "apscheduler", "mail.log", "aiosmtpd"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return handler
