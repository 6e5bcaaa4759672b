"""A synthetic, Finnish-looking register for demos and benchmarks (never real people).

Deterministic for a seed, and written with Core bulk inserts with explicit ids so that a
million customers with their orders and invoices load in about a minute on SQLite.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, text
from sqlmodel import Session, select

from storage import audit
from storage.models import Customer, Invoice, InvoiceStatus, Order, normalise_email
from storage.register import ensure_default_parties, party_by_name

FIRST = ("Aino Eino Elina Juha Jukka Kaisa Laura Mikko Minna Pekka Riikka Sami Satu Timo Tuula "
         "Ville Anna Antti Heikki Helena Jari Johanna Kari Katja Maria Markku Matti Niina Olli "
         "Päivi Sanna Seppo Tiina Tuomas Ulla Veera Aleksi Emilia Onni Ilona").split()
LAST = ("Virtanen Korhonen Mäkinen Nieminen Mäkelä Hämäläinen Laine Heikkinen Koskinen Järvinen "
        "Lehtonen Lehtinen Saarinen Salminen Heinonen Niemi Heikkilä Kinnunen Salonen Turunen "
        "Salo Laitinen Tuominen Rantanen Karjalainen Jokinen Mattila Savolainen Lahtinen "
        "Ahonen").split()
STREETS = ("Hämeenkatu Aleksanterinkatu Kauppakatu Rantatie Koulukatu Puistokatu Myllytie "
           "Kirkkokatu Asemakatu Teollisuustie Koivukuja Mäntytie").split()
CITIES = (("00100", "Helsinki"), ("33100", "Tampere"), ("20100", "Turku"), ("90100", "Oulu"),
          ("40100", "Jyväskylä"), ("70100", "Kuopio"), ("15100", "Lahti"), ("02100", "Espoo"),
          ("01300", "Vantaa"), ("65100", "Vaasa"))
ORGS = ("Rakennus Oy", "Konepaja Oy", "Tilitoimisto Ky", "Kuljetus Oy", "Kauppa Oy", "Ry")
POSITIONS = ("toimitusjohtaja", "hankintapäällikkö", "talouspäällikkö", "sihteeri", "myyjä")
PRODUCTS = ("Ruuvisarja", "Työkalupakki", "Porakone", "Maalisarja", "Tikkaat", "Kottikärryt")


def _ascii(name: str) -> str:
    return name.lower().translate(str.maketrans("äöå", "aoa"))


def _next_id(session: Session, model: Any) -> int:
    return int(session.exec(select(func.coalesce(func.max(model.id), 0))).one()) + 1


def generate(
    session: Session,
    count: int,
    *,
    seed: int = 1,
    today: date | None = None,
    progress: Callable[[int], None] | None = None,
    chunk: int = 10_000,
) -> dict[str, int]:
    """Add ``count`` synthetic customers with orders and invoices; return the counts."""
    rnd = random.Random(seed)
    today = today or date.today()
    now = datetime.now(UTC)
    ensure_default_parties(session)
    source = party_by_name(session, "customer").id
    cust_id, order_id, inv_id = (_next_id(session, m) for m in (Customer, Order, Invoice))
    totals = {"customers": 0, "orders": 0, "invoices": 0}
    done = 0
    while done < count:
        n = min(chunk, count - done)
        customers, orders, invoices = [], [], []
        for _ in range(n):
            first, last = rnd.choice(FIRST), rnd.choice(LAST)
            code, city = rnd.choice(CITIES)
            start = today - timedelta(days=rnd.randint(30, 365 * 15))
            ended = rnd.random() < 0.15
            end = start + timedelta(days=rnd.randint(1, max(1, (today - start).days))) if ended \
                else None
            org = rnd.random() < 0.3
            email = f"{_ascii(first)}.{_ascii(last)}{cust_id}@example.fi"
            customers.append({
                "id": cust_id, "customer_number": str(100000 + cust_id),
                "first_name": first, "last_name": last,
                "organisation": f"{last} {rnd.choice(ORGS)}" if org else "",
                "position": rnd.choice(POSITIONS) if org else "",
                "email": email, "email_normalised": normalise_email(email),
                "postal_address": f"{rnd.choice(STREETS)} {rnd.randint(1, 99)}, {code} {city}",
                "phone": f"+35840{rnd.randint(1000000, 9999999)}", "www": "",
                "ip_address": f"192.0.2.{rnd.randint(1, 254)}",
                "relationship_start": start, "relationship_end": end,
                "marketing_ban": rnd.random() < 0.05, "publication_ban": rnd.random() < 0.05,
                "processing_restricted": False, "is_org_contact": org and rnd.random() < 0.5,
                "anonymised_at": None, "source_party_id": source,
                "created_at": now, "updated_at": now,
            })
            for _ in range(rnd.choice((0, 1, 1, 2))):
                ordered = start + timedelta(days=rnd.randint(0, max(0, (today - start).days)))
                amount = rnd.randint(500, 200_000)
                orders.append({"id": order_id, "order_number": str(5_000_000 + order_id),
                               "customer_id": cust_id, "ordered_at": ordered,
                               "description": rnd.choice(PRODUCTS), "amount_cents": amount})
                if rnd.random() < 0.6:
                    roll = rnd.random()
                    status = (InvoiceStatus.OPEN if roll < 0.04 else
                              InvoiceStatus.IN_COLLECTION if roll < 0.05 else InvoiceStatus.PAID)
                    invoices.append({"id": inv_id, "invoice_number": str(90_000_000 + inv_id),
                                     "customer_id": cust_id, "order_id": order_id,
                                     "issued_at": ordered, "due_date": ordered + timedelta(14),
                                     "amount_cents": amount, "status": status.value})
                    inv_id += 1
                order_id += 1
            cust_id += 1
        session.execute(insert(Customer), customers)
        if orders:
            session.execute(insert(Order), orders)
        if invoices:
            session.execute(insert(Invoice), invoices)
        totals["customers"] += len(customers)
        totals["orders"] += len(orders)
        totals["invoices"] += len(invoices)
        done += n
        if progress:
            progress(n)
    if session.get_bind().dialect.name == "postgresql":
        for table in ("customer", '"order"', "invoice"):
            session.execute(text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"))
    audit.record(session, audit.BOT_ACTOR, "register.demo_data", details=dict(totals))
    return totals
