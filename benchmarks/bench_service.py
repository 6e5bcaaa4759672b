"""The whole service (issue 9): start-up time, peak memory over a batch, pipeline rates.

Measures, with ``dsrbot run`` as a real subprocess (SQLite, maildir outbox, SMTP receiver,
scheduler on, console chat):
  * start-up: from exec until the SMTP receiver's port answers with its 220 greeting
    (database already initialised), median of ``--runs``; and the SIGTERM stop time;
  * a batch: ``--messages`` mails stored first (``dsrbot ingest --store-only``), then
    ``dsrbot run`` processes them all; the processing rate from "port answers" to "none left",
    and the service's peak RSS (VmHWM) over its whole life;
  * in process, over the same stored mails: the classify stage as the pipeline calls it
    (after parse and triage), and the three CPU stages together.

Run: ``python benchmarks/bench_service.py [--messages 1000] [--runs 3]``.
"""

from __future__ import annotations

import argparse
import mailbox
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from sqlmodel import col, func, select

from bot.policy_from_settings import intake_policy
from bot.settings import Settings
from handlers import intake
from storage.db import Database
from storage.models import InboundMessage

REQUESTS = [
    ("Markkinointikielto", "Hei, en halua enää mainoksia enkä puhelinmyyntiä. Terveisin {n}"),
    ("Tarkastuspyyntö", "Hei, haluan tarkastaa mitä tietoja minusta on rekisterissänne. {n}"),
    ("Tietojen poisto", "Hei, poistakaa kaikki tietoni rekisteristänne. Terveisin {n}"),
    ("Please delete my data", "Hello, please erase all my personal data. Regards {n}"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_mbox(path: Path, count: int) -> Path:
    box = mailbox.mbox(str(path))
    for n in range(count):
        msg = EmailMessage()
        msg["From"] = f"Asiakas {n} <asiakas{n}@example.fi>"
        msg["To"] = "info@rusttet.fi"
        msg["Message-ID"] = f"<bench-service-{n}@example.fi>"
        msg["Date"] = "Tue, 24 Nov 2026 10:00:00 +0200"
        if n % 5 < 2:  # 40 % requests (each gets a case and a receipt), 60 % ordinary mail
            subject, body = REQUESTS[n % len(REQUESTS)]
            msg["Subject"] = subject
            msg.set_content(body.format(n=n))
        else:
            msg["Subject"] = f"Tilaus {5000000 + n}"
            msg.set_content(f"Hei, milloin tilaukseni {5000000 + n} toimitetaan? Kiitos.")
        box.add(msg)
    box.flush()
    box.close()
    return path


def write_config(root: Path, port: int) -> Path:
    cfg = root / "c.toml"
    cfg.write_text(
        '[database]\nurl = "sqlite:///d.db"\n'
        f'[mail.outgoing]\nbackend = "maildir"\nmaildir = "{root / "outbox"}"\n'
        f'[mail.receiver]\nenabled = true\nhost = "127.0.0.1"\nport = {port}\n'
        "[mail]\nrate_limit_per_sender = 1000000\n", encoding="utf-8")
    return cfg


def cli(cfg: Path, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "bot.cli", "--config", str(cfg), *args], check=True,
                   stdout=subprocess.DEVNULL)


def start(cfg: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "bot.cli", "--config", str(cfg), "run"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_for_greeting(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("dsrbot run exited during start-up")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                if sock.recv(64).startswith(b"220"):
                    return
        except OSError:
            pass
        time.sleep(0.005)
    raise RuntimeError("the SMTP port never answered")


def stop(proc: subprocess.Popen[bytes]) -> float:
    t0 = time.perf_counter()
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    return time.perf_counter() - t0


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pending(db: Database) -> int:
    with db.read_session() as s:
        return int(s.exec(select(func.count()).select_from(InboundMessage)
                          .where(col(InboundMessage.state) == "received")).one())


def bench_startup(root: Path, runs: int) -> None:
    port = free_port()
    cfg = write_config(root, port)
    cli(cfg, "init")
    starts, stops = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = start(cfg)
        try:
            wait_for_greeting(port, proc)
            starts.append(time.perf_counter() - t0)
        finally:
            stops.append(stop(proc))
    print(f"start-up until the SMTP port answers: median {statistics.median(starts):.2f} s "
          f"(runs {', '.join(f'{s:.2f}' for s in starts)})")
    print(f"SIGTERM to exit (idle): median {statistics.median(stops):.2f} s")


def bench_batch(root: Path, count: int) -> None:
    port = free_port()
    cfg = write_config(root, port)
    cli(cfg, "init")
    cli(cfg, "ingest", "--store-only", str(write_mbox(root / "batch.mbox", count)))
    db = Database(f"sqlite:///{root / 'd.db'}")
    assert pending(db) == count
    proc = start(cfg)
    try:
        wait_for_greeting(port, proc)
        t0 = time.perf_counter()
        while pending(db):
            time.sleep(0.05)
        elapsed = time.perf_counter() - t0
        peak = peak_rss_mb(proc.pid)
    finally:
        stop_s = stop(proc)
    print(f"batch of {count}: processed in {elapsed:.1f} s after the port answered "
          f"= {count / elapsed:.0f} msg/s; peak RSS (VmHWM) {peak:.0f} MB; "
          f"SIGTERM to exit {stop_s:.2f} s")
    bench_stages(db)
    db.dispose()


def bench_stages(db: Database) -> None:
    """The CPU stages exactly as ``bot.pipeline`` calls them, on the stored mails."""
    with db.read_session() as s:
        rows = list(s.exec(select(InboundMessage)).all())
    ctx = intake.Context(policy=intake_policy(Settings()), now=datetime.now(UTC))
    warm = intake.Work.from_row(rows[0])
    intake.parse_stage(warm, ctx)
    intake.classify_stage(warm, ctx)  # the model loads once per process: not measured
    classify_s, cpu_s, classified = 0.0, 0.0, 0
    for row in rows:
        work = intake.Work.from_row(row)
        t0 = time.perf_counter()
        if intake.parse_stage(work, ctx) or intake.triage_stage(work, ctx):
            cpu_s += time.perf_counter() - t0
            continue
        t1 = time.perf_counter()
        intake.classify_stage(work, ctx)
        t2 = time.perf_counter()
        classify_s += t2 - t1
        cpu_s += t2 - t0
        classified += 1
    print(f"classify stage inside the pipeline: {classified / classify_s:.0f} msg/s "
          f"({classified} mails); parse + triage + classify: {len(rows) / cpu_s:.0f} msg/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "a").mkdir()
        (Path(tmp) / "b").mkdir()
        bench_startup(Path(tmp) / "a", args.runs)
        bench_batch(Path(tmp) / "b", args.messages)
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
