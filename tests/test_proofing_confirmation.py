"""A confirmation means this person confirms this request (issue 21, item 1).

The attack: a forged erasure in the owner's name; the owner answers our code letter in every
way a person or her mail server does. Only a code the owner typed herself, from her registered
address, in mail that did not fail DMARC/DKIM at our server, verifies. End to end through our
SMTP receiver, and function by function.
"""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import pytest

from handlers.challenge import find_codes
from handlers.identity.own_text import auto_reply_reasons, own_new_text, says_not_me
from storage.db import Database
from storage.models import CaseStatus, OutboundMessage
from tests.identity_kit import mail, parse, prepend
from tests.proofing_kit import OWNER, Service, code_in, make_settings, seed_register

ERASE = "Poistakaa kaikki tietoni rekisteristänne ja lopettakaa asiakkuuteni."
AR_FORGED = ("mx.rusttet.fi; dkim=none; spf=fail smtp.mailfrom=evil.test; "
             "dmarc=fail (p=none) header.from=example.fi")
OUR_RECEIVED = "from mail.evil.test ([198.51.100.7]) by mx.rusttet.fi with ESMTPS; Thu, 26 Nov 2026"


def reply(letter: OutboundMessage, body: str, *, subject: str | None = None,
          thread: bool = True, headers: tuple[tuple[str, str], ...] = ()) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"] = f"Maija <{OWNER}>", "info@rusttet.fi"
    msg["Subject"] = subject if subject is not None else f"Re: {letter.subject}"
    msg["Message-ID"] = f"<reply-{abs(hash((body, subject)))}@example.fi>"
    if thread:
        msg["In-Reply-To"] = letter.message_id
        msg["References"] = letter.message_id
    msg.set_content(body)
    return prepend(msg.as_bytes(policy=SMTP), headers)


def quoted(letter: OutboundMessage) -> str:
    return "\n".join(f"> {line}" for line in letter.body_text.splitlines())


@pytest.fixture
def svc(tmp_path: Path, sqlite_db: Database) -> Iterator[Service]:
    seed_register(sqlite_db)
    service = Service(sqlite_db, make_settings(
        tmp_path, sqlite_db, auto_approve=["erasure", "access", "marketing_optout"],
        trusted_relays=["127.0.0.1"]))
    yield service
    service.close()


def forged_erasure(svc: Service) -> OutboundMessage:
    """The attacker's erasure in the owner's name, as our MX saw it (DMARC fail)."""
    svc.send(mail(from_=OWNER, body=ERASE, subject="Tietojen poisto",
                  message_id="<forged-1@evil.test>",
                  headers=[("Authentication-Results", AR_FORGED), ("Received", OUR_RECEIVED)]))
    case = svc.cases()[-1]
    assert case.status == CaseStatus.AWAITING_IDENTITY
    return svc.code_letter()


def assert_untouched(svc: Service) -> None:
    owner = svc.customer()
    assert owner.anonymised_at is None and owner.email == OWNER
    assert svc.cases()[0].verification_level != "verified"


# -- the code letter says what is being confirmed -------------------------------------------------


def test_code_letter_names_the_request_and_how_to_say_not_me(svc: Service) -> None:
    letter = forged_erasure(svc)
    case = svc.cases()[-1]
    assert case.id in letter.body_text
    assert "Tietojen poisto" in letter.body_text  # the subject line of the request
    assert "poisto" in letter.body_text.lower()  # the request type, by name
    assert "en ollut minä" in letter.body_text  # how to say "not me"


# -- end to end ----------------------------------------------------------------------------------


def test_not_me_reply_cancels_the_forged_request(svc: Service) -> None:
    letter = forged_erasure(svc)
    svc.send(reply(letter, f"This was NOT me, do nothing!\n\n{quoted(letter)}"))
    case = svc.cases()[-1]
    assert case.status == CaseStatus.WITHDRAWN
    assert_untouched(svc)
    assert svc.letters("identity_cancelled", OWNER)
    assert all(c.consumed_at is not None for c in svc.challenges())
    # The code quoted in the reply is dead: typing it later confirms nothing.
    svc.send(reply(letter, f"Koodi {code_in(letter)}"))
    assert_untouched(svc)


