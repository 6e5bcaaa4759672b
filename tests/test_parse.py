"""Parsing: a request in any state of MIME repair is still read; only non-mail is refused."""

from __future__ import annotations

import contextlib
from email.message import EmailMessage

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handlers.parse import (
    MalformedMessage,
    header_facts,
    html_to_text,
    normalise_message_id,
    parse_message,
)


def _plain(body: bytes, charset: str = "utf-8", extra: bytes = b"") -> bytes:
    return (
        b"From: Maija Meik\xc3\xa4l\xc3\xa4inen <maija@example.fi>\r\n"
        b"To: info@rusttet.fi\r\n"
        b"Subject: Tietopyynt\xc3\xb6\r\n"
        b"Message-ID: <abc123@example.fi>\r\n"
        b"Date: Wed, 25 Nov 2026 10:00:00 +0200\r\n"
        + extra
        + b"MIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=" + charset.encode() + b"\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n" + body
    )


def test_plain_request_fields_are_read() -> None:
    parsed = parse_message(_plain(b"Haluan tarkastaa tietoni.\r\n"))
    assert parsed.message_id == "<abc123@example.fi>"
    assert parsed.from_address == "maija@example.fi"
    assert parsed.from_display == "Maija Meikäläinen"
    assert parsed.to == ["info@rusttet.fi"]
    assert parsed.subject == "Tietopyyntö"
    assert parsed.date is not None and parsed.date.utcoffset() is not None
    assert parsed.text == "Haluan tarkastaa tietoni."
    assert parsed.html is None
    assert parsed.attachments == []


def test_unknown_charset_falls_back_and_records_a_defect() -> None:
    parsed = parse_message(_plain("Hyvää päivää".encode(), charset="x-no-such-charset"))
    assert parsed.text == "Hyvää päivää"
    assert any("unknown charset" in d for d in parsed.defects)


def test_latin1_bytes_labelled_utf8_are_recovered() -> None:
    parsed = parse_message(_plain("Hyvää päivää, poistakaa tietoni".encode("cp1252")))
    assert parsed.text == "Hyvää päivää, poistakaa tietoni"
    assert any("does not match its charset" in d for d in parsed.defects)


def test_eight_bit_headers_never_leave_surrogates() -> None:
    raw = b"From: J\xe4rvinen <j@example.fi>\r\nSubject: P\xe4\xe4sy\r\n\r\nbody\r\n"
    parsed = parse_message(raw)
    for _, value in parsed.headers:
        value.encode("utf-8")  # raises on lone surrogates
    parsed.subject.encode("utf-8")
    assert parsed.from_address == "j@example.fi"


def test_encoded_word_subject_and_display_name_are_decoded() -> None:
    raw = (b"From: =?utf-8?q?Ville_V=C3=A4h=C3=A4?= <ville@example.fi>\r\n"
           b"Subject: =?iso-8859-1?q?Tietojen_poisto_-_h=E4vitt=E4k=E4=E4?=\r\n\r\nx\r\n")
    parsed = parse_message(raw)
    assert parsed.subject == "Tietojen poisto - hävittäkää"
    assert parsed.from_display == "Ville Vähä"


def test_html_only_mail_becomes_text_without_script_or_style() -> None:
    html = (
        "<html><head><title>Otsikko</title><style>p {color: red}</style></head><body>"
        "<script>alert('x')</script><p>Haluan&nbsp;kieltää <b>suoramarkkinoinnin</b>.</p>"
        "<div>Terveisin<br>Maija</div></body></html>"
    )
    msg = EmailMessage()
    msg["From"] = "maija@example.fi"
    msg["Subject"] = "Kielto"
    msg.set_content(html, subtype="html")
    parsed = parse_message(msg.as_bytes())
    assert parsed.html is not None and "<script>" in parsed.html
    assert parsed.text == "Haluan kieltää suoramarkkinoinnin.\n\nTerveisin\nMaija"
    assert "alert" not in parsed.text and "color" not in parsed.text
    assert "Otsikko" not in parsed.text


def test_plain_part_is_preferred_over_html_alternative() -> None:
    msg = EmailMessage()
    msg["From"] = "a@example.fi"
    msg.set_content("plain words")
    msg.add_alternative("<p>html words</p>", subtype="html")
    parsed = parse_message(msg.as_bytes())
    assert parsed.text == "plain words"
    assert parsed.html is not None and "html words" in parsed.html


