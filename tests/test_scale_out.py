"""Two ``dsrbot run`` instances on one PostgreSQL database share the work without doing it twice.

Inbound rows are taken under a row lock, outbox rows with FOR UPDATE SKIP LOCKED and a lease:
every request becomes exactly one case and gets exactly one receipt, whichever instance received
it, and the audit chain (appends serialised by an advisory lock) still verifies.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from subprocess import Popen

import pytest

from tests.run_kit import (
    dsrbot,
    free_port,
    outbox_mails,
    send_mail,
    start_service,
    stop_service,
    wait_for,
    wait_listening,
    write_config,
)

REQUESTS = 12


@pytest.fixture
def two_instances(pg_database: str, tmp_path: Path) -> Iterator[list[tuple[Path, int]]]:
    instances = []
    for name in ("a", "b"):
        port = free_port()
        instances.append((write_config(tmp_path / name, port=port, database_url=pg_database),
                          port))
    dsrbot(instances[0][0], "init")
    procs: list[tuple[Popen[bytes], Path]] = []
    try:
        for config, port in instances:
            log = config.parent / "run.log"
            proc = start_service(config, log)
            procs.append((proc, log))
            wait_listening(port, proc, log)
        yield instances
    finally:
        codes = [stop_service(proc) for proc, _ in procs]
        assert codes == [0] * len(procs), [log.read_text()[-2000:] for _, log in procs]


def _receipts(instances: list[tuple[Path, int]]) -> list[str]:
    return [str(m["To"]) for config, _ in instances
            for m in outbox_mails(config.parent / "var" / "outbox")
            if "received your request" in str(m["Subject"])]


def test_two_instances_on_one_database_make_one_case_and_one_receipt_per_request(
    two_instances: list[tuple[Path, int]],
) -> None:
    requesters = [f"person{n}@example.org" for n in range(REQUESTS)]
    for n, address in enumerate(requesters):
        _, port = two_instances[n % 2]
        send_mail(port, sender=address, subject="Erase my data",
                  body="Please erase my personal data from your customer register.",
                  message_id=f"<request-{n}@example.org>")
    # The same message delivered to both instances (a retrying relay) is one request.
    for _, port in two_instances:
        send_mail(port, sender="twice@example.org", subject="Erase my data",
                  body="Please erase my personal data from your customer register.",
                  message_id="<twice@example.org>")
    requesters.append("twice@example.org")

    wait_for(lambda: len(_receipts(two_instances)) >= len(requesters),
             message="a receipt for every request")
    config = two_instances[0][0]
    cases = json.loads(dsrbot(config, "cases", "--all", "--json").stdout)
    assert Counter(c["requester"] for c in cases) == Counter(requesters)
    assert Counter(_receipts(two_instances)) == Counter(requesters)
    assert "audit chain intact" in dsrbot(config, "audit", "verify").stdout
    status = json.loads(dsrbot(config, "status", "--json", check=False).stdout)
    assert status["queues"]["inbound_received"] == 0
    assert status["queues"]["outbox_pending"] == 0
