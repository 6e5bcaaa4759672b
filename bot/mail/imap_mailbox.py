"""One sync of one IMAP mailbox: store what is new, then move out what became cases.

Why apart from the watcher (:mod:`bot.mail.imap_watcher`): the watcher is about staying
connected (login, IDLE, reconnect, tokens); this is about what one pass over the mailbox does
to the mailbox and to the database, which is where the durability rules live:

* **Nothing lost.** A message is fetched with ``BODY.PEEK[]``, stored and committed, and the
  stored UID (``ImapState.last_uid``) advances in that same transaction. The next pass starts
  from the last committed UID; anything fetched twice is one row (dedupe on Message-ID + hash).
* **UIDVALIDITY.** UIDs only mean something within one UIDVALIDITY. When the server reports a
  new one, the pass starts again from UID 0 and relies on the dedupe.
* **Mailbox stays a mailbox.** info@ is also the ordinary customer-service mailbox. ``PEEK``
  leaves ``\\Seen`` alone, and only messages the pipeline turned into (part of) a case (state
  ``processed`` with a ``case_id``) are moved to ``mail.imap.processed_folder`` (or given the
  ``$DsrProcessed`` keyword when the folder is ""). Everything else stays in INBOX, unread,
  where people read it. Our own canary probes are deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from imapclient import IMAPClient

from storage import inbox
from storage.db import Database

log = logging.getLogger(__name__)

PROCESSED_KEYWORD = "$DsrProcessed"
_FETCH_CHUNK = 20


def _chunks(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _as_utc(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.now(UTC)


class MailboxSync:
    """What a pass does; the watcher tells it the server's UIDNEXT and flag support first."""

    def __init__(self, db: Database, *, account: str, mailbox: str, processed_folder: str,
                 start_from: str) -> None:
        self._db = db
        self._account = account
        self._mailbox = mailbox
        self._folder = processed_folder.strip()
        self._start_from = start_from
        #: From SELECT: where "now" starts on a first start, and whether keywords may be set.
        self.uidnext = 1
        self.keyword_ok = False
        self._target: str | None = None

    def new_connection(self) -> None:
        """A new session may see another hierarchy: look the processed folder up again."""
        self._target = None

    def sync(self, client: IMAPClient, uidvalidity: int, notify: Callable[[], None]) -> int:
        """Store every message above the last stored UID; return how many rows were new."""
        client.noop()
        last_uid = self._last_uid(uidvalidity)
        found = client.search(["UID", f"{last_uid + 1}:*"])
        uids = sorted(int(u) for u in found if int(u) > last_uid)
        new_rows = 0
        for chunk in _chunks(uids, _FETCH_CHUNK):
            fetched = client.fetch(list(chunk), [b"BODY.PEEK[]", b"INTERNALDATE"])
            for uid in chunk:
                item = fetched.get(uid)
                if self._store(uid, uidvalidity, item):
                    new_rows += 1
                    notify()
        self._move_processed(client, uidvalidity)
        self._delete_probes(client, uidvalidity)
        return new_rows

    def _last_uid(self, uidvalidity: int) -> int:
        with self._db.session() as session:
            state = inbox.imap_state(session, self._account, self._mailbox)
            if state.uidvalidity != uidvalidity:
                start = 0
                if state.uidvalidity:
                    log.warning("imap watcher: UIDVALIDITY changed; reading the mailbox again "
                                "(already stored messages are recognised)")
                elif self._start_from == "now":
                    # First start on a mailbox people already use: its old mail is theirs;
                    # answering years of it would be wrong (a backlog is `dsrbot ingest`).
                    start = max(self.uidnext - 1, 0)
                    log.info("imap watcher: first start; mail already in the mailbox is left "
                             "alone (mail.imap.start_from = \"now\")")
                inbox.advance_imap_state(session, state, uidvalidity, start)
            return state.last_uid

    def _store(self, uid: int, uidvalidity: int, item: dict[bytes, Any] | None) -> bool:
        """Store one message and advance the UID in the same transaction; True if it was new."""
        raw = item.get(b"BODY[]") if item else None
        with self._db.session() as session:
            new = False
            if isinstance(raw, bytes):
                row, new = inbox.store_inbound(
                    session, raw, channel="imap", envelope_from="", envelope_to=[],
                    received_at=_as_utc(item.get(b"INTERNALDATE") if item else None),
                    imap=inbox.ImapLocation(self._mailbox, uidvalidity, uid),
                )
                log.info("inbound stored id=%s channel=imap new=%s", row.id, new)
            # else: expunged between SEARCH and FETCH; nothing to store, move past it.
            state = inbox.imap_state(session, self._account, self._mailbox)
            inbox.advance_imap_state(session, state, uidvalidity, max(state.last_uid, uid))
        return new

    def _move_processed(self, client: IMAPClient, uidvalidity: int) -> None:
        with self._db.read_session() as session:
            rows = inbox.imap_rows_to_move(session, self._mailbox, uidvalidity)
        if not rows:
            return
        uids = [uid for _, uid in rows]
        if self._folder:
            target = self._target_folder(client)
            if client.has_capability("MOVE"):
                client.move(uids, target)
            else:
                client.copy(uids, target)
                client.add_flags(uids, [b"\\Deleted"])
                if client.has_capability("UIDPLUS"):
                    client.uid_expunge(uids)
                else:
                    client.expunge()
        else:
            keyword = PROCESSED_KEYWORD if self.keyword_ok else "\\Flagged"
            client.add_flags(uids, [keyword.encode()])
        with self._db.session() as session:
            inbox.mark_imap_moved(session, [row_id for row_id, _ in rows])
        log.info("imap watcher: %d request(s) moved out of the mailbox", len(rows))

    def _delete_probes(self, client: IMAPClient, uidvalidity: int) -> None:
        """Our canary probes leave the mailbox for good: flagged deleted and expunged."""
        with self._db.read_session() as session:
            rows = inbox.imap_probes_to_delete(session, self._mailbox, uidvalidity)
        if not rows:
            return
        uids = [uid for _, uid in rows]
        client.add_flags(uids, [b"\\Deleted"])
        if client.has_capability("UIDPLUS"):
            client.uid_expunge(uids)
        else:
            client.expunge()
        with self._db.session() as session:
            inbox.mark_imap_moved(session, [row_id for row_id, _ in rows])
        log.info("imap watcher: %d canary probe(s) removed from the mailbox", len(rows))

    def _target_folder(self, client: IMAPClient) -> str:
        """The processed folder in the server's own hierarchy syntax; created when missing."""
        if self._target is not None:
            return self._target
        name = self._folder
        prefix, delimiter = "", "/"
        if client.has_capability("NAMESPACE"):
            personal = client.namespace().personal
            if personal:
                prefix, delimiter = personal[0][0] or "", personal[0][1] or "/"
        if delimiter != "/":
            name = name.replace("/", delimiter)
        if prefix and not name.startswith(prefix):
            name = prefix + name
        if not client.folder_exists(name):
            try:
                client.create_folder(name)
            except Exception:
                if not client.folder_exists(name):  # lost a race with another client: fine
                    raise
        self._target = name
        return name
