"""The eight attacks of issue 21 as impostor scenarios (kept apart: impostor_scenarios.py holds
the first twenty-odd). Four turn the owner's own reaction to our code letter against her (the
answers are built from the letter she received); four use a real, trusted signature of hers
over something else, or a verified colleague naming her by name only.
"""

from __future__ import annotations

from collections.abc import Callable
from email.message import EmailMessage
from email.policy import SMTP

from tests.identity_kit import clearsign, detached, mail, pgp_key, prepend

#: (who answers, a function of the code letter they received -> the mail they send)
Answer = tuple[str, Callable[[str, str, str], bytes]]

VICTIM = "maija.meikalainen@example.fi"
COLLEAGUE = "matti.virtanen@example.fi"
AR_FORGED = ("mx.rusttet.fi; dkim=none; spf=fail smtp.mailfrom=evil.test; "
             "dmarc=fail (p=none) header.from=example.fi")
ERASE = "Poistakaa kaikki tietoni rekisteristänne."
MOVE = "Osoitteeni on muuttunut: uusi osoite on Hyökkääjänkatu 1, 00100 Helsinki."
OLD_MAIL = "Kiitos tilauksesta, paketti tuli perille hyvin."


def forged_erasure(tag: str) -> bytes:
    return prepend(mail(from_=VICTIM, body=ERASE, subject="Tietojen poisto",
                        message_id=f"<{tag}@evil.test>"), [("Authentication-Results", AR_FORGED)])


def _reply(sender: str, body: str, subject: str, in_reply_to: str, tag: str,
           headers: tuple[tuple[str, str], ...] = ()) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, "info@rusttet.fi", subject
    msg["Message-ID"] = f"<{tag}@example.fi>"
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    msg.set_content(body)
    return prepend(msg.as_bytes(policy=SMTP), headers)


def _quoted(body: str) -> str:
    return "\n".join(f"> {line}" for line in body.splitlines())


def not_me(subject: str, body: str, message_id: str) -> bytes:
    return _reply(VICTIM, f"This was NOT me, do nothing!\n\n{_quoted(body)}",
                  f"Re: {subject}", message_id, "notme")


def forward(subject: str, body: str, message_id: str) -> bytes:
    return _reply(VICTIM, "what is this?\n\n---------- Forwarded message ---------\n"
                  f"From: info@rusttet.fi\nSubject: {subject}\n\n{body}",
                  f"Fwd: {subject}", "", "fwd")


def out_of_office(subject: str, body: str, message_id: str) -> bytes:
    return _reply(VICTIM, f"Olen lomalla 14.12. asti.\n\n{body}",
                  f"Automaattinen vastaus: {subject}", message_id, "ooo")


def leaked_code(subject: str, body: str, message_id: str) -> bytes:
    code = next(w for w in body.split() if w.count("-") == 3 and len(w) == 19)
    return _reply(VICTIM, f"Koodi: {code}", f"Re: {subject}", message_id, "leak",
                  headers=(("Authentication-Results", AR_FORGED),))


def colleague_confirms(subject: str, body: str, message_id: str) -> bytes:
    code = next(w for w in body.split() if w.count("-") == 3 and len(w) == 19)
    return _reply(COLLEAGUE, f"Koodi {code}", f"Re: {subject}", message_id, "colleague")


def signed_attack_mails() -> dict[str, bytes]:
    """Forged requests carrying the victim's real, trusted signature over something else."""
    key = pgp_key(f"Maija Meikäläinen <{VICTIM}>")
    old = b"Tilausvahvistus 5012345"
    sig = detached(key, old)
    forged = [("Authentication-Results", AR_FORGED)]
    return {
        "pasted_clearsigned_erasure": prepend(mail(
            from_=VICTIM, body=f"{ERASE}\n\n{clearsign(key, OLD_MAIL)}",
            message_id="<pasted@evil.test>"), forged),
        "detached_over_other_attachment_erasure": prepend(mail(
            from_=VICTIM, body=ERASE, message_id="<det-erase@evil.test>", attachments=[
                ("tilaus.txt", "text/plain", old),
                ("tilaus.txt.asc", "application/pgp-signature", sig)]), forged),
        "detached_over_other_attachment_address_change": prepend(mail(
            from_=VICTIM, body=MOVE, message_id="<det-move@evil.test>", attachments=[
                ("tilaus.txt", "text/plain", old),
                ("tilaus.txt.asc", "application/pgp-signature", sig)]), forged),
    }


def colleague_erasing_by_name() -> bytes:
    return mail(from_=COLLEAGUE, message_id="<colleague@example.fi>", subject="Poisto",
                body="Hei, poistakaa työkaverini Maija Meikäläisen kaikki tiedot "
                     "rekisteristänne. Hän on lopettanut.")
