"""Backlog import: ``.eml`` files, maildirs and mbox files into the same inbox and pipeline.

Why it goes through :func:`storage.inbox.store_inbound` like the live channels: the backlog then
gets the same dedupe (an mbox imported twice adds nothing the second time), the same triage and
the same pipeline, and a half-finished import can simply be run again. mbox files are read
by :mod:`bot.mail.mbox_reader` (mboxrd or mboxo quoting, Content-Length, real separators only);
a message that a ``From `` line may have split is held for staff with the reason on its row.

Each message's ``received_at`` is when it reached our mail system, because the legal deadline
counts from receipt, not from the import: the newest ``Received:`` header, else the mbox
``From_`` line, else the ``Date:`` header, else the file's modification time (never in the
future). Messages are committed in batches; a crash loses nothing, since the files remain and
a re-run recognises what is already stored.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Literal

from sqlmodel import col, select

from bot.mail.mbox_reader import MboxFormat, read_mbox
from bot.pipeline import run_once
from bot.settings import Settings
from handlers.triage import triage_raw
from mailformat import raw_headers
from storage import inbox
from storage.db import Database
from storage.models import InboundMessage, InboundState

log = logging.getLogger(__name__)

Mode = Literal["pipeline", "triage", "store"]
_BATCH = 200


@dataclass(frozen=True)
class MailItem:
    raw: bytes
    #: When the message reached a mail system, if the container says so.
    delivered_at: datetime | None
    #: File-system time of the file holding it (last resort for ``received_at``).
    file_time: datetime | None
    #: Bytes of the source file this item accounts for (progress).
    size: int
    #: What the mbox reader noticed; they become the inbound row's reasons when ``hold``.
    notes: tuple[str, ...] = ()
    #: Possibly one half of a message split at a ``From `` line: held for staff.
    hold: bool = False
    kept_from_lines: int = 0


@dataclass
class IngestSummary:
    messages: int = 0
    stored: int = 0
    duplicates: int = 0
    processed: int = 0
    ignored: int = 0
    quarantined: int = 0
    held: int = 0
    #: Stored but not yet processed (``--store-only``, or the pipeline is not available).
    pending: int = 0
    #: mbox: parts of a message that a ``From `` line may have split (held for staff), and
    #: body ``From `` lines without a date kept inside their message.
    split_held: int = 0
    from_lines_kept: int = 0
    errors: list[str] = field(default_factory=list)
    new_ids: list[int] = field(default_factory=list, repr=False)

    def line(self) -> str:
        return (
            f"{self.messages} message(s): {self.stored} stored, {self.duplicates} duplicate(s); "
            f"{self.processed} processed, {self.ignored} ignored, {self.quarantined} quarantined, "
            f"{self.held} held, {self.pending} waiting for the pipeline"
            + (f"; mbox: {self.split_held} part(s) of a possibly split message held for staff"
               if self.split_held else "")
            + (f"; mbox: {self.from_lines_kept} unquoted 'From ' line(s) kept inside their "
               "message" if self.from_lines_kept else "")
            + (f"; {len(self.errors)} error(s)" if self.errors else "")
        )


# -- reading sources ---------------------------------------------------------------------------


def _mtime(path: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except OSError:
        return None


def iter_mbox(path: Path, fmt: MboxFormat = "mboxrd") -> Iterator[MailItem]:
    """Messages of an mbox, streamed (see :mod:`bot.mail.mbox_reader` for what counts)."""
    file_time = _mtime(path)
    for message in read_mbox(path, fmt):
        yield MailItem(message.raw, message.delivered_at, file_time, message.size,
                       notes=message.notes, hold=message.hold,
                       kept_from_lines=message.kept_from_lines)


def _read_file(path: Path, fmt: MboxFormat) -> Iterator[MailItem]:
    with path.open("rb") as fh:
        head = fh.read(5)
    if head == b"From ":
        yield from iter_mbox(path, fmt)
        return
    raw = path.read_bytes()
    yield MailItem(raw, None, _mtime(path), len(raw))


def _is_maildir(path: Path) -> bool:
    return (path / "cur").is_dir() or (path / "new").is_dir()


def _maildir_files(path: Path) -> list[Path]:
    files: list[Path] = []
    for sub in ("new", "cur"):
        folder = path / sub
        if folder.is_dir():
            files.extend(sorted(p for p in folder.iterdir() if p.is_file()))
    return files


def expand(paths: Iterable[Path], errors: list[str]) -> list[Path]:
    """Files to read, in a stable order: maildirs (with their Maildir++ folders), dirs, files."""
    found: list[Path] = []
    for path in paths:
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            if _is_maildir(path):
                found.extend(_maildir_files(path))
            for sub in sorted(p for p in path.iterdir() if p.is_dir()):
                if sub.name in ("cur", "new", "tmp"):
                    continue
                found.extend(expand([sub], errors))
            if not _is_maildir(path):
                found.extend(sorted(p for p in path.iterdir() if p.is_file()))
        else:
            errors.append(f"{path}: no such file or directory")
    return found


def iter_items(
    files: Iterable[Path], errors: list[str], fmt: MboxFormat = "mboxrd"
) -> Iterator[MailItem]:
    for path in files:
        try:
            yield from _read_file(path, fmt)
        except OSError as exc:
            errors.append(f"{path}: cannot read ({exc.strerror or exc.__class__.__name__})")


# -- when did it arrive ------------------------------------------------------------------------


def _header_dates(raw: bytes) -> tuple[datetime | None, datetime | None]:
    """(newest Received: date, Date:) from the header block, without a full parse."""
    received: datetime | None = None
    date: datetime | None = None
    for name, value in raw_headers(raw):
        lname = name.lower()
        if lname == "received" and received is None:
            received = _date(value.rpartition(";")[2])
        elif lname == "date" and date is None:
            date = _date(value)
    return received, date


def _date(value: str) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def received_at(item: MailItem, now: datetime) -> datetime:
    received, date = _header_dates(item.raw)
    for candidate in (received, item.delivered_at, date, item.file_time):
        if candidate is not None and candidate.year >= 1990:
            return min(candidate.astimezone(UTC), now)
    return now


# -- the import --------------------------------------------------------------------------------


_STATE_FOR = {
    "ignore": InboundState.IGNORED,
    "quarantine": InboundState.QUARANTINED,
    "held": InboundState.HELD,
}


def _triage_outcome(
    row_id: int, raw: bytes, settings: Settings
) -> tuple[int, InboundState, list[str]] | None:
    """The pipeline's first stages, for ``mode="triage"``: robots and broken mail stop here.

    Mail that passes stays ``received`` for the pipeline, which triages again (cheaply) and
    applies the per-sender rate limit against the live inbox.
    """
    _, verdict = triage_raw(raw, envelope_from="", org_addresses=settings.organisation.addresses)
    state = _STATE_FOR.get(verdict.verdict)
    return (row_id, state, verdict.reasons) if state is not None else None


def ingest_paths(
    db: Database,
    settings: Settings,
    paths: Iterable[Path],
    *,
    mode: Mode = "pipeline",
    progress: Callable[[int, int], None] | None = None,
    batch_size: int = _BATCH,
    mbox_format: MboxFormat = "mboxrd",
) -> IngestSummary:
    """Store every message under ``paths``; then triage or run the pipeline as ``mode`` says.

    ``progress(bytes_done, messages_done)`` is called after every batch commit.
    """
    summary = IngestSummary()
    files = expand(paths, summary.errors)
    done_bytes = 0
    now = datetime.now(UTC)
    items = iter_items(files, summary.errors, mbox_format)
    while True:
        batch = [item for _, item in zip(range(batch_size), items, strict=False)]
        if not batch:
            break
        messages = [inbox.NewMessage(item.raw, "file", received_at(item, now)) for item in batch]
        with db.session() as session:
            results = inbox.store_many(session, messages)
            outcomes = []
            for item, (row_id, new) in zip(batch, results, strict=True):
                summary.messages += 1
                summary.from_lines_kept += item.kept_from_lines
                summary.split_held += item.hold
                if not new:
                    summary.duplicates += 1
                    continue
                summary.stored += 1
                summary.new_ids.append(row_id)
                if item.hold:
                    outcomes.append((row_id, InboundState.HELD, list(item.notes)))
                elif mode == "triage" and (
                    outcome := _triage_outcome(row_id, item.raw, settings)
                ):
                    outcomes.append(outcome)
            inbox.mark_many(session, outcomes)
        done_bytes += sum(item.size for item in batch)
        if progress is not None:
            progress(done_bytes, summary.messages)
    if mode == "pipeline" and summary.new_ids:
        # The whole way: requests become cases, auto-approved ones are carried out and
        # their letters wait in the outbox (`dsrbot run` delivers them).
        run_once(db, settings)
    _count_states(db, summary)
    return summary


def _count_states(db: Database, summary: IngestSummary) -> None:
    counts: dict[str, int] = {}
    ids = summary.new_ids
    with db.read_session() as session:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for state in session.exec(
                select(InboundMessage.state).where(col(InboundMessage.id).in_(chunk))
            ).all():
                counts[state] = counts.get(state, 0) + 1
    summary.processed = counts.get(InboundState.PROCESSED.value, 0)
    summary.ignored = counts.get(InboundState.IGNORED.value, 0)
    summary.quarantined = counts.get(InboundState.QUARANTINED.value, 0)
    summary.held = counts.get(InboundState.HELD.value, 0)
    summary.pending = counts.get(InboundState.RECEIVED.value, 0)


def total_bytes(paths: Iterable[Path]) -> int:
    """Size of everything ``paths`` covers (for the progress bar's total)."""
    total = 0
    for path in expand(paths, []):
        try:
            total += os.path.getsize(path)
        except OSError:
            continue
    return total
