"""Outgoing mail delivery: the outbox sender loop and the backends it hands letters to.

``loop`` (the sender: why a loop over a table, at-least-once delivery), ``base`` (the backend
protocol and its error), ``maildir`` and ``smtp`` (one backend each) and ``backends`` (the one
chosen by ``mail.outgoing.backend``). Only this package speaks SMTP; the domain never opens a
socket.
"""

from bot.mail.delivery.backends import backend_from_settings
from bot.mail.delivery.base import DeliveryBackend, DeliveryError, DeliverySession
from bot.mail.delivery.loop import OutboxSender, PassResult
from bot.mail.delivery.maildir import MaildirBackend
from bot.mail.delivery.smtp import SmtpBackend

__all__ = [
    "DeliveryBackend",
    "DeliveryError",
    "DeliverySession",
    "MaildirBackend",
    "OutboxSender",
    "PassResult",
    "SmtpBackend",
    "backend_from_settings",
]
