"""Triage: no robot is ever answered, broken mail is quarantined, floods are held."""

from __future__ import annotations

import pytest

from handlers.parse import parse_message
from handlers.triage import apply_rate_limit, triage, triage_raw

ORG = ["info@rusttet.fi"]


def _mail(headers: str = "", sender: str = "Maija <maija@example.fi>",
          ctype: str = "text/plain; charset=utf-8") -> bytes:
    return (
        f"From: {sender}\r\nTo: info@rusttet.fi\r\nSubject: Pyyntö\r\n"
        f"Message-ID: <m1@example.fi>\r\n{headers}Content-Type: {ctype}\r\n\r\n"
        "Haluan nähdä tietoni.\r\n"
    ).encode()


def _verdict(raw: bytes, envelope_from: str = "maija@example.fi"):  # type: ignore[no-untyped-def]
    return triage(parse_message(raw), envelope_from=envelope_from, org_addresses=ORG)


def test_a_persons_request_is_processed() -> None:
    verdict = _verdict(_mail())
    assert verdict.verdict == "process"
    assert verdict.reasons == []


def test_auto_submitted_no_is_a_person() -> None:
    assert _verdict(_mail("Auto-Submitted: no\r\n")).verdict == "process"


@pytest.mark.parametrize(
    ("headers", "reason_part"),
    [
        ("Auto-Submitted: auto-replied\r\n", "Auto-Submitted: auto-replied"),
        ("Auto-Submitted: auto-generated\r\n", "Auto-Submitted: auto-generated"),
        ("Precedence: bulk\r\n", "Precedence: bulk"),
        ("Precedence: list\r\n", "Precedence: list"),
        ("Precedence: junk\r\n", "Precedence: junk"),
        ("Precedence: auto_reply\r\n", "Precedence: auto_reply"),
        ("X-Autoreply: yes\r\n", "x-autoreply"),
        ("X-Autorespond: Out of office\r\n", "x-autorespond"),
        ("List-Id: <news.example.fi>\r\n", "list-id"),
        ("List-Unsubscribe: <mailto:unsub@example.fi>\r\n", "list-unsubscribe"),
        ("Return-Path: <>\r\n", "null return path"),
    ],
)
def test_robot_headers_are_ignored_with_a_reason(headers: str, reason_part: str) -> None:
    verdict = _verdict(_mail(headers))
    assert verdict.verdict == "ignore"
    assert any(reason_part in r for r in verdict.reasons), verdict.reasons


def test_null_envelope_sender_is_ignored() -> None:
    verdict = _verdict(_mail(), envelope_from="<>")
    assert verdict.verdict == "ignore"
    assert "null return path" in verdict.reasons[0]


@pytest.mark.parametrize("sender", ["MAILER-DAEMON@mx.example.fi", "postmaster@example.fi",
                                    "Mail Delivery System <Mailer-Daemon@example.fi>"])
def test_mail_system_senders_are_ignored(sender: str) -> None:
    verdict = _verdict(_mail(sender=sender), envelope_from="")
    assert verdict.verdict == "ignore"
    assert any("MAILER-DAEMON" in r for r in verdict.reasons)


def test_delivery_status_report_is_ignored() -> None:
    raw = (
        b"From: mail system <bounces@mx.example.fi>\r\nTo: info@rusttet.fi\r\n"
        b"Subject: Undelivered Mail\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=B\r\n\r\n"
        b"--B\r\nContent-Type: text/plain\r\n\r\nYour mail could not be delivered.\r\n"
        b"--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        b"Reporting-MTA: dns; mx.example.fi\r\n\r\nFinal-Recipient: rfc822; x@example.fi\r\n"
        b"Action: failed\r\nStatus: 5.1.1\r\n\r\n--B--\r\n"
    )
    verdict = _verdict(raw, envelope_from="")
    assert verdict.verdict == "ignore"
    assert any("multipart/report" in r for r in verdict.reasons)


def test_our_own_mail_is_ignored_case_insensitively() -> None:
    verdict = _verdict(_mail(sender="Rusttet <INFO@Rusttet.fi>"), envelope_from="")
    assert verdict.verdict == "ignore"
    assert verdict.reasons == ["sent from our own address"]


def test_reasons_never_contain_addresses_or_free_text() -> None:
    verdict = _verdict(_mail("X-Autorespond: Olen lomalla maija@example.fi\r\n"
                             "Auto-Submitted: auto-replied (vacation maija@example.fi)\r\n"))
    assert verdict.verdict == "ignore"
    assert not any("@" in r or "lomalla" in r for r in verdict.reasons)


def test_mail_without_a_sender_is_quarantined() -> None:
    raw = b"To: info@rusttet.fi\r\nSubject: anonymous\r\n\r\nPoistakaa tietoni\r\n"
    verdict = _verdict(raw, envelope_from="")
    assert verdict.verdict == "quarantine"
    assert verdict.reasons == ["no usable sender address in From"]


def test_bytes_that_are_not_mail_are_quarantined_with_a_reason() -> None:
    parsed, verdict = triage_raw(b"", envelope_from="", org_addresses=ORG)
    assert parsed is None
    assert verdict.verdict == "quarantine"
    assert verdict.reasons == ["malformed message: empty message"]


def test_a_sender_over_the_rate_limit_is_held() -> None:
    parsed = parse_message(_mail())
    kwargs = {"envelope_from": "", "org_addresses": ORG, "rate_limit": 20}
    assert triage(parsed, recent_from_sender=20, **kwargs).verdict == "process"  # type: ignore[arg-type]
    held = triage(parsed, recent_from_sender=21, **kwargs)  # type: ignore[arg-type]
    assert held.verdict == "held"
    assert "rate limit" in held.reasons[0]


def test_robots_are_ignored_even_when_flooding() -> None:
    parsed = parse_message(_mail("Auto-Submitted: auto-replied\r\n"))
    verdict = triage(parsed, envelope_from="", org_addresses=ORG, recent_from_sender=500,
                     rate_limit=20)
    assert verdict.verdict == "ignore"


def test_rate_limit_leaves_other_verdicts_alone() -> None:
    _parsed, ignored = triage_raw(_mail("Precedence: bulk\r\n"), envelope_from="",
                                 org_addresses=ORG)
    assert apply_rate_limit(ignored, recent=100, limit=1) == ignored
