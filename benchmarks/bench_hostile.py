"""Hostile mail (issue 14): the worst time per message for 1 MB of hostile text in each stage,
and the SMTP greeting latency while such a mail is processed.

Every body is one long run of a character class or mixture the mail regexes care about
(address characters without an ``@``, dots, dashes, spaces, newlines, quote marks, non-ASCII
letters...). For each, parse, triage and classify run as the pipeline calls them, and
identify runs in a real SQLite transaction. Then ``dsrbot run`` (a real subprocess) receives
the worst body by SMTP while a client measures EHLO round trips until it is processed.

Run: ``python benchmarks/bench_hostile.py [--megabytes 1]``.
"""

from __future__ import annotations

import argparse
import os
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from sqlmodel import select

from bot.policy_from_settings import intake_policy
from bot.settings import Settings
from handlers import intake
from storage import migrate
from storage.db import Database
from storage.models import InboundMessage

UNITS = {
    "letters": "a", "digits": "7", "dots": ".", "at signs": "@", "dashes": "-",
    "underscores": "_", "percent": "%", "plus": "+", "spaces": " ", "newlines": "\n",
    "quote marks": "> ", "equals": "=", "non-ASCII letters": "ä", "CJK": "用",
    "address-like": "a.b-c_d%e+f", "letter+dot": "a.", "capitalised words": "Aa ",
    "tabs": "\t", "html open": "<a ", "pgp armour": "-----BEGIN PGP MESSAGE-----\n",
}


def hostile_mail(unit: str, size: int, n: int = 0) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Asiakas <hostile{n}@example.fi>"
    msg["To"] = "info@rusttet.fi"
    msg["Subject"] = "Tietojen poisto"
    msg["Message-ID"] = f"<hostile-{n}@example.fi>"
    msg.set_content("Hei, poistakaa tietoni.\n" + unit * (size // len(unit.encode())),
                    cte="8bit" if not unit.isascii() else None)
    return msg.as_bytes()


def bench_stages(size: int) -> str:
    """Per body: each stage's time; returns the unit of the slowest body in all."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'd.db'}"
        migrate.upgrade(url)
        db = Database(url)
        ctx = intake.Context(policy=intake_policy(Settings()), now=datetime.now(UTC))
        warm = intake.Work(inbound_id=0, raw=hostile_mail("a", 100), channel="smtp",
                           envelope_from="", received_at=ctx.now)
        intake.parse_stage(warm, ctx)
        intake.classify_stage(warm, ctx)  # the model loads once: not measured
        worst: dict[str, tuple[float, str]] = {}
        totals: dict[str, float] = {}
        for name, unit in UNITS.items():
            work = intake.Work(inbound_id=0, raw=hostile_mail(unit, size), channel="smtp",
                               envelope_from="hostile0@example.fi", received_at=ctx.now)
            times = {}
            for stage in ("parse", "triage", "classify"):
                t0 = time.perf_counter()
                getattr(intake, f"{stage}_stage")(work, ctx)
                times[stage] = time.perf_counter() - t0
            with db.session() as session:
                t0 = time.perf_counter()
                intake.identify_stage(work, ctx, session)
                times["identify"] = time.perf_counter() - t0
                session.rollback()
            totals[name] = sum(times.values())
            print(f"  {name:18s} " + "  ".join(f"{k} {v * 1000:7.0f} ms" for k, v in times.items()))
            for stage, value in times.items():
                if value > worst.get(stage, (0.0, ""))[0]:
                    worst[stage] = (value, name)
        db.dispose()
    for stage, (value, name) in worst.items():
        print(f"worst {stage} for {size / 1e6:.0f} MB of hostile text: {value * 1000:.0f} ms "
              f"({name})")
    return UNITS[max(totals, key=lambda k: totals[k])]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ehlo_seconds(port: int) -> float:
    t0 = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, timeout=600) as smtp:
        smtp.ehlo()
    return time.perf_counter() - t0


def bench_greeting(unit: str, size: int, budget: float) -> None:
    """Greeting latency while the worst hostile mail is processed by ``dsrbot run``."""
    with tempfile.TemporaryDirectory() as tmp:
        root, port = Path(tmp), free_port()
        cfg = root / "c.toml"
        cfg.write_text('[database]\nurl = "sqlite:///d.db"\n'
                       f'[mail.outgoing]\nbackend = "maildir"\nmaildir = "{root / "out"}"\n'
                       f'[mail.receiver]\nenabled = true\nhost = "127.0.0.1"\nport = {port}\n'
                       f"[pipeline]\nmax_seconds_per_message = {budget}\n"
                       "[scheduler]\nenabled = false\n", encoding="utf-8")
        subprocess.run([sys.executable, "-m", "bot.cli", "--config", str(cfg), "init"],
                       check=True, stdout=subprocess.DEVNULL, cwd=root)
        proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "--config", str(cfg), "run"],
                                cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        db = Database(f"sqlite:///{root / 'd.db'}")
        try:
            while True:
                try:
                    idle = [ehlo_seconds(port) for _ in range(20)]
                    break
                except OSError:
                    time.sleep(0.1)
            with smtplib.SMTP("127.0.0.1", port, timeout=600) as smtp:
                smtp.sendmail("hostile0@example.fi", ["info@rusttet.fi"],
                              hostile_mail(unit, size))
            t0 = time.perf_counter()
            busy: list[float] = []
            state, reasons = "received", []
            while state == "received" and time.perf_counter() - t0 < 600:
                busy.append(ehlo_seconds(port))
                with db.read_session() as s:
                    row = s.exec(select(InboundMessage)).first()
                    state, reasons = (row.state, row.reasons) if row else ("received", [])
            elapsed = time.perf_counter() - t0
        finally:
            proc.terminate()
            proc.wait(30)
            db.dispose()
    print(f"SMTP EHLO round trip, idle: median {statistics.median(idle) * 1000:.1f} ms, "
          f"max {max(idle) * 1000:.1f} ms")
    print(f"SMTP EHLO round trip while a {size / 1e6:.0f} MB hostile mail is processed "
          f"(budget {budget} s): median {statistics.median(busy) * 1000:.1f} ms, "
          f"max {max(busy) * 1000:.1f} ms over {len(busy)} connections in {elapsed:.1f} s; "
          f"outcome {state}: {reasons[-1] if reasons else ''}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--megabytes", type=float, default=1.0)
    parser.add_argument("--budget", type=float, default=20.0,
                        help="pipeline.max_seconds_per_message for the service run")
    args = parser.parse_args()
    size = int(args.megabytes * 1_000_000)
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    worst_unit = bench_stages(size)
    bench_greeting(worst_unit, size, args.budget)
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
