"""A signature counts for the text it signs (issue 21, item 2).

The attacks: a trusted OpenPGP signature from an old, unrelated mail of the customer (a
clearsigned block pasted in, or a detached signature over some other attachment) used to verify
a forged erasure or change of address; the same signed mail sent again. Function by function
(``check_signatures`` + ``binding.bind``) and end to end through our SMTP receiver.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from handlers.signatures import binding, check_signatures
from storage.db import Database
from tests.identity_kit import (
    clearsign,
    detached,
    mail,
    parse,
    pgp_key,
    signed_pdf,
    smime_signed,
    trusted_pki,
)
from tests.impostor_scenarios import scenario_trust
from tests.proofing_kit import OWNER, Service, make_settings, seed_register

ACCESS = "Hei, haluan saada kopion kaikista minusta tallennetuista tiedoista."
ERASE = "Poistakaa kaikki tietoni rekisteristänne."
MOVE = "Osoitteeni on muuttunut: uusi osoite on Hyökkääjänkatu 1, 00100 Helsinki."
OLD_MAIL = "Kiitos tilauksesta, paketti tuli perille hyvin."


def owner_key():  # type: ignore[no-untyped-def]
    return pgp_key(f"Maija Meikäläinen <{OWNER}>")


def bound(raw: bytes, received_at: datetime | None = None, *,
          body_is_request: bool = True) -> binding.Binding:
    parsed = parse(raw)
    result = check_signatures(parsed, scenario_trust())
    assert result.state == "valid"  # a trusted signature: only the binding can stop it
    return binding.bind(result, text=parsed.text, body_is_request=body_is_request,
                        received_at=received_at or datetime.now(UTC), max_age_days=30)


# -- function by function ------------------------------------------------------------------------


def test_signature_over_the_whole_request_verifies() -> None:
    assert bound(mail(from_=OWNER, body=clearsign(owner_key(), ACCESS))).bound


def test_pasted_old_clearsigned_block_is_not_over_this_request() -> None:
    body = f"{ERASE}\n\n{clearsign(owner_key(), OLD_MAIL)}"
    result = bound(mail(from_=OWNER, body=body))
    assert not result.bound and binding.NOT_OVER_REQUEST in result.reason


def test_detached_signature_over_another_attachment_is_not_over_this_request() -> None:
    old = b"Tilausvahvistus 5012345"
    raw = mail(from_=OWNER, body=MOVE, attachments=[
        ("tilaus.txt", "text/plain", old),
        ("tilaus.txt.asc", "application/pgp-signature", detached(owner_key(), old))])
    result = bound(raw)
    assert not result.bound and "attachment" in result.reason


def test_signed_attached_letter_under_a_cover_note_verifies() -> None:
    letter = f"{MOVE}\nMaija Meikäläinen".encode()
    raw = mail(from_=OWNER, body="Liitteenä allekirjoitettu pyyntöni.", attachments=[
        ("pyynto.txt", "text/plain", letter),
        ("pyynto.txt.asc", "application/pgp-signature", detached(owner_key(), letter))])
    assert bound(raw, body_is_request=False).bound


def test_smime_signature_over_the_whole_request_verifies() -> None:
    cert, key = trusted_pki().issue(OWNER)
    assert bound(smime_signed(cert, key, from_=OWNER, body=f"{ACCESS}\r\n")).bound


def test_signed_pdf_letter_under_a_cover_note_verifies_and_not_under_a_request() -> None:
    cert, key = trusted_pki().issue(OWNER)
    pdf = ("pyynto.pdf", "application/pdf", signed_pdf(cert, key, trusted_pki()))
    cover = mail(from_=OWNER, body="Liitteenä allekirjoitettu pyyntöni.", attachments=[pdf])
    assert bound(cover, body_is_request=False).bound
    asks = bound(mail(from_=OWNER, body=ERASE, attachments=[pdf]))
    assert not asks.bound and binding.NOT_OVER_REQUEST in asks.reason


def test_signature_older_than_the_limit_does_not_verify() -> None:
    raw = mail(from_=OWNER, body=clearsign(owner_key(), ACCESS))
    result = bound(raw, received_at=datetime.now(UTC) + timedelta(days=31))
    assert not result.bound and "30 days" in result.reason


# -- end to end through our SMTP receiver ----------------------------------------------------------


@pytest.fixture
def svc(tmp_path: Path, sqlite_db: Database) -> Iterator[Service]:
    seed_register(sqlite_db)
    service = Service(sqlite_db, make_settings(
        tmp_path, sqlite_db, auto_approve=["access", "erasure", "rectification"]))
    yield service
    service.close()


def test_replayed_signature_does_not_verify(svc: Service) -> None:
    signed = mail(from_=OWNER, body=clearsign(owner_key(), ACCESS), message_id="<a1@example.fi>")
    svc.send(signed)
    first = svc.cases()[-1]
    assert first.verification_level == "verified"
    # The very same signed request again (a replay; a new Message-ID so it is a new mail).
    svc.send(signed.replace(b"<a1@example.fi>", b"<a2@example.fi>"))
    second = svc.cases()[-1]
    assert second.id != first.id and second.verification_level != "verified"
    assert any("already verified case" in r for r in second.reasons)


def test_pasted_old_signature_does_not_verify_a_forged_erasure(svc: Service) -> None:
    body = f"{ERASE}\n\n{clearsign(owner_key(), OLD_MAIL)}"
    svc.send(mail(from_=OWNER, body=body, subject="Poisto"))
    case = svc.cases()[-1]
    assert case.verification_level != "verified"
    assert any(binding.NOT_OVER_REQUEST in r for r in case.reasons)
    assert svc.customer().anonymised_at is None


def test_old_detached_signature_does_not_verify_a_change_of_address(svc: Service) -> None:
    old = b"Tilausvahvistus 5012345"
    svc.send(mail(from_=OWNER, body=MOVE, subject="Osoitteenmuutos", attachments=[
        ("tilaus.txt", "text/plain", old),
        ("tilaus.txt.asc", "application/pgp-signature", detached(owner_key(), old))]))
    assert svc.cases()[-1].verification_level != "verified"
    assert svc.customer().postal_address == "Testikatu 1, 33100 Tampere"


def test_replayed_signature_is_remembered_for_the_case_it_verified(sqlite_db: Database) -> None:
    from handlers import cases as engine
    from storage import used_signatures

    with sqlite_db.session() as s:
        case = engine.open_case(s, types=["access"], requester=OWNER, language="fi",
                                received_at=datetime.now(UTC))
        assert used_signatures.used_by(s, "ab" * 32) is None
        used_signatures.record(s, "ab" * 32, case.id, datetime.now(UTC))
        assert used_signatures.used_by(s, "ab" * 32) == case.id
