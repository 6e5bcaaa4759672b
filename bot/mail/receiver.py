"""SMTP and LMTP receiver (aiosmtpd) running inside the service's own event loop.

Why these replies: the sending MTA keeps a message until we say ``250``, so ``250`` is said only
after the message is committed to the inbox (durability rule 1). Anything that goes wrong on our
side is ``451`` (try again later): the MTA keeps the mail and retries, where aiosmtpd's default
``500 Error: (SomeException) details`` would both leak internals and tell it to give up.
Mail for an address that is not ours is refused with ``550`` at RCPT, mail over the size limit
with ``552`` (``SIZE`` is advertised, so a well-behaved client does not even send it).

LMTP (RFC 2033) answers DATA once per accepted recipient; aiosmtpd answers once, so
:class:`PerRecipientLMTP` repeats the one status we decide for the message (all recipients are
ours and share one stored row, so they share its fate).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session

from bot.mail.receiver_trace import DnsTxt, trace_headers
from bot.settings import ReceiverSettings, Settings
from storage.db import Database
from storage.inbox import store_inbound

log = logging.getLogger(__name__)

OK = "250 2.0.0 OK: stored"
RCPT_OK = "250 2.1.5 OK"
RCPT_REFUSED = "550 5.1.1 Recipient address not accepted here"
TEMPORARY_FAILURE = "451 4.3.0 Temporary local problem, please try again later"


class InboxHandler:
    """aiosmtpd hooks: accept our addresses, store and commit, answer."""

    def __init__(
        self,
        db: Database,
        accepted: list[str],
        channel: str,
        on_stored: Callable[[], None] | None = None,
        *,
        trace: ReceiverSettings | None = None,
        dns: DnsTxt | None = None,
    ) -> None:
        self._db = db
        self._accepted = frozenset(a.strip().lower() for a in accepted)
        self._channel = channel
        self._on_stored = on_stored
        self._trace = trace or ReceiverSettings()
        self._dns = dns

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str,
        rcpt_options: list[str],
    ) -> str:
        if address.strip().lower() not in self._accepted:
            return RCPT_REFUSED
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return RCPT_OK

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        try:
            peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)
            row_id, new = await asyncio.to_thread(
                self._store, bytes(raw), envelope.mail_from or "", list(envelope.rcpt_tos),
                str(peer or ""), session.host_name or "",
            )
        except Exception as exc:
            # Class name only: database errors carry the message bytes in their parameters.
            log.error("storing an inbound message failed (%s); answered 451",
                      exc.__class__.__name__)
            return TEMPORARY_FAILURE
        log.info("inbound stored id=%s channel=%s new=%s", row_id, self._channel, new)
        if new and self._on_stored is not None:
            try:
                self._on_stored()
            except Exception:
                log.exception("on_stored callback failed (the message is stored)")
        return OK

    async def handle_exception(self, error: Exception) -> str:
        log.error("receiver error (%s); answered 451", error.__class__.__name__)
        return TEMPORARY_FAILURE

    def _store(self, raw: bytes, mail_from: str, rcpt_tos: list[str], peer: str = "",
               helo: str = "") -> tuple[int, bool]:
        now = datetime.now(UTC)
        cfg = self._trace
        # Our trace on top: where the mail came from and, from outside, our own DKIM verdict.
        trace = trace_headers(raw, peer=peer, helo=helo, authserv_id=cfg.authserv_id,
                              protocol=self._channel, trusted_relays=cfg.trusted_relays,
                              now=now, dns=self._dns, check_dkim=cfg.check_dkim)
        with self._db.session() as session:
            row, new = store_inbound(
                session, raw, channel=self._channel, envelope_from=mail_from,
                envelope_to=rcpt_tos, received_at=now, trace=trace,
            )
            row_id = row.id
        # The with-block has committed here: only now may the client hear 250.
        assert row_id is not None
        return row_id, new


#: RFC 5321 4.5.3.1.6 caps lines at 1000 octets, but senders break it and a refused request is
#: a lost request; accept long lines up to this (memory stays bounded by the size limit).
LONG_LINE_LIMIT = 1 << 20


class InboxSMTP(SMTP):
    line_length_limit = LONG_LINE_LIMIT


class PerRecipientLMTP(LMTP):
    """LMTP that gives the DATA status once per accepted recipient (RFC 2033 section 4.2)."""

    line_length_limit = LONG_LINE_LIMIT
    _rcpt_count = 0
    _in_data = False

    async def smtp_DATA(self, arg: str) -> None:
        self._rcpt_count = len(self.envelope.rcpt_tos) if self.envelope is not None else 0
        self._in_data = False
        try:
            await super().smtp_DATA(arg)
        except Exception as error:
            if not self._in_data:
                raise
            await self.push(await self.handle_exception(error))
        finally:
            self._rcpt_count = 0
            self._in_data = False

    async def push(self, status: Any) -> None:
        text = status if isinstance(status, str) else bytes(status).decode("ascii", "replace")
        if self._rcpt_count and not self._in_data and text.startswith("354"):
            self._in_data = True  # from here on, the next status is the DATA outcome
            await super().push(status)
            return
        if self._in_data:
            self._in_data = False
            for _ in range(self._rcpt_count):
                await super().push(status)
            return
        await super().push(status)


class MailReceiver:
    """The receiver as a service component (``start``/``stop``), bound to settings."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        on_stored: Callable[[], None] | None = None,
        *,
        dns: DnsTxt | None = None,
    ) -> None:
        cfg = settings.mail.receiver
        self._cfg = cfg
        self.name = f"{cfg.protocol}-receiver"
        self.port = cfg.port
        self._handler = InboxHandler(db, list(settings.organisation.addresses), cfg.protocol,
                                     on_stored, trace=cfg, dns=dns)
        self._server: asyncio.AbstractServer | None = None

    def _protocol(self) -> SMTP:
        cls = PerRecipientLMTP if self._cfg.protocol == "lmtp" else InboxSMTP
        return cls(
            self._handler,
            data_size_limit=self._cfg.max_message_bytes,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=self._hostname,
            ident="dsrbot",
        )

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        # getfqdn() can wait seconds on DNS; the bare host name is enough for a greeting.
        self._hostname = socket.gethostname()
        self._server = await loop.create_server(self._protocol, self._cfg.host, self._cfg.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("%s listening on %s:%s", self.name, self._cfg.host, self.port)

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        try:
            await asyncio.wait_for(self._server.wait_closed(), timeout=5)
        except TimeoutError:
            log.warning("%s: connections still open at stop", self.name)
        self._server = None
