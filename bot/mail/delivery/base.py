"""What a delivery backend is (a session that sends one message at a time) and how it fails.

A :class:`DeliveryError` says whether the failure is permanent (retrying cannot help) or
temporary (retried with backoff), so the loop never guesses from exception types.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from email.message import EmailMessage
from typing import Protocol

from mailformat import DsrbotError


class DeliveryError(DsrbotError):
    """A delivery that did not happen.

    ``reason`` is short and free of personal data (it goes to the audit log and the logs);
    ``detail`` may quote the server's reply and is kept on the row only. ``permanent`` means
    retrying cannot help (a 5xx for this recipient or this message).
    """

    def __init__(self, reason: str, *, permanent: bool = False, detail: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.detail = detail or reason


class DeliverySession(Protocol):
    async def deliver(self, message: EmailMessage, *, sender: str, recipient: str) -> None:
        """Hand one message over, or raise :class:`DeliveryError`."""
        ...


class DeliveryBackend(Protocol):
    name: str

    def open(self) -> AbstractAsyncContextManager[DeliverySession]:
        """One batch of deliveries (one SMTP connection for the batch)."""
        ...
