"""What ``dsrbot case ID`` shows: one record, printed as text or JSON.

Shared by the full path (:mod:`bot.cli.case_cmds`, rows from the ORM) and the quick path
(:mod:`bot.cli.quick`, rows from plain SQL as objects with the same attribute names), so
both print the same bytes for the same case. Nothing here imports the ORM.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from handlers import deadlines
from handlers import representation_view as representation
from handlers.cases.identity_view import IdentitySummary
from handlers.cases.rules import effective_due, is_open


def normalised_case_id(raw: str) -> str:
    """``[dsr-2026-0001]`` as typed or pasted from a subject line -> ``DSR-2026-0001``."""
    return raw.strip().strip("[]").strip().upper()


def case_record(case: Any, who: IdentitySummary, trail: Sequence[Any], customer: Any | None,
                tz: str = deadlines.DEFAULT_TZ) -> dict[str, Any]:
    """What ``dsrbot case`` shows (``--json`` prints it as is): the case row, the identity
    summary, its audit trail and the matched customer row, however they were read."""
    today = deadlines.local_date(datetime.now(UTC))
    due = effective_due(case)
    return {
        "id": case.id, "status": case.status, "types": case.types,
        "requester": case.requester,
        "customer_number": who.customer_number,
        "customer_verified": who.verified,
        "identity_customer": who.customer_line(),
        # A permanent bounce of the registered address: letters there do not arrive.
        "customer_email_undeliverable": (
            {"since": customer.email_undeliverable_at.isoformat(timespec="seconds"),
             "status": customer.email_undeliverable_status}
            if customer is not None and customer.email_undeliverable_at else None),
        "language": case.language, "channel": case.channel,
        "received_at": case.received_at.isoformat(),
        "received_on": deadlines.local_date(case.received_at).isoformat(),
        "due_date": case.due_date.isoformat(),
        "extended": case.extended,
        "extended_due_date": case.extended_due_date.isoformat() if case.extended_due_date
        else None,
        "extension_reason": case.extension_reason,
        "claimed_earlier": case.claimed_earlier.isoformat() if case.claimed_earlier else None,
        "on_behalf_of": case.on_behalf_of,
        "authority": _authority_record(case),
        "days_left": (due - today).days if is_open(case) else None,
        "verification_level": case.verification_level,
        "identity_events": who.event_lines(tz),
        "signature_state": case.signature_state,
        "assignee": case.assignee, "reasons": case.reasons,
        "closed_at": case.closed_at.isoformat() if case.closed_at else None,
        "audit": [
            {"at": e.at.isoformat(timespec="seconds"), "actor": e.actor, "action": e.action,
             "details": e.details}
            for e in trail
        ],
    }


def _authority_record(case: Any) -> dict[str, Any] | None:
    if not case.on_behalf_of:
        return None
    return {"state": case.authority, "by": case.authority_by,
            "at": case.authority_at.isoformat(timespec="seconds") if case.authority_at else None,
            "document": case.authority_document,
            "documents": [d.get("name") for d in representation.documents(case)],
            "answer_to": "representative" if case.answer_to_representative else "subject",
            "line": representation.status_line(case)}


def print_case(r: dict[str, Any]) -> None:
    out = [f"{r['id']}  {r['status']}", f"  types:      {', '.join(r['types']) or '-'}"]
    out.append(f"  requester:  {r['requester']} ({r['identity_customer']})")
    if r["customer_email_undeliverable"]:
        bad = r["customer_email_undeliverable"]
        out.append(f"  WARNING:    the registered email address is undeliverable since "
                   f"{bad['since']} ({bad['status']}): reach the customer another way")
    if r["authority"]:
        out.append(f"  on behalf:  {r['authority']['line']}")
        docs = ", ".join(r["authority"]["documents"]) or "none with the mail"
        out.append(f"  documents:  {docs}")
    out.append(f"  language:   {r['language']}    channel: {r['channel']}")
    out.append(f"  received:   {r['received_on']} ({r['received_at']})")
    due = f"  due:        {r['due_date']}"
    if r["extended"]:
        due += f", extended to {r['extended_due_date']}: {r['extension_reason']}"
    if r["days_left"] is not None:
        left = r["days_left"]
        due += f"  ({left} days left)" if left >= 0 else f"  (OVERDUE by {-left} days)"
    out.append(due)
    level = r["verification_level"].replace("_", " ")
    out.append(f"  identity:   {level}    signature: {r['signature_state']}")
    out.append(f"  assignee:   {r['assignee'] or '-'}")
    if r["closed_at"]:
        out.append(f"  closed:     {r['closed_at']}")
    out.append("  reasons:")
    reasons = [*r["reasons"], *r["identity_events"]]
    out.extend(f"    - {reason}" for reason in reasons or ["(none)"])
    out.append("  audit trail:")
    for e in r["audit"]:
        details = json.dumps(e["details"], ensure_ascii=False, sort_keys=True)
        out.append(f"    {e['at']}  {e['actor']}  {e['action']}  {details}")
    print("\n".join(out))