def test_attachments_are_kept_whole() -> None:
    pdf = b"%PDF-1.7\n" + bytes(range(256)) * 4 + b"\n%%EOF"
    photo = b"\xff\xd8\xff\xe0" + b"\x00" * 500
    p7s = b"0\x82\x01\x00" + b"\x01" * 200
    msg = EmailMessage()
    msg["From"] = "a@example.fi"
    msg["Subject"] = "Allekirjoitettu pyyntö"
    msg.set_content("Liitteenä allekirjoitettu pyyntö.")
    msg.add_attachment(pdf, maintype="application", subtype="pdf", filename="pyyntö.pdf")
    msg.add_attachment(b"-----BEGIN PGP SIGNATURE-----\n...\n", maintype="application",
                       subtype="pgp-signature", filename="pyynto.pdf.asc")
    msg.add_attachment(p7s, maintype="application", subtype="pkcs7-signature",
                       filename="smime.p7s")
    msg.add_attachment(photo, maintype="image", subtype="jpeg", filename="kirje.jpg")
    parsed = parse_message(msg.as_bytes())
    by_type = {a.content_type: a for a in parsed.attachments}
    assert by_type["application/pdf"].data == pdf
    assert by_type["application/pdf"].filename == "pyyntö.pdf"
    assert by_type["application/pgp-signature"].filename == "pyynto.pdf.asc"
    assert by_type["application/pkcs7-signature"].data == p7s
    assert by_type["image/jpeg"].data == photo
    assert parsed.text == "Liitteenä allekirjoitettu pyyntö."


def test_multipart_signed_keeps_the_exact_signed_bytes() -> None:
    signed_part = (b"Content-Type: text/plain; charset=utf-8\r\n"
                   b"Content-Transfer-Encoding: 7bit\r\n\r\nPoistakaa tietoni.\r\n")
    raw = (
        b"From: a@example.fi\r\nSubject: signed\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/signed; protocol="application/pgp-signature"; '
        b'micalg=pgp-sha256; boundary="XYZ"\r\n\r\n'
        b"--XYZ\r\n" + signed_part + b"\r\n--XYZ\r\n"
        b"Content-Type: application/pgp-signature; name=signature.asc\r\n\r\n"
        b"-----BEGIN PGP SIGNATURE-----\r\nAAAA\r\n-----END PGP SIGNATURE-----\r\n"
        b"\r\n--XYZ--\r\n"
    )
    parsed = parse_message(raw)
    assert len(parsed.signed_parts) == 1
    part = parsed.signed_parts[0]
    assert part.protocol == "application/pgp-signature"
    assert part.content == signed_part
    assert part.signature.startswith(b"-----BEGIN PGP SIGNATURE-----")
    assert parsed.text == "Poistakaa tietoni."
    assert [a.content_type for a in parsed.attachments] == ["application/pgp-signature"]


def test_headers_are_kept_in_order_unfolded() -> None:
    raw = (b"Authentication-Results: mx.rusttet.fi;\r\n dkim=pass header.d=example.fi\r\n"
           b"DKIM-Signature: v=1; a=rsa-sha256; d=example.fi;\r\n\tb=abc\r\n"
           b"From: a@example.fi\r\nReceived: one\r\nReceived: two\r\n\r\nbody")
    parsed = parse_message(raw)
    assert [n for n, _ in parsed.headers] == [
        "Authentication-Results", "DKIM-Signature", "From", "Received", "Received"]
    assert parsed.header("authentication-results") == "mx.rusttet.fi; dkim=pass header.d=example.fi"
    assert parsed.header_values("Received") == ["one", "two"]


def test_threading_headers_are_normalised() -> None:
    raw = (b"From: a@example.fi\r\nIn-Reply-To: Re: your mail <x1@rusttet.fi>\r\n"
           b"References: <x0@rusttet.fi>\r\n <x1@rusttet.fi>\r\n\r\nbody")
    parsed = parse_message(raw)
    assert parsed.in_reply_to == "<x1@rusttet.fi>"
    assert parsed.references == ["<x0@rusttet.fi>", "<x1@rusttet.fi>"]
    assert parsed.message_id == ""
    assert normalise_message_id(" abc@host ") == "<abc@host>"


def test_truncated_base64_is_a_defect_not_a_crash() -> None:
    raw = (b"From: a@example.fi\r\nContent-Type: text/plain; charset=utf-8\r\n"
           b"Content-Transfer-Encoding: base64\r\n\r\nSGFsdW FuIHRhcmt=as!\r\n")
    parsed = parse_message(raw)
    assert isinstance(parsed.text, str)


@pytest.mark.parametrize("raw", [b"", b"   \r\n", b"just some words\nwithout headers\n",
                                 b"\x00\x01\x02\x03 binary"])
def test_bytes_that_are_not_mail_are_malformed(raw: bytes) -> None:
    with pytest.raises(MalformedMessage):
        parse_message(raw)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_parse_never_raises_anything_but_malformed(raw: bytes) -> None:
    try:
        parsed = parse_message(b"From: a@example.fi\r\nContent-Type: multipart/mixed; "
                               b"boundary=b\r\n\r\n--b\r\n" + raw)
    except MalformedMessage:
        return
    parsed.text.encode("utf-8")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=500))
def test_parse_of_arbitrary_bytes_never_crashes(raw: bytes) -> None:
    with contextlib.suppress(MalformedMessage):
        parse_message(raw)
    header_facts(raw)


def test_header_facts_read_message_id_and_sender() -> None:
    facts = header_facts(_plain(b"x"))
    assert facts.message_id == "<abc123@example.fi>"
    assert facts.from_address == "maija@example.fi"


def test_html_to_text_survives_broken_html() -> None:
    assert html_to_text("<p>unclosed <b>bold <div>block") == "unclosed bold\nblock"
    assert html_to_text("<head><title>t</title><body>visible</body>") == "visible"
