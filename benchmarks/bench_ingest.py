"""Backlog ingest benchmark (issue 4): an mbox of 10,000 generated mails.

Measures, in one run on the same mbox:
  * the bare standard-library rate: ``mailbox.mbox`` + ``BytesParser(policy=default)`` per mail;
  * our ingest: read the mbox, store (dedupe, commit in batches), parse and triage every mail
    (``ingest_paths(mode="triage")``) into a fresh database;
  * a second ingest of the same mbox (all duplicates).
Target: ingest >= 30% of the bare parse rate.

Run: ``python benchmarks/bench_ingest.py [--messages N] [--postgres URL]``.
"""

from __future__ import annotations

import argparse
import mailbox
import random
import tempfile
import time
import uuid
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from sqlalchemy import create_engine, text

from bot.mail.ingest import ingest_paths
from bot.settings import Settings
from storage import migrate
from storage.db import Database, normalise_url

WORDS = ("haluan tarkastaa tietoni poistakaa kieltää suoramarkkinoinnin asiakasrekisteri "
         "please delete my data access request jag vill se mina uppgifter tack terveisin").split()


def _mail(n: int, rnd: random.Random) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Asiakas {n % 3000} <asiakas{n % 3000}@example.fi>"
    msg["To"] = "info@rusttet.fi"
    msg["Subject"] = f"Pyyntö {n}: " + " ".join(rnd.choices(WORDS, k=4))
    msg["Message-ID"] = f"<bench-{n}@example.fi>"
    msg["Date"] = "Mon, 02 Nov 2026 09:00:00 +0200"
    msg["Received"] = "from mx.example.fi by mx.rusttet.fi; Mon, 02 Nov 2026 07:00:01 +0000"
    body = "\n".join(" ".join(rnd.choices(WORDS, k=12)) for _ in range(rnd.randint(3, 15)))
    kind = n % 10
    if kind == 0:
        msg["Auto-Submitted"] = "auto-replied"
        msg.set_content("Olen lomalla.\n" + body)
    elif kind == 1:
        msg["List-Id"] = "<news.example.fi>"
        msg.set_content(body)
        msg.add_alternative(f"<html><body><p>{body}</p></body></html>", subtype="html")
    elif kind == 2:
        msg.set_content(f"<html><body><p>{body}</p><style>p{{}}</style></body></html>",
                        subtype="html")
    elif kind == 3:
        msg.set_content(body)
        msg.add_attachment(bytes(rnd.getrandbits(8) for _ in range(4000)),
                           maintype="application", subtype="pdf", filename="pyynto.pdf")
    elif kind == 4:
        msg.set_content(body.encode("latin-1", "replace"), maintype="text", subtype="plain",
                        cte="quoted-printable")
    else:
        msg.set_content(body)
    return msg.as_bytes()


def build_mbox(path: Path, count: int) -> None:
    rnd = random.Random(4)
    box = mailbox.mbox(str(path))
    box.lock()
    try:
        for n in range(count):
            box.add(_mail(n, rnd))
        box.flush()
    finally:
        box.unlock()
        box.close()


def bare_parse(path: Path) -> tuple[int, float]:
    parser = BytesParser(policy=policy.default)
    t0 = time.perf_counter()
    box = mailbox.mbox(str(path), create=False)
    count = 0
    for key in box.iterkeys():
        parser.parsebytes(box.get_bytes(key))
        count += 1
    box.close()
    return count, time.perf_counter() - t0


def _database(tmp: Path, pg_url: str | None) -> tuple[str, str | None]:
    if not pg_url:
        return f"sqlite:///{tmp / 'bench.db'}", None
    name = f"dsrbot_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(normalise_url(pg_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return normalise_url(pg_url).rpartition("/")[0] + "/" + name, name


def _drop(pg_url: str, name: str) -> None:
    admin = create_engine(normalise_url(pg_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=10_000)
    ap.add_argument("--postgres", help="server URL: ingest into PostgreSQL instead of SQLite")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        box = tmp / "backlog.mbox"
        t0 = time.perf_counter()
        build_mbox(box, args.messages)
        print(f"built mbox: {args.messages:,} mails, {box.stat().st_size / 1e6:.1f} MB "
              f"in {time.perf_counter() - t0:.1f} s")

        count, seconds = bare_parse(box)
        bare_rate = count / seconds
        print(f"bare stdlib parse: {count:,} mails in {seconds:.2f} s = {bare_rate:,.0f} msg/s")

        url, pg_name = _database(tmp, args.postgres)
        try:
            migrate.upgrade(url)
            db = Database(url)
            settings = Settings()
            t0 = time.perf_counter()
            summary = ingest_paths(db, settings, [box], mode="triage")
            seconds = time.perf_counter() - t0
            rate = summary.messages / seconds
            print(f"ingest (read + store + parse + triage, {db.engine.dialect.name}): "
                  f"{summary.messages:,} mails in {seconds:.2f} s = {rate:,.0f} msg/s "
                  f"= {100 * rate / bare_rate:.0f}% of bare parse (target >= 30%)")
            print(f"  {summary.line()}")
            t0 = time.perf_counter()
            again = ingest_paths(db, settings, [box], mode="triage")
            seconds = time.perf_counter() - t0
            print(f"second ingest of the same mbox: {again.stored} new, {again.duplicates:,} "
                  f"duplicates in {seconds:.2f} s = {again.messages / seconds:,.0f} msg/s")
            db.dispose()
        finally:
            if pg_name and args.postgres:
                _drop(args.postgres, pg_name)


if __name__ == "__main__":
    main()
