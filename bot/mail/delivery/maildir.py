"""The embedded default backend: letters written to a local maildir, so the service runs with
no mail server (an operator's mail client or a relay picks them up).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.message import EmailMessage
from pathlib import Path

from bot.mail.delivery.base import DeliveryError, DeliverySession
from mailformat import to_bytes


class MaildirBackend:
    """Writes each message as a file into a local maildir (``new/``), atomically (tmp + rename).

    The message is stored with LF line ends, as maildir readers expect. The file is named after
    the Message-ID, so a letter resent after a crash (delivered, but not yet recorded as sent)
    finds its file already there and is not written twice.
    """

    name = "maildir"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _write(self, data: bytes, message_id: str) -> str:
        key = "dsrbot-" + hashlib.sha256(message_id.encode()).hexdigest()[:32]
        for sub in ("tmp", "new", "cur"):
            (self.path / sub).mkdir(parents=True, exist_ok=True)
        if (self.path / "new" / key).exists() or any((self.path / "cur").glob(key + "*")):
            return key  # already delivered (a mail client may have moved it to cur/)
        tmp = self.path / "tmp" / f"{key}.{os.getpid()}"
        with tmp.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path / "new" / key)
        return key

    async def deliver(self, message: EmailMessage, *, sender: str, recipient: str) -> None:
        data = to_bytes(message, linesep="\n")
        try:
            await asyncio.to_thread(self._write, data, str(message["Message-ID"] or ""))
        except OSError as exc:
            raise DeliveryError(f"maildir write failed: {exc.__class__.__name__}",
                                detail=f"maildir write failed: {exc}") from exc

    @asynccontextmanager
    async def open(self) -> AsyncIterator[DeliverySession]:
        yield self
