"""Reminders of an earlier request: staff hear the claimed date, the case names the right."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from sqlmodel import select

from bot.settings import Settings
from handlers.earlier_request import find_earlier_request
from storage.db import Database
from storage.models import Case
from tests.helpers import run_cli
from tests.test_pipeline import (  # noqa: F401
    customer,
    deliver,
    mail,
    only_case,
    outbox_rows,
    settings,
)

TODAY = date(2026, 12, 7)


def test_finder_reads_reminders_in_finnish_english_and_swedish() -> None:
    fi = find_earlier_request("Lähetin teille 3.11.2026 tietosuoja-asetuksen 15 artiklan "
                              "mukaisen pyynnön, enkä ole saanut vastausta.", received_on=TODAY)
    en = find_earlier_request("I sent you a request on 3 November 2026 under Article 17 and "
                              "have had no answer.", received_on=TODAY)
    sv = find_earlier_request("Jag skickade en begäran den 3 november 2026 enligt artikel 20 "
                              "men har inte fått något svar.", received_on=TODAY)
    assert fi is not None and fi.claimed_on == date(2026, 11, 3) and fi.rights == ("access",)
    assert en is not None and en.claimed_on == date(2026, 11, 3) and en.rights == ("erasure",)
    assert sv is not None and sv.claimed_on == date(2026, 11, 3) and sv.rights == (
        "portability",)
    # a date in an ordinary request is not a claim, nor is a date in the future
    assert find_earlier_request("Poistakaa tietoni. Syntymäaikani on 3.11.1980.",
                                received_on=TODAY) is None
    assert find_earlier_request("I sent it; I will be away until 3 January 2027.",
                                received_on=TODAY) is None


def test_reminder_opens_case_with_claimed_earlier_date(
    db: Database, settings: Settings, customer: int, tmp_path: Path  # noqa: F811
) -> None:
    claimed = date(2026, 11, 3)
    deliver(db, settings, mail(
        "Reminder: my request", f"Hello, I sent you a request on {claimed:%d %B %Y} under "
        "Article 15 of the GDPR and have had no answer. Maija Virtanen"))
    case = only_case(db)
    assert "access" in case.types
    assert case.claimed_earlier == claimed
    assert (f"claims an earlier request of {claimed.isoformat()}: search the mailbox; the "
            "deadline may run from then") in case.reasons
    cfg = tmp_path / "c.toml"  # the settings fixture's file
    listed = json.loads(run_cli("--config", str(cfg), "cases", "--json").stdout)
    assert [row["claimed_earlier"] for row in listed] == [claimed.isoformat()]
    shown = json.loads(run_cli("--config", str(cfg), "case", case.id, "--json").stdout)
    assert shown["claimed_earlier"] == claimed.isoformat()
    # the receipt date is staff's to move, once they find the first request
    assert shown["received_on"] != claimed.isoformat()


def test_reminder_in_the_thread_joins_its_case_with_the_claimed_date(
    db: Database, settings: Settings, customer: int  # noqa: F811
) -> None:
    deliver(db, settings, mail("Tietopyyntö", "Haluan tarkastaa kaikki minusta tallennetut "
                               "tiedot.\n\nMaija Virtanen"))
    case = only_case(db)
    receipt = next(r for r in outbox_rows(db) if r.kind == "receipt")
    deliver(db, settings, mail(f"Re: {receipt.subject}", "Muistutus: lähetin teille pyynnön "
                               "jo 3.11.2026, enkä ole saanut vastausta.\n\nMaija",
                               in_reply_to=receipt.message_id))
    joined = only_case(db)  # still one case: the reminder joined it
    assert joined.id == case.id and joined.claimed_earlier == date(2026, 11, 3)
    assert joined.due_date == case.due_date  # staff move the receipt date, not the bot
    assert any(r.startswith("claims an earlier request of 2026-11-03") for r in joined.reasons)


def test_reminder_naming_its_case_joins_it(
    db: Database, settings: Settings, customer: int  # noqa: F811
) -> None:
    deliver(db, settings, mail("Tietopyyntö", "Haluan tarkastaa kaikki minusta tallennetut "
                               "tiedot.\n\nMaija Virtanen"))
    case = only_case(db)
    letters = [(r.kind, r.recipient) for r in outbox_rows(db)]
    # a new mail, outside the thread, that names the case in its text
    deliver(db, settings, mail("Muistutus", f"Lähetin teille pyynnön 3.11.2026 (asianumero "
                               f"{case.id}), enkä ole saanut vastausta.\n\nMaija Virtanen"))
    joined = only_case(db)  # no second case, no second receipt
    assert joined.id == case.id and joined.claimed_earlier == date(2026, 11, 3)
    assert [(r.kind, r.recipient) for r in outbox_rows(db)] == letters
    # the same case id from someone else opens a case of its own
    deliver(db, settings, mail("Reminder", f"I sent you a request on 3 November 2026 "
                               f"(your reference {case.id}) under Article 15 and have had no "
                               "answer.", sender="Someone Else <someone@example.org>"))
    with db.read_session() as s:
        assert len(s.exec(select(Case)).all()) == 2