def test_quoted_code_never_verifies(svc: Service) -> None:
    letter = forged_erasure(svc)
    body = f"Mikä tämä on?\n\nOn Thu, 26 Nov 2026 info@rusttet.fi wrote:\n{quoted(letter)}"
    svc.send(reply(letter, body))
    assert_untouched(svc)
    assert svc.cases()[-1].status == CaseStatus.AWAITING_IDENTITY
    # A person asked: she is told what is still needed, never silence.
    assert svc.letters("identity_still_needed", OWNER)


def test_forwarded_code_never_verifies(svc: Service) -> None:
    letter = forged_erasure(svc)
    body = ("what is this?\n\n---------- Forwarded message ---------\n"
            "From: info@rusttet.fi\nDate: Thu, 26 Nov 2026\nSubject: " + letter.subject +
            "\nTo: " + OWNER + "\n\n" + letter.body_text)
    svc.send(reply(letter, body, subject=f"Fwd: {letter.subject}", thread=False))
    assert_untouched(svc)


def test_code_in_a_forwarded_message_part_never_verifies(svc: Service) -> None:
    letter = forged_erasure(svc)
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = OWNER, "info@rusttet.fi", f"Fwd: {letter.subject}"
    msg["Message-ID"] = "<fwd-part@example.fi>"
    msg.set_content("what is this?")
    inner = EmailMessage()
    inner["From"], inner["Subject"] = "info@rusttet.fi", letter.subject
    inner.set_content(letter.body_text)
    msg.add_attachment(inner)
    svc.send(msg.as_bytes(policy=SMTP))
    assert_untouched(svc)


def test_autoreply_quoting_code_never_verifies(svc: Service) -> None:
    letter = forged_erasure(svc)
    # An out-of-office reply without RFC 3834 headers that echoes our letter unquoted.
    svc.send(reply(letter, f"Olen lomalla 14.12. asti.\n\n{letter.body_text}",
                   subject=f"Automaattinen vastaus: {letter.subject}"))
    assert_untouched(svc)
    # Nothing happens at all: no confirmation, no cancellation, and robots are never answered.
    assert svc.cases()[-1].status == CaseStatus.AWAITING_IDENTITY
    assert not svc.letters("identity_still_needed") and not svc.letters("identity_cancelled")


def test_leaked_code_in_mail_failing_dmarc_at_our_server_never_verifies(svc: Service) -> None:
    letter = forged_erasure(svc)
    svc.send(reply(letter, f"Koodi: {code_in(letter)}",
                   headers=(("Authentication-Results", AR_FORGED), ("Received", OUR_RECEIVED))))
    assert_untouched(svc)


AR_DKIM_FAILED = "mx.rusttet.fi; dkim=fail (bad signature) header.d=example.fi; spf=none"


def test_leaked_code_in_mail_failing_dkim_at_our_server_never_verifies(svc: Service) -> None:
    letter = forged_erasure(svc)
    svc.send(reply(letter, f"Koodi: {code_in(letter)}",
                   headers=(("Authentication-Results", AR_DKIM_FAILED),
                            ("Received", OUR_RECEIVED))))
    assert_untouched(svc)


def test_code_in_an_attachment_never_verifies(svc: Service) -> None:
    letter = forged_erasure(svc)
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = OWNER, "info@rusttet.fi", f"Re: {letter.subject}"
    msg["Message-ID"], msg["In-Reply-To"] = "<attached-code@example.fi>", letter.message_id
    msg.set_content("Katso liite.")
    msg.add_attachment(f"Koodi: {code_in(letter)}\n", filename="koodi.txt")
    svc.send(msg.as_bytes(policy=SMTP))
    assert_untouched(svc)
    assert find_codes(own_new_text(parse(msg.as_bytes(policy=SMTP)))) == []


def test_correct_typed_code_from_the_registered_address_verifies(svc: Service) -> None:
    letter = forged_erasure(svc)
    svc.send(reply(letter, f"Kyllä, pyyntö on minun. Koodi: {code_in(letter)}\n\n"
                           f"{quoted(letter)}"))
    assert svc.cases()[-1].verification_level == "verified"


