"""Proportionate, as the Ombudsman applies the law (issue 21, item 6), end to end through our
SMTP receiver: a verified identity is enough for every right; a ban from the registered address
applies at once; a ban from elsewhere waits for staff's one tap; a company that insists on
signatures is warned, naming TSV 6097/161/21.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.policy_from_settings import intake_policy, signature_warning
from storage.db import Database
from storage.models import CaseStatus
from tests.identity_kit import mail
from tests.proofing_kit import (
    OWNER,
    Service,
    code_in,
    make_settings,
    seed_register,
)
from tests.run_kit import dsrbot

ACCESS = "Hei, haluan saada kopion kaikista minusta tallennetuista tiedoista."
OPTOUT = "Hei, en halua enää mainoksia enkä puhelinmyyntiä. Maija"


@pytest.fixture
def svc(tmp_path: Path, sqlite_db: Database) -> Iterator[Service]:
    seed_register(sqlite_db)
    service = Service(sqlite_db, make_settings(tmp_path, sqlite_db,
                                               auto_approve=["access", "erasure"]))
    yield service
    service.close()


def confirm(svc: Service) -> None:
    letter = svc.code_letter()
    svc.send(mail(from_=OWNER, subject=f"Re: {letter.subject}", body=f"Koodi {code_in(letter)}",
                  message_id="<confirm@example.fi>"))


def test_verified_unsigned_access_request_is_answered(svc: Service) -> None:
    svc.send(mail(from_=OWNER, body=ACCESS, subject="Tietopyyntö"))
    confirm(svc)
    case = svc.cases()[-1]
    assert case.signature_state == "none" and case.status == CaseStatus.DONE
    assert [r.recipient for r in svc.letters("access_report")] == [OWNER]


def test_marketing_optout_from_registered_address_applies_at_once(svc: Service) -> None:
    svc.send(mail(from_=OWNER, body=OPTOUT, subject="Markkinointikielto"))
    assert svc.customer().marketing_ban is True
    assert svc.cases()[-1].status == CaseStatus.DONE
    assert not svc.letters("identity_challenge")  # no code round trip
    [letter] = svc.letters("marketing_optout")
    assert letter.recipient == OWNER
    assert "vastaa tähän viestiin" in letter.body_text  # how to undo it


def test_ban_in_a_mail_that_asks_for_more_applies_now_and_the_rest_waits(svc: Service) -> None:
    svc.send(mail(from_=OWNER, subject="Kielto ja poisto", body=(
        "En halua enää mainoksia. Poistakaa myös kaikki tietoni rekisteristänne.")))
    case = svc.cases()[-1]
    assert {"marketing_optout", "erasure"} <= set(case.types)
    assert svc.customer().marketing_ban is True
    assert svc.customer().anonymised_at is None
    assert case.status == CaseStatus.AWAITING_IDENTITY
    confirm(svc)
    assert svc.customer().anonymised_at is not None
    assert len(svc.letters("marketing_optout")) == 1  # the ban is not confirmed twice


def test_ban_from_an_address_not_in_the_register_waits_for_one_tap_by_staff(
    svc: Service, tmp_path: Path
) -> None:
    svc.send(mail(from_="stranger@example.net", subject="Markkinointikielto", body=(
        "Asiakkaamme asiakasnumero 100001 ei halua enää mainoksia.")))
    case = svc.cases()[-1]
    assert svc.customer().marketing_ban is False
    assert case.status == CaseStatus.AWAITING_IDENTITY
    config = tmp_path / "proofing.toml"
    config.write_text(config.read_text(encoding="utf-8")
                      + '\n[[chat.staff]]\nname = "aino"\nrole = "approver"\n', encoding="utf-8")
    out = dsrbot(config, "apply-ban", case.id, "--as", "aino").output
    assert "marketing_optout applied for customer 100001" in out
    assert svc.customer().marketing_ban is True
    assert [r.recipient for r in svc.letters("marketing_optout")] == [OWNER]


def test_require_signature_is_warned_about_naming_the_ombudsman_decision(
    tmp_path: Path, sqlite_db: Database
) -> None:
    settings = make_settings(tmp_path, sqlite_db,
                             extra='[rights]\nrequire_signature = ["access"]\n')
    warning = signature_warning(settings)
    assert warning is not None and "TSV 6097/161/21" in warning
    assert intake_policy(settings).rights.require_signature == frozenset({"access"})
    dsrbot(tmp_path / "proofing.toml", "init")
    status = dsrbot(tmp_path / "proofing.toml", "status", check=False).output  # exit 1: not run
    assert "warning: rights.require_signature" in status and "TSV 6097/161/21" in status
    assert signature_warning(make_settings(tmp_path, sqlite_db)) is None
