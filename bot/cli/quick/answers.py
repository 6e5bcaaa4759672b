"""The quick path's three answers; each reads, audits a look where the full path does, then
prints with the view the full path uses."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.cli.quick import Request, reads, snapshot
from bot.cli.quick.db import connect, reading
from bot.cli.quick.declined import Declined
from bot.cli.quick.look import audit_key, record_look
from bot.config_path import resolve_config_path


def _values(request: Request) -> dict[str, Any]:
    values = snapshot.read(resolve_config_path(request.config))
    if values is None:
        raise Declined("no settings snapshot for this config (the full path writes one)")
    return values


def answer(request: Request) -> int:
    values = _values(request)
    # Every command on the full path validates the audit key (a short one is a config error,
    # exit 2), also those that write nothing: so here too, before anything else.
    audit_key(values.get("audit_key"))
    if request.command == "status":
        return _status(request, values)
    if request.command == "cases":
        return _cases(request, values)
    from bot.cli.quick.case_answer import answer_case

    return answer_case(request, values)


def _status(request: Request, values: dict[str, Any]) -> int:
    from bot.cli.status_view import assemble, render, service_state

    now = datetime.now(UTC)
    with connect(values["sqlite_path"]) as conn, reading(conn):
        canary = values["canary"]
        status = assemble(
            service=service_state(Path(values["run_state_file"]), now),
            configured=values["configured"], queues=reads.queues(conn),
            oldest=reads.oldest(conn, now), open_cases=reads.open_cases(conn),
            facts=reads.health_facts(conn, canary, now), canary=reads.canary(conn, canary),
            warnings=values["warnings"], now=now, tz=values["timezone"])
    print(json.dumps(asdict(status), indent=2) if "--json" in request.flags else render(status))
    return status.exit_code


def _cases(request: Request, values: dict[str, Any]) -> int:
    from bot.cli.cases_view import case_records, print_cases

    every = "--all" in request.flags
    with connect(values["sqlite_path"]) as conn:
        with reading(conn):
            records = case_records(reads.list_cases(conn), every)
        if records:
            record_look(conn, values, "cases.listed", cases=len(records), all=every)
    print_cases(records, as_json="--json" in request.flags, every=every)
    return 0
