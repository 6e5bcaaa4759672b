"""Portability: what the customer provided, as JSON and CSV, to the registered address."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

from storage.db import Database
from tests.rights_support import (
    add_customer,
    add_invoice,
    add_order,
    add_party,
    add_provenance,
    audit_entries,
    open_case,
    outbox,
    run_right,
)


def test_portability_sends_json_and_csv_of_what_the_customer_provided(db: Database) -> None:
    with db.session() as s:
        c = add_customer(s)
        updates = add_party(s, "Osoitepalvelu Oy", "authority_update_service", None)
        add_provenance(s, c, "postal_address", updates)  # not provided by the customer
        order = add_order(s, c, "T-1001", description="Työkalupakki", amount=8990,
                          when=date(2025, 6, 1))
        add_invoice(s, c, "L-1", order=order)
        case = open_case(s, c, ["portability"])
        case_id, customer_id = case.id, c.id
    assert customer_id is not None
    outcome = run_right(db, "portability", case_id, customer_id)
    assert outcome.result == "done"
    [mail] = outbox(db)
    assert mail.kind == "portability" and mail.recipient == "maija.100001@example.fi"
    assert set(mail.attachments) == {"omat-tiedot-100001.json", "asiakastiedot-100001.csv",
                                     "tilaukset-100001.csv"}
    data = json.loads(mail.attachments["omat-tiedot-100001.json"])
    assert data["customer"]["customer_number"] == "100001"
    assert data["customer"]["last_name"] == "Meikäläinen"
    assert data["customer"]["ip_address"] == "192.0.2.7"
    assert "postal_address" not in data["customer"]  # came from an update service
    assert data["orders"] == [{"order_number": "T-1001", "ordered_at": "2025-06-01",
                               "description": "Työkalupakki", "amount": "89.90"}]
    assert "invoices" not in data  # made by the company, not provided by the customer
    customer_rows = list(csv.DictReader(io.StringIO(
        mail.attachments["asiakastiedot-100001.csv"].decode("utf-8-sig"))))
    assert customer_rows[0]["email"] == "maija.100001@example.fi"
    order_rows = list(csv.DictReader(io.StringIO(
        mail.attachments["tilaukset-100001.csv"].decode("utf-8-sig"))))
    assert order_rows == [{"order_number": "T-1001", "ordered_at": "2025-06-01",
                           "description": "Työkalupakki", "amount": "89.90"}]
    assert "omat-tiedot-100001.json" in mail.text and "Tietosuojavaltuutetun" in mail.text
    [entry] = audit_entries(db)
    assert entry.action == "rights.portability.sent" and entry.details["orders"] == 1
