"""Our server's verdict only (issue 21, item 4): RFC 8601 section 5 read strictly.

Function by function (``assess_identity`` on bytes) and end to end (the same bytes mailed to our
SMTP receiver, which writes its own trace, then the pipeline): a forged Authentication-Results
header never makes a sender "authenticated"; staff see it as claimed by the sender.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.mail.receiver_trace import MAX_DKIM_SIGNATURES, dkim_result
from handlers.identity import assess_identity
from storage.db import Database
from tests.identity_kit import by_email, dkim_world, mail, parse, register, settings
from tests.proofing_kit import OWNER, Service, make_settings, seed_register

AR_PASS = ("mx.rusttet.fi; dkim=pass header.d=example.fi header.s=s1; "
           "spf=pass smtp.mailfrom=example.fi; dmarc=pass header.from=example.fi")
OUR_RECEIVED = "from mail.example.fi ([192.0.2.10]) by mx.rusttet.fi with ESMTPS; Thu, 26 Nov 2026"
OUTSIDE_RECEIVED = "from laptop ([198.51.100.7]) by smtp.evil.test with ESMTP; Thu, 26 Nov 2026"


def level_of(raw: bytes) -> tuple[str, list[str]]:
    parsed = parse(raw)
    result = assess_identity(parsed, by_email(register(), parsed.from_address), [], settings())
    return result.level, result.flags


# -- function by function ------------------------------------------------------------------------


def test_authentication_results_above_every_outside_received_line_count() -> None:
    raw = mail(from_=OWNER, headers=[("Authentication-Results", AR_PASS),
                                     ("Received", OUR_RECEIVED),
                                     ("Received", OUTSIDE_RECEIVED)])
    assert level_of(raw)[0] == "authenticated"


def test_forged_authentication_results_below_received_are_ignored() -> None:
    raw = mail(from_=OWNER, headers=[("Received", OUR_RECEIVED),
                                     ("Received", OUTSIDE_RECEIVED),
                                     ("Authentication-Results", AR_PASS)])
    level, flags = level_of(raw)
    assert level == "claimed"
    assert "forged_authres" in flags


def test_two_authentication_results_claiming_our_server_are_both_untrusted() -> None:
    # The forgery on top says pass; ours (below it, written by our MX) would also say pass.
    raw = mail(from_=OWNER, headers=[("Authentication-Results", AR_PASS),
                                     ("Authentication-Results", AR_PASS),
                                     ("Received", OUR_RECEIVED)])
    level, flags = level_of(raw)
    assert level == "claimed"
    assert "forged_authres" in flags


# -- end to end through our SMTP receiver ----------------------------------------------------------


@pytest.fixture
def outside(tmp_path: Path, sqlite_db: Database) -> Iterator[Service]:
    seed_register(sqlite_db)
    service = Service(sqlite_db, make_settings(tmp_path, sqlite_db))
    yield service
    service.close()


@pytest.fixture
def behind_our_mx(tmp_path: Path, sqlite_db: Database) -> Iterator[Service]:
    seed_register(sqlite_db)
    service = Service(sqlite_db, make_settings(tmp_path, sqlite_db, trusted_relays=["127.0.0.1"]))
    yield service
    service.close()


def test_forged_authentication_results_below_received_are_ignored_end_to_end(
    behind_our_mx: Service,
) -> None:
    raw = mail(from_=OWNER, headers=[("Received", OUR_RECEIVED),
                                     ("Received", OUTSIDE_RECEIVED),
                                     ("Authentication-Results", AR_PASS)])
    behind_our_mx.send(raw)
    case = behind_our_mx.cases()[-1]
    assert case.verification_level == "claimed"
    assert any("claimed by the sender" in r for r in case.reasons)


def test_our_mx_verdict_counts_when_our_mx_relays_to_the_receiver(behind_our_mx: Service) -> None:
    raw = mail(from_=OWNER, headers=[("Authentication-Results", AR_PASS),
                                     ("Received", OUR_RECEIVED)])
    behind_our_mx.send(raw)
    assert behind_our_mx.cases()[-1].verification_level == "authenticated"


def test_mail_straight_from_outside_carries_no_trusted_header(outside: Service) -> None:
    # The same bytes our MX would have written, but they reach the receiver from the Internet.
    raw = mail(from_=OWNER, headers=[("Authentication-Results", AR_PASS),
                                     ("Received", OUR_RECEIVED)])
    outside.send(raw)
    case = outside.cases()[-1]
    assert case.verification_level == "claimed"
    assert any("claimed by the sender" in r for r in case.reasons)


def test_receiver_verifies_dkim_of_mail_from_outside_itself(outside: Service) -> None:
    raw = dkim_world().sign(mail(from_=OWNER), "example.fi")
    outside.send(raw)
    assert outside.cases()[-1].verification_level == "authenticated"


def test_receiver_reports_a_dkim_signature_of_another_key_as_failed(outside: Service) -> None:
    raw = dkim_world().sign(mail(from_=OWNER), "example.fi", key_of="evil.test")
    outside.send(raw)
    case = outside.cases()[-1]
    assert case.verification_level == "claimed"
    assert any("DMARC or DKIM failure" in r for r in case.reasons)


def test_receiver_checks_only_the_first_few_dkim_signatures_of_a_mail() -> None:
    """The receiver checks DKIM before it answers 250: a mail stacking forged signatures must
    not make it look up keys (each a DNS round trip) without end."""
    world = dkim_world()
    original = mail(from_=OWNER)
    signature = world.sign(original, "example.fi", key_of="evil.test")[: -len(original)]
    raw = signature * 40 + original
    asked: list[bytes] = []

    def dns(name: bytes, timeout: int = 5) -> bytes | None:
        asked.append(name)
        return world.dns(name, timeout)

    assert dkim_result(raw, dns) == "dkim=fail"
    assert 0 < len(asked) <= MAX_DKIM_SIGNATURES
