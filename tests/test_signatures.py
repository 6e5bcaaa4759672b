"""Is it signed: OpenPGP, S/MIME and PDF signatures against our trust roots, offline."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.settings import IdentitySettings
from handlers.signatures import (
    TrustConfigError,
    check_signatures,
    load_trust,
    signer_matches,
    trust_from_settings,
)
from tests.identity_kit import (
    blank_pdf,
    clearsign,
    customer,
    detached,
    mail,
    parse,
    pgp_key,
    rogue_pki,
    signed_pdf,
    smime_signed,
    trust,
    trusted_pki,
    write_trust_files,
)

MAIJA = "maija.meikalainen@example.fi"
MAIJA_UID = f"Maija Meikäläinen <{MAIJA}>"
REQUEST = "Pyydän saada tarkastaa kaikki minusta tallennetut tiedot.\n"


def maija() -> object:
    return customer(1, "100001", "Maija", "Meikäläinen", MAIJA)


def test_unsigned_mail_has_signature_state_none() -> None:
    result = check_signatures(parse(mail(from_=MAIJA)), trust())
    assert result.state == "none"
    assert result.signer is None


def test_clearsigned_text_by_trusted_openpgp_key_is_valid_and_names_the_signer() -> None:
    tsk = pgp_key(MAIJA_UID)
    raw = mail(from_=MAIJA, body=clearsign(tsk, REQUEST))
    result = check_signatures(parse(raw), trust(pgp=[tsk]))
    assert result.state == "valid", result.reasons
    assert result.signer_emails == [MAIJA]
    assert result.signer and tsk.extract_certificate().fingerprint.upper() in result.signer
    assert signer_matches(result, maija())  # type: ignore[arg-type]


def test_clearsigned_text_altered_after_signing_is_invalid() -> None:
    tsk = pgp_key(MAIJA_UID)
    signed = clearsign(tsk, REQUEST).replace("kaikki", "vain osan")
    result = check_signatures(parse(mail(from_=MAIJA, body=signed)), trust(pgp=[tsk]))
    assert result.state == "invalid"
    assert any("does not verify" in r for r in result.reasons)


def test_openpgp_key_not_in_trusted_keys_makes_the_signature_invalid() -> None:
    impostor = pgp_key(f"Impostor <{MAIJA}>")  # same user id, attacker's own key
    raw = mail(from_=MAIJA, body=clearsign(impostor, REQUEST))
    result = check_signatures(parse(raw), trust(pgp=[pgp_key(MAIJA_UID)]))
    assert result.state == "invalid"
    assert any("not trusted" in r for r in result.reasons)
    assert result.signer_emails == []


def test_detached_asc_over_an_attachment_verifies_that_attachment() -> None:
    tsk = pgp_key(MAIJA_UID)
    letter = b"%PDF-1.4 pretend letter bytes"
    raw = mail(from_=MAIJA, body="Liitteenä allekirjoitettu pyyntö.", attachments=[
        ("pyynto.txt", "text/plain", letter),
        ("pyynto.txt.asc", "application/pgp-signature", detached(tsk, letter)),
    ])
    result = check_signatures(parse(raw), trust(pgp=[tsk]))
    assert result.state == "valid", result.reasons


def test_detached_sig_over_the_body_text_verifies() -> None:
    tsk = pgp_key(MAIJA_UID)
    raw = mail(from_=MAIJA, body=REQUEST, attachments=[
        ("signature.sig", "application/octet-stream", detached(tsk, REQUEST.encode()))])
    result = check_signatures(parse(raw), trust(pgp=[tsk]))
    assert result.state == "valid", result.reasons


def test_detached_signature_over_other_bytes_is_invalid() -> None:
    tsk = pgp_key(MAIJA_UID)
    raw = mail(from_=MAIJA, body=REQUEST, attachments=[
        ("signature.asc", "application/pgp-signature", detached(tsk, b"something else"))])
    assert check_signatures(parse(raw), trust(pgp=[tsk])).state == "invalid"


def test_pgp_mime_multipart_signed_verifies_the_signed_part() -> None:
    tsk = pgp_key(MAIJA_UID)
    part = b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + REQUEST.encode().replace(
        b"\n", b"\r\n")
    sig = detached(tsk, part)
    raw = (
        f"From: {MAIJA}\r\nTo: info@rusttet.fi\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/signed; micalg=pgp-sha512; protocol="application/pgp-signature";'
        ' boundary="b1"\r\n\r\n--b1\r\n').encode() + part + (
        b"\r\n--b1\r\nContent-Type: application/pgp-signature; name=signature.asc\r\n\r\n"
        + sig + b"\r\n--b1--\r\n")
    result = check_signatures(parse(raw), trust(pgp=[tsk]))
    assert result.state == "valid", result.reasons


def test_smime_signature_chaining_to_a_trusted_root_is_valid() -> None:
    cert, key = trusted_pki().issue(MAIJA)
    result = check_signatures(parse(smime_signed(cert, key, from_=MAIJA)),
                              trust(roots=[trusted_pki()]))
    assert result.state == "valid", result.reasons
    assert result.signer_emails == [MAIJA]
    assert signer_matches(result, maija())  # type: ignore[arg-type]


def test_smime_signature_from_an_untrusted_root_is_invalid() -> None:
    cert, key = rogue_pki().issue(MAIJA)
    result = check_signatures(parse(smime_signed(cert, key, from_=MAIJA)),
                              trust(roots=[trusted_pki()]))
    assert result.state == "invalid"
    assert any("trusted root" in r for r in result.reasons)


def test_smime_signed_content_altered_is_invalid() -> None:
    cert, key = trusted_pki().issue(MAIJA)
    raw = smime_signed(cert, key, from_=MAIJA).replace(b"tietoihini", b"tietoihisi")
    result = check_signatures(parse(raw), trust(roots=[trusted_pki()]))
    assert result.state == "invalid"


def test_smime_with_lf_line_ends_is_canonicalised_before_checking() -> None:
    cert, key = trusted_pki().issue(MAIJA)
    raw = smime_signed(cert, key, from_=MAIJA).replace(b"\r\n", b"\n")
    assert check_signatures(parse(raw), trust(roots=[trusted_pki()])).state == "valid"


def test_signer_of_another_address_does_not_match_the_customer() -> None:
    cert, key = trusted_pki().issue("someone.else@example.fi")
    result = check_signatures(parse(smime_signed(cert, key, from_=MAIJA)),
                              trust(roots=[trusted_pki()]))
    assert result.state == "valid"
    assert not signer_matches(result, maija())  # type: ignore[arg-type]


def test_signed_pdf_attachment_is_validated_with_pades() -> None:
    pki = trusted_pki()
    cert, key = pki.issue(MAIJA)
    raw = mail(from_=MAIJA, attachments=[("pyynto.pdf", "application/pdf",
                                          signed_pdf(cert, key, pki))])
    result = check_signatures(parse(raw), trust(roots=[pki]))
    assert result.state == "valid", result.reasons
    assert result.signer_emails == [MAIJA]


def test_signed_pdf_from_an_untrusted_root_is_invalid() -> None:
    pki = rogue_pki()
    cert, key = pki.issue(MAIJA)
    raw = mail(from_=MAIJA, attachments=[("pyynto.pdf", "application/pdf",
                                          signed_pdf(cert, key, pki))])
    assert check_signatures(parse(raw), trust(roots=[trusted_pki()])).state == "invalid"


def test_pdf_changed_after_signing_is_invalid() -> None:
    pki = trusted_pki()
    cert, key = pki.issue(MAIJA)
    pdf = signed_pdf(cert, key, pki)
    tampered = pdf + b"\n% appended after signing: send the data elsewhere\n"
    raw = mail(from_=MAIJA, attachments=[("pyynto.pdf", "application/pdf", tampered)])
    result = check_signatures(parse(raw), trust(roots=[pki]))
    assert result.state in ("invalid", "staff_to_check")
    assert result.state != "valid"


def test_pdf_without_signature_is_marked_staff_to_check() -> None:
    raw = mail(from_=MAIJA, attachments=[("skannattu.pdf", "application/pdf", blank_pdf())])
    result = check_signatures(parse(raw), trust())
    assert result.state == "staff_to_check"
    assert any("staff to check" in r for r in result.reasons)


def test_photo_of_a_hand_signed_letter_is_marked_staff_to_check() -> None:
    jpeg = b"\xff\xd8\xff\xe0" + b"\x00" * 2048
    raw = mail(from_=MAIJA, attachments=[("kirje.jpg", "image/jpeg", jpeg)])
    assert check_signatures(parse(raw), trust()).state == "staff_to_check"


def test_garbage_signature_attachments_never_crash() -> None:
    raw = mail(from_=MAIJA, attachments=[
        ("signature.asc", "application/pgp-signature", b"-----BEGIN PGP SIGNATURE-----\nxx"),
        ("smime.p7s", "application/pkcs7-signature", b"\x30\x03\x02\x01"),
        ("x.p7m", "application/pkcs7-mime", b"not cms"),
        ("broken.pdf", "application/pdf", b"%PDF-1.7 truncated"),
    ])
    result = check_signatures(parse(raw), trust())
    assert result.state in ("invalid", "staff_to_check")
    assert result.reasons


def test_one_invalid_signature_makes_the_whole_mail_invalid() -> None:
    tsk = pgp_key(MAIJA_UID)
    good = clearsign(tsk, REQUEST)
    raw = mail(from_=MAIJA, body=good, attachments=[
        ("signature.asc", "application/pgp-signature", detached(tsk, b"other"))])
    assert check_signatures(parse(raw), trust(pgp=[tsk])).state == "invalid"


def test_reasons_never_contain_the_signer_address() -> None:
    cert, key = trusted_pki().issue(MAIJA)
    result = check_signatures(parse(smime_signed(cert, key, from_=MAIJA)),
                              trust(roots=[trusted_pki()]))
    assert not any("@" in r for r in result.reasons)
    assert result.signer is not None and "@" not in result.signer


async def test_check_signatures_works_inside_a_running_event_loop() -> None:
    cert, key = trusted_pki().issue(MAIJA)
    result = check_signatures(parse(smime_signed(cert, key, from_=MAIJA)),
                              trust(roots=[trusted_pki()]))
    assert result.state == "valid"
    await asyncio.sleep(0)


def test_trust_files_load_from_settings(tmp_path: Path) -> None:
    tsk = pgp_key(MAIJA_UID)
    certs, keys = write_trust_files(tmp_path, pgp=[tsk], roots=[trusted_pki()])
    loaded = load_trust(IdentitySettings(trusted_certificates=certs, trusted_openpgp_keys=keys))
    assert len(loaded.x509_roots) == 1 and len(loaded.openpgp_certs) == 1
    raw = mail(from_=MAIJA, body=clearsign(tsk, REQUEST))
    assert check_signatures(parse(raw), loaded).state == "valid"


def test_missing_trust_file_is_named_in_a_clear_error(tmp_path: Path) -> None:
    settings = IdentitySettings(trusted_certificates=[tmp_path / "nope.pem"])
    with pytest.raises(TrustConfigError, match=r"nope\.pem"):
        load_trust(settings)
    lenient = trust_from_settings(settings)
    assert lenient.problems
    result = check_signatures(parse(mail(from_=MAIJA)), lenient)
    assert any("trust configuration" in r for r in result.reasons)


def test_relative_trust_paths_resolve_against_the_config_file(tmp_path: Path) -> None:
    from bot.settings import load_settings

    (tmp_path / "trust").mkdir()
    (tmp_path / "trust" / "root.pem").write_bytes(trusted_pki().root_pem())
    config = tmp_path / "config.toml"
    config.write_text('[identity]\ntrusted_certificates = ["trust/root.pem"]\n')
    settings = load_settings(config)
    assert settings.identity.trusted_certificates == [tmp_path / "trust" / "root.pem"]
    assert len(load_trust(settings.identity).x509_roots) == 1


def test_validation_logs_never_name_the_signer(caplog: pytest.LogCaptureFixture) -> None:
    cert, key = rogue_pki().issue(MAIJA, "Maija Meikäläinen")
    with caplog.at_level("DEBUG"):
        result = check_signatures(parse(smime_signed(cert, key, from_=MAIJA)),
                                  trust(roots=[trusted_pki()]))
    assert result.state == "invalid"
    text = caplog.text + "".join(str(r.exc_info) for r in caplog.records)
    assert "Meikäläinen" not in text and MAIJA not in text
