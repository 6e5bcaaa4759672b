"""The one way tests make a customer row.

Every test that needs someone in the register builds them here, so a new required column, or a
change to how ``email_normalised`` is derived, is made once and every test keeps building valid
rows. ``new_customer`` is the unsaved row (for pure rules); ``add_customer`` stores it.
``FULL_RECORD`` fills every register field, for the tests that report or erase all of them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlmodel import Session

from storage.db import Database
from storage.models import Customer, normalise_email


def full_record(number: str) -> dict[str, Any]:
    """Every field of the privacy notice's register filled in (an organisation's contact)."""
    return {
        "organisation": "Meikäläinen Oy", "position": "toimitusjohtaja",
        "email": f"maija.{number}@example.fi", "postal_address": "Hämeenkatu 12 B 7, 33100 Tampere",
        "phone": "+358401234567", "www": "www.example.fi", "ip_address": "192.0.2.7",
        "relationship_start": date(2019, 5, 2),
    }


def new_customer(number: str = "100001", *, at: datetime | None = None,
                 **fields: Any) -> Customer:
    """An unsaved customer called Maija Meikäläinen unless ``fields`` say otherwise; the email's
    lookup form is derived as the importer derives it."""
    when = at or datetime.now(UTC)
    values: dict[str, Any] = {"customer_number": number, "first_name": "Maija",
                              "last_name": "Meikäläinen", "email": "",
                              "created_at": when, "updated_at": when, **fields}
    values["email_normalised"] = normalise_email(values["email"])
    return Customer(**values)


def add_customer(session: Session, number: str = "100001", **fields: Any) -> Customer:
    """Store :func:`new_customer` in the caller's transaction (its ``id`` is set)."""
    customer = new_customer(number, **fields)
    session.add(customer)
    session.flush()
    assert customer.id is not None
    return customer


def stored_customer(db: Database, number: str = "100001", **fields: Any) -> int:
    """:func:`add_customer` in a transaction of its own; the new row's id."""
    with db.session() as session:
        customer_id = add_customer(session, number, **fields).id
    assert customer_id is not None
    return customer_id
