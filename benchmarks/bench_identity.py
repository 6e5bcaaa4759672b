"""Identity benchmark (issue 5): what the identify stage costs per inbound mail.

Measures, per call, median and p99 over N runs (single process):
* ``assess_identity`` on a forged mail with trusted Authentication-Results (no DKIM check);
* ``assess_identity`` with direct DKIM verification (RSA-2048, DNS answered in memory);
* ``check_signatures`` on an unsigned mail, an OpenPGP clearsigned mail, an S/MIME mail and a
  mail with a PAdES-signed PDF (pyHanko, offline trust roots);
* ``find_codes`` on a quoted reply, and the impostor suite end to end at function level;
* issuing + confirming a challenge on SQLite (one transaction each, audited).

Run: ``python benchmarks/bench_identity.py [--runs N]`` (from the repository root).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from handlers.challenge import confirm_challenge, find_codes, issue_challenge
from handlers.fields import normalise_email
from handlers.identity import assess_identity
from handlers.signatures import check_signatures
from storage import migrate
from storage.cases import create_case
from storage.db import Database
from storage.models import Customer
from tests.identity_kit import (
    NOW,
    by_email,
    clearsign,
    dkim_world,
    mail,
    parse,
    pgp_key,
    register,
    settings,
    signed_pdf,
    smime_signed,
    trust,
    trusted_pki,
)
from tests.impostor_scenarios import scenario_trust, scenarios

VICTIM = "maija.meikalainen@example.fi"
AR = "mx.rusttet.fi; dkim=none; dmarc=fail header.from=example.fi"


def timed(name: str, runs: int, fn: Callable[[], object]) -> None:
    fn()  # warm caches (trust stores, key parsing)
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    print(f"{name:55} median {statistics.median(samples):8.3f} ms   p99 {p99:8.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    runs = parser.parse_args().runs
    customers = register()
    cfg = settings()
    world = dkim_world()

    forged = mail(from_=VICTIM, headers=[("Authentication-Results", AR)],
                  body="Olen Maija, asiakasnumero 100001, puh 040 123 4567.")
    parsed_forged = parse(forged)
    timed("assess_identity (trusted A-R, no DKIM)", runs, lambda: assess_identity(
        parsed_forged, by_email(customers, VICTIM), customers[:1], cfg))
    signed = world.sign(mail(from_=VICTIM), "example.fi")
    parsed_signed = parse(signed)
    timed("assess_identity (+ direct DKIM, RSA-2048)", runs, lambda: assess_identity(
        parsed_signed, by_email(customers, VICTIM), [], cfg, raw=signed, dns=world.dns))

    tsk = pgp_key(f"Maija <{VICTIM}>")
    pki = trusted_pki()
    cert, key = pki.issue(VICTIM)
    trust_all = trust(pgp=[tsk], roots=[pki])
    cases = {
        "check_signatures (unsigned)": mail(from_=VICTIM),
        "check_signatures (OpenPGP clearsigned)": mail(from_=VICTIM,
                                                      body=clearsign(tsk, "Pyyntö.\n")),
        "check_signatures (S/MIME multipart/signed)": smime_signed(cert, key, from_=VICTIM),
        "check_signatures (PAdES-signed PDF attached)": mail(from_=VICTIM, attachments=[
            ("p.pdf", "application/pdf", signed_pdf(cert, key, pki))]),
    }
    for name, raw in cases.items():
        parsed = parse(raw)
        timed(name, max(runs // 4, 10), lambda parsed=parsed: check_signatures(parsed, trust_all))

    reply = "Kiitos!\n> Vahvistuskoodi: 7KQ2-M9XD-0PAW-3RNB\n" + "> lainattua tekstiä\n" * 40
    timed("find_codes (quoted reply, 42 lines)", runs * 5, lambda: find_codes(reply))

    all_scenarios = scenarios()
    trust_s = scenario_trust()

    def suite() -> None:
        for sc in all_scenarios:
            p = parse(sc.raw)
            sig = check_signatures(p, trust_s)
            assess_identity(p, by_email(customers, p.from_address), [], cfg, raw=sc.raw,
                            dns=world.dns, signature=sig)

    timed(f"impostor suite ({len(all_scenarios)} mails: parse+signatures+assess)", 5, suite)

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        migrate.upgrade(url)
        db = Database(url)
        with db.session() as s:
            cust = Customer(customer_number="1", email=VICTIM,
                            email_normalised=normalise_email(VICTIM),
                            created_at=NOW, updated_at=NOW)
            s.add(cust)
            s.flush()
            case = create_case(s, types=["access"], requester="x", language="fi",
                               received_at=NOW, due_date=NOW.date() + timedelta(days=30),
                               customer_id=cust.id)
            case_id = case.id

        def round_trip() -> None:
            with db.session() as s:
                c = s.get(type(case), case_id)
                cu = s.get(Customer, cust.id)
                assert c is not None and cu is not None
                _, code = issue_challenge(s, c, cu, NOW)
            with db.session() as s:
                assert confirm_challenge(s, case_id, code, NOW, sender=VICTIM).ok

        timed("challenge issue + confirm (SQLite, 2 transactions)", max(runs // 4, 10),
              round_trip)
        db.dispose()


if __name__ == "__main__":
    main()
