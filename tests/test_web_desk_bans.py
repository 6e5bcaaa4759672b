"""The desk's Ban button: the same "apply ban" as the chat's tap and ``dsrbot apply-ban``.

A ban (marketing or publication) is set on the customer staff name, or the one the case matched
or names, and confirmed to that customer's registered address, never to the sender; without one
customer it is refused. Real parts: the Starlette app over TestClient, SQLite and PostgreSQL,
the CLI that makes logins (test_web_browser.py clicks the same button in Chromium).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select
from starlette.testclient import TestClient

from storage.db import Database
from storage.models import Customer, OutboundMessage
from tests import web_kit as kit
from tests.db_reads import audit_actions, case_row


@pytest.fixture
def web(tmp_path: Path, db: Database) -> Iterator[TestClient]:
    cfg, settings = kit.write_settings(tmp_path, db)
    kit.add_staff(cfg, "aino", "approver")
    with kit.client(settings, db) as c:
        yield c


@pytest.fixture
def case_id(db: Database) -> str:
    return kit.make_case(db, customer_id=kit.add_customer(db))


def test_ban_sets_the_customer_flag_and_confirms_to_the_registered_address(
        web: TestClient, case_id: str, db: Database) -> None:
    token = kit.login(web, "aino")
    web.post(f"/cases/{case_id}/ban", data={"csrf_token": token, "ban": "marketing",
                                           "note": "asked on the phone"})
    with db.read_session() as s:
        customer = s.exec(select(Customer)).one()
        [letter] = s.exec(select(OutboundMessage)).all()
    assert customer.marketing_ban and not customer.publication_ban
    assert (letter.kind, letter.recipient) == ("marketing_optout", kit.REGISTERED)
    [entry] = audit_actions(db, "rights.marketing_optout.set_at_once")
    assert entry.actor == "staff:aino" and "asked on the phone" in entry.details["basis"]
    again = web.post(f"/cases/{case_id}/ban", data={"csrf_token": token, "ban": "marketing",
                                                   "note": "asked again"})
    assert "already applied" in web.get(again.headers["location"]).text


def test_ban_needs_a_matched_customer(web: TestClient, db: Database) -> None:
    first, second = kit.add_customer(db), kit.add_customer(db, "104234")
    nobody = kit.make_case(db, verified=False, types=("marketing_optout",),
                           requester="asiamies@example.net", names=[])
    two = kit.make_case(db, verified=False, types=("marketing_optout",),
                        requester="asiamies@example.net", names=[first, second])
    token = kit.login(web, "aino")
    for cid, refusal in ((nobody, "names 0 register customers"),
                         (two, "names 2 register customers: say which one")):
        answer = web.post(f"/cases/{cid}/ban", data={"csrf_token": token, "ban": "marketing",
                                                    "note": "the mail asks"})
        assert refusal in web.get(answer.headers["location"]).text
    web.post(f"/cases/{two}/ban", data={"csrf_token": token, "ban": "marketing",
                                       "customer_number": "104234", "note": "the mail asks"})
    with db.read_session() as s:
        flags = {c.customer_number: c.marketing_ban for c in s.exec(select(Customer)).all()}
        letters = s.exec(select(OutboundMessage)).all()
    assert flags == {"104233": False, "104234": True}
    assert [m.kind for m in letters] == ["marketing_optout"]
    assert case_row(db, two).status == "done" and case_row(db, nobody).status != "done"