def test_correct_code_without_in_reply_to_finds_its_case_by_the_code(svc: Service) -> None:
    letter = forged_erasure(svc)
    svc.send(reply(letter, f"Vahvistan: {code_in(letter)}", subject="vahvistus", thread=False))
    cases = svc.cases()
    assert len(cases) == 1 and cases[0].verification_level == "verified"


def test_correct_code_without_in_reply_to_finds_its_case_by_the_subject(svc: Service) -> None:
    letter = forged_erasure(svc)
    case_id = svc.cases()[-1].id
    svc.send(reply(letter, f"{code_in(letter)}", subject=f"Vahvistus {case_id}", thread=False))
    assert svc.cases()[-1].verification_level == "verified"


# -- function by function ------------------------------------------------------------------------

LETTER = ("Hei,\n\nVahvistuskoodi: 7KQ2-M9XD-0PAW-3RNB\n"
          "Jos et ole tehnyt tätä pyyntöä, vastaa sanoilla \"en ollut minä\".\n")


def own(body: str, subject: str = "Re: Vahvista pyyntösi") -> str:
    return own_new_text(parse(mail(from_=OWNER, body=body, subject=subject)))


def test_quoted_code_is_not_in_the_senders_own_text() -> None:
    gt = "\n".join(f"> {line}" for line in LETTER.splitlines())
    assert find_codes(own(f"Mikä tämä on?\n\n{gt}")) == []
    assert find_codes(own(f"Mikä tämä?\n\nma 7.12.2026 klo 9.00 info@rusttet.fi kirjoitti:\n"
                          f"{LETTER}")) == []
    assert find_codes(own(f"What?\n\n-----Original Message-----\nFrom: info@rusttet.fi\n"
                          f"Sent: Monday\nTo: maija\nSubject: x\n\n{LETTER}")) == []
    assert find_codes(own("Koodi 7KQ2-M9XD-0PAW-3RNB")) == ["7KQ2-M9XD-0PAW-3RNB"]


def test_forwarded_code_is_not_in_the_senders_own_text() -> None:
    for mark in ("---------- Forwarded message ---------", "-----Välitetty viesti-----",
                 "-----Vidarebefordrat meddelande-----"):
        assert find_codes(own(f"?\n\n{mark}\nFrom: info@rusttet.fi\n\n{LETTER}")) == []


@pytest.mark.parametrize("subject,body,headers", [
    ("Automaattinen vastaus: Vahvista", "Olen lomalla.", ()),
    ("Out of Office: Please confirm", "I am out of the office until Monday.", ()),
    ("Automatiskt svar: Bekräfta", "Jag är på semester.", ()),
    ("Re: Vahvista", "Kiitos", (("Auto-Submitted", "auto-replied"),)),
    ("Re: Vahvista", "Kiitos", (("X-Autoreply", "yes"),)),
    ("Re: Vahvista", "Kiitos", (("Precedence", "auto_reply"),)),
])
def test_autoreply_quoting_code_is_recognised_as_automatic(
    subject: str, body: str, headers: tuple[tuple[str, str], ...]
) -> None:
    assert auto_reply_reasons(parse(mail(from_=OWNER, subject=subject, body=body,
                                         headers=headers)))


def test_a_persons_reply_is_not_automatic() -> None:
    assert not auto_reply_reasons(parse(mail(from_=OWNER, subject="Re: Vahvista pyyntösi",
                                             body="Koodi 7KQ2-M9XD-0PAW-3RNB, kiitos.",
                                             headers=(("Auto-Submitted", "no"),))))


@pytest.mark.parametrize("text", [
    "This was NOT me, do nothing", "I did not send this", "En ole lähettänyt tätä",
    "en ollut minä", "Se ei ollut minä!", "Det var inte jag", "Jag har inte skickat något",
])
def test_not_me_is_understood_in_finnish_english_and_swedish(text: str) -> None:
    assert says_not_me(text)


def test_a_confirmation_is_not_read_as_not_me() -> None:
    assert not says_not_me("Kyllä, pyyntö on minun. Koodi 7KQ2-M9XD-0PAW-3RNB")
