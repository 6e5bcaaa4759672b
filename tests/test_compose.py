"""Composing a letter: threading, RFC 3834 marking, and no header injected from request text."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import cast

import pytest

from handlers.compose import (
    MAX_REFERENCES,
    OutAttachment,
    OutgoingMail,
    UnsafeValue,
    check_recipient,
    clean_filename,
    clean_message_ids,
    clean_subject,
    compose,
    thread_headers,
    to_bytes,
)

FROM = "info@rusttet.fi"


def _mail(**overrides: object) -> OutgoingMail:
    values: dict[str, object] = {
        "outbound_id": 1,
        "message_id": "<dsrbot.DSR-2026-0001.abc@rusttet.fi>",
        "recipient": "maija@example.fi",
        "subject": "Vastaanottokuittaus",
        "body_text": "Hei,\n\npyyntösi on vastaanotettu.\n",
        "created_at": datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
        "case_id": "DSR-2026-0001",
        "kind": "receipt",
    }
    values.update(overrides)
    return OutgoingMail(**values)  # type: ignore[arg-type]


def _roundtrip(msg: EmailMessage) -> EmailMessage:
    return cast(EmailMessage, message_from_bytes(to_bytes(msg), policy=policy.default))


HOSTILE_SUBJECTS = [
    "Hi\r\nBcc: victim@example.com",
    "Hi\nBcc: victim@example.com",
    "Hi\rBcc: victim@example.com",
    "Hi\r\n\r\n<html>body takeover",
    "Hi\x00\r\nBcc: victim@example.com",
    "Hi\u2028Bcc: victim@example.com",
    "Hi\x85Bcc: victim@example.com",
    "Hi\x0bBcc: victim@example.com\x0c",
    "=?utf-8?q?Hi=0D=0ABcc=3A_victim=40example=2Ecom?=",
]


@pytest.mark.parametrize("subject", HOSTILE_SUBJECTS)
def test_hostile_subject_cannot_add_a_header(subject: str) -> None:
    msg = _roundtrip(compose(_mail(subject=subject), from_address=FROM))
    assert msg["Bcc"] is None
    assert msg.get_all("Subject") is not None and len(msg.get_all("Subject") or []) == 1
    assert "\n" not in str(msg["Subject"]) and "\r" not in str(msg["Subject"])
    assert b"\r\nBcc:" not in to_bytes(compose(_mail(subject=subject), from_address=FROM))
    assert [k for k in msg] == [
        "From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted",
        "X-Auto-Response-Suppress", "Content-Type", "Content-Transfer-Encoding", "MIME-Version",
    ]


def test_hostile_subject_keeps_its_words_on_one_line() -> None:
    assert clean_subject("Hi\r\nBcc: victim@example.com") == "Hi Bcc: victim@example.com"


def test_case_tag_is_added_once() -> None:
    assert clean_subject("Kuittaus", case_id="DSR-2026-0001") == "[DSR-2026-0001] Kuittaus"
    assert clean_subject("Re: [DSR-2026-0001] Kuittaus", case_id="DSR-2026-0001") == (
        "Re: [DSR-2026-0001] Kuittaus")
    assert clean_subject("[dsr-2026-0001] x", case_id="DSR-2026-0001") == "[dsr-2026-0001] x"
    twice = clean_subject(clean_subject("x", case_id="DSR-2026-0001"), case_id="DSR-2026-0001")
    assert twice == "[DSR-2026-0001] x"


def test_long_subject_is_cut_not_refused() -> None:
    assert len(clean_subject("a" * 5000, case_id="DSR-2026-0001")) <= 300


@pytest.mark.parametrize("recipient", [
    "maija@example.fi\r\nBcc: victim@example.com",
    "maija@example.fi\n",
    "maija@example.fi, victim@example.com",
    "maija@example.fi;victim@example.com",
    "Maija <maija@example.fi>",
    "undisclosed-recipients:;",
    '"maija meik"@example.fi',
    "maija@[127.0.0.1]",
    "maija example@example.fi",
    "maija",
    "",
    "@example.fi",
    "maija@",
    "mäijä@example.fi",
    "maija@example.fi\x00",
    "a" * 330 + "@example.fi",
])
def test_recipient_must_be_one_plain_address(recipient: str) -> None:
    with pytest.raises(UnsafeValue):
        check_recipient(recipient)
    with pytest.raises(UnsafeValue):
        compose(_mail(recipient=recipient), from_address=FROM)


def test_recipient_is_normalised() -> None:
    assert check_recipient("Maija.M+dsr@Example.FI") == "Maija.M+dsr@example.fi"
    assert check_recipient("info@äänekoski.fi") == "info@xn--nekoski-4waa.fi"


def test_reply_threads_with_the_request() -> None:
    mail = _mail(in_reply_to="<req-2@example.fi>",
                 references=("<req-1@example.fi>", "<req-2@example.fi>"))
    msg = _roundtrip(compose(mail, from_address=FROM, from_name="Rusttet Oy"))
    assert msg["In-Reply-To"] == "<req-2@example.fi>"
    assert msg["References"] == "<req-1@example.fi> <req-2@example.fi>"
    assert msg["Message-ID"] == "<dsrbot.DSR-2026-0001.abc@rusttet.fi>"
    assert msg["Subject"] == "[DSR-2026-0001] Vastaanottokuittaus"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["From"] == "Rusttet Oy <info@rusttet.fi>"
    assert msg["To"] == "maija@example.fi"
    assert msg["Date"].datetime == datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def test_letter_without_a_request_is_auto_generated() -> None:
    msg = _roundtrip(compose(_mail(), from_address=FROM))
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["In-Reply-To"] is None and msg["References"] is None


def test_parent_id_is_appended_to_references() -> None:
    headers = thread_headers("<p@x>", ["<root@x>"])
    assert headers == {"In-Reply-To": "<p@x>", "References": "<root@x> <p@x>"}
    assert thread_headers("p@x", None) == {"In-Reply-To": "<p@x>", "References": "<p@x>"}


ENCODED_CRLF = "=?utf-8?q?Hi=0D=0ABcc=3A_victim=40example=2Ecom?="


def test_encoded_words_cannot_smuggle_a_line_break_into_threading_or_from() -> None:
    mail = _mail(in_reply_to=f"<{ENCODED_CRLF}@x>", references=(f"<{ENCODED_CRLF}@y>",),
                 subject=ENCODED_CRLF)
    raw = to_bytes(compose(mail, from_address=FROM, from_name=ENCODED_CRLF))
    msg = _roundtrip(compose(mail, from_address=FROM, from_name=ENCODED_CRLF))
    assert b"\r\nBcc:" not in raw
    assert msg["Bcc"] is None and msg["In-Reply-To"] is None and msg["References"] is None
    assert msg["Subject"] == "[DSR-2026-0001] Hi Bcc: victim@example.com"


def test_hostile_threading_ids_are_dropped() -> None:
    headers = thread_headers("<abc@x>\r\nBcc: victim@example.com", ["<ok@x>", "<a b@x>",
                                                                    "<ü@x>"])
    assert headers == {"References": "<ok@x>"}
    msg = _roundtrip(compose(_mail(in_reply_to="<abc@x>\r\nBcc: v@example.com"),
                             from_address=FROM))
    assert msg["Bcc"] is None and msg["In-Reply-To"] is None


def test_long_reference_chains_keep_the_root_and_the_newest() -> None:
    ids = [f"<m{i}@x>" for i in range(50)]
    kept = clean_message_ids(ids)
    assert len(kept) == MAX_REFERENCES
    assert kept[0] == "<m0@x>" and kept[-1] == "<m49@x>"
    assert clean_message_ids(["<a@x> <b@x>", "<a@x>"]) == ["<a@x>", "<b@x>"]


def test_html_alternative_and_attachments_are_kept() -> None:
    pdf = b"%PDF-1.7\x00\x01\x02 binary"
    mail = _mail(body_html="<p>Hei</p>", attachments=(
        OutAttachment("../../etc/raportti.pdf", "application/pdf", pdf),
        OutAttachment("data\r\n.json", "bogus type\r\nX: y", b"{}"),
    ))
    msg = _roundtrip(compose(mail, from_address=FROM))
    assert msg.get_content_type() == "multipart/mixed"
    body = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert body is not None and "vastaanotettu" in body.get_content()
    assert html is not None and "<p>Hei</p>" in html.get_content()
    files = list(msg.iter_attachments())
    assert [a.get_filename() for a in files] == ["raportti.pdf", "data__.json"]
    assert files[0].get_content() == pdf
    assert files[1].get_content_type() == "application/octet-stream"
    assert msg["X"] is None


def test_same_row_composes_to_the_same_bytes() -> None:
    mail = _mail(body_html="<p>x</p>", attachments=(OutAttachment("a.pdf", "application/pdf",
                                                                  b"x"),))
    assert to_bytes(compose(mail, from_address=FROM)) == to_bytes(compose(mail, from_address=FROM))


def test_non_ascii_subject_and_body_are_encoded_for_the_wire() -> None:
    mail = _mail(subject="Pyyntö: tietojen poisto — ärrä", body_text="Hyvä asiakas, öljy\n")
    raw = to_bytes(compose(mail, from_address=FROM))
    assert raw.isascii()
    msg = _roundtrip(compose(mail, from_address=FROM))
    assert msg["Subject"] == "[DSR-2026-0001] Pyyntö: tietojen poisto — ärrä"
    assert "öljy" in msg.get_content()


def test_filenames_lose_paths_and_control_characters() -> None:
    assert clean_filename("C:\\Users\\x\\report.pdf") == "report.pdf"
    assert clean_filename("a\r\nb.pdf") == "a__b.pdf"
    assert clean_filename("") == "attachment"
    assert clean_filename("../..") == "attachment"
    assert len(clean_filename("a" * 500 + ".pdf")) <= 120
    assert clean_filename("a" * 500 + ".pdf").endswith(".pdf")


def test_header_block_check_refuses_what_slips_past_the_cleaners(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Take the subject cleaner away to show the last check catches an injected header alone.
    import mailformat.outgoing as compose_module
    monkeypatch.setattr(compose_module, "clean_subject", lambda text, case_id=None: text)
    with pytest.raises(UnsafeValue, match="headers we did not set"):
        compose(_mail(subject=ENCODED_CRLF), from_address=FROM)
