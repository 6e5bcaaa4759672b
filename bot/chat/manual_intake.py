"""Manual intake: a request that came by letter or phone becomes an inbound message.

Why a real RFC 5322 message: the law does not care how a request arrived, and neither should
the product. Staff type (or photograph) it into the chat; we wrap it in a small mail and store
it in the durable inbox with channel ``manual``, and the same pipeline as for email parses,
classifies, identifies and opens the case. A photo or PDF of a signed letter travels as an
attachment, where the signature check marks it "staff to check".

The sender: if staff start the text with the requester's email address (a phone caller gave
one), that is the From address, and the identity rules treat it like any unauthenticated mail
(never more than "claimed"; a confirmation goes to the registered address). Otherwise the From
address is a unique placeholder in ``.invalid`` (RFC 2606): it never matches the register and no
mail can be sent to it, so nothing reaches anyone by accident; staff identify the person.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from mailformat import DsrbotError

#: Documents accepted as the scan of a letter.
ACCEPTED_TYPES = ("application/pdf", "image/")
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
PLACEHOLDER_DOMAIN = "intake.invalid"


class IntakeError(DsrbotError):
    """The manual request cannot be stored as given; the message says what to send instead."""


@dataclass(frozen=True)
class IntakeFile:
    filename: str
    content_type: str
    data: bytes


def accepted(content_type: str) -> bool:
    return any(content_type.lower().startswith(t) for t in ACCEPTED_TYPES)


def split_requester(text: str) -> tuple[str | None, str]:
    """A leading email address (the requester's, if staff know it) and the rest of the text."""
    parts = text.strip().split(maxsplit=1)
    candidate = parts[0].strip("<>,;") if parts else ""
    if _EMAIL.match(candidate):
        return candidate.lower(), (parts[1] if len(parts) > 1 else "").strip()
    return None, text.strip()


def build_manual_message(
    *,
    text: str,
    files: Sequence[IntakeFile],
    entered_by: str,
    to_address: str,
    domain: str,
    now: datetime,
) -> bytes:
    """The RFC 5322 bytes for one manual request."""
    requester, body = split_requester(text)
    if not body and not files:
        raise IntakeError("the request is empty: send its text, or a photo or PDF of the letter")
    for f in files:
        if not accepted(f.content_type):
            raise IntakeError("please send the letter as a PDF or a photo")
    msg = EmailMessage(policy=SMTP)
    token = uuid.uuid4().hex
    if requester:
        msg["From"] = requester
    else:
        msg["From"] = f"Manual intake <manual.{token[:12]}@{PLACEHOLDER_DOMAIN}>"
    msg["To"] = to_address
    msg["Subject"] = "Request received by letter or phone (entered by staff)"
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = f"<manual.{token}@{domain}>"
    msg["X-Dsrbot-Channel"] = "manual"
    msg["X-Dsrbot-Entered-By"] = entered_by
    msg.set_content(body or "(see the attached letter)", subtype="plain", charset="utf-8")
    for position, f in enumerate(files, start=1):
        maintype, _, subtype = f.content_type.lower().partition("/")
        name = _SAFE_NAME.sub("_", f.filename).strip("._") or f"letter-{position}"
        msg.add_attachment(f.data, maintype=maintype, subtype=subtype or "octet-stream",
                           filename=name)
    return msg.as_bytes()
