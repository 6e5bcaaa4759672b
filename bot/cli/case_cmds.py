"""Case commands: deadline, case, approve, refuse, extend, assign, resend, delivered.

The console is a staff channel like the chat: decisions go through the same domain functions
(:mod:`handlers.cases`), a decision needs ``--as NAME`` naming an approver exactly (see
:mod:`bot.cli.console_identity`), and a refused attempt is audited. Errors print one line and
exit 1 (a bad date for ``deadline``, or an OS user ``staff.console_users`` does not allow: 2).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any

import typer
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from bot.cli.case_view import case_record, normalised_case_id, print_case
from bot.cli.console_identity import (
    ConsoleRefusal,
    ConsoleUser,
    check_exact,
    refuse_and_audit,
    staff_names,
)
from bot.cli.console_looks import record_look
from bot.cli.context import ctx_obj, fail
from handlers import cases as engine
from handlers import deadlines, representation
from handlers.cases.identity_summary import identity_summary
from mailformat import domain_of
from storage import cases as store
from storage.models import Case, Customer

EXIT_BAD_DATE = 2

NameOption = Annotated[str, typer.Option("--as", help="Staff member deciding (an approver)")]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why (the requester is told it)")]
CaseIdArg = Annotated[str, typer.Argument(help="Case id, e.g. DSR-2026-0001")]


def _parse_moment(raw: str) -> date | datetime:
    """ISO date, or ISO datetime (without an offset it is Helsinki time)."""
    text = raw.strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        return datetime.fromisoformat(text)


def deadline(
    dates: Annotated[list[str], typer.Argument(help="ISO dates or datetimes of receipt")],
    extended: Annotated[bool, typer.Option("--extended", help="Due date after an extension")]
    = False,
) -> None:
    """Print `RECEIVED DUE` per date: one month (three when extended), rolled to a working day."""
    lines = []
    for raw in dates:
        try:
            moment = _parse_moment(raw)
        except ValueError as exc:
            raise fail(f"not a date: {raw!r} (use YYYY-MM-DD or an ISO datetime)",
                       EXIT_BAD_DATE) from exc
        try:
            received = deadlines.local_date(moment)
            due = deadlines.due_date(moment, extended=extended)
        except (ValueError, OverflowError) as exc:
            raise fail(f"date out of range: {raw!r}", EXIT_BAD_DATE) from exc
        lines.append(f"{received.isoformat()} {due.isoformat()}")
    typer.echo("\n".join(lines))


def case(
    ctx: typer.Context,
    case_id: CaseIdArg,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object for scripts")] = False,
    received: Annotated[str | None, typer.Option(
        "--received", help="Set the receipt date back to DATE (YYYY-MM-DD), e.g. when an "
        "earlier request is found; the due date is recomputed")] = None,
    reason: Annotated[str | None, typer.Option(
        "--reason", help="Why the receipt date changes (with --received)")] = None,
    name: Annotated[str | None, typer.Option(
        "--as", help="Staff member deciding (with --received, --authority or --answer-to)")
    ] = None,
    authority: Annotated[str | None, typer.Option(
        "--authority", help="checked or refused: the representative's letter of authority "
        "(with --document NAME for checked, --reason and --as)")] = None,
    document: Annotated[str | None, typer.Option(
        "--document", help="Which document shows the authority (with --authority checked)")
    ] = None,
    answer_to: Annotated[str | None, typer.Option(
        "--answer-to", help="representative or subject: who receives the answer once the "
        "authority is checked (default: the data subject's registered address)")] = None,
) -> None:
    """Show one case: status, due date, reasons and its audit trail (or, with --received,
    set its receipt date back; with --authority, record the representative's authority as
    checked or refused; with --answer-to, choose who receives the answer)."""
    if received is not None:
        _set_received(ctx, case_id, received, reason, name)
        return
    if authority is not None or answer_to is not None:
        _representation(ctx, case_id, authority, document, answer_to, reason, name)
        return
    from bot.cli.quick.remember import remember_for_quick

    cid = normalised_case_id(case_id)
    obj = ctx_obj(ctx)
    remember_for_quick(obj)
    try:
        with obj.db.read_session() as session:
            found = store.get_case(session, cid)
            record = (_case_record(session, found, obj.settings.organisation.timezone)
                      if found else None)
    except SQLAlchemyError as exc:
        raise _db_failure(exc) from exc
    if record is None:
        raise fail(f"unknown case {cid}")
    record_look(obj, "case.viewed", case_id=cid, customer_number=record["customer_number"])
    if as_json:
        typer.echo(json.dumps(record, ensure_ascii=False, indent=2))
    else:
        print_case(record)


def _case_record(session: Session, case: Case, tz: str) -> dict[str, Any]:
    trail = store.case_audit_trail(session, case.id)
    who = identity_summary(session, case, trail)
    customer = session.get(Customer, who.customer_id) if who.customer_id is not None else None
    return case_record(case, who, trail, customer, tz)


def _set_received(ctx: typer.Context, case_id: str, received: str, reason: str | None,
                  name: str | None) -> None:
    """The same action as the desk's "set the receipt date back" (handlers.desk_actions)."""
    if not reason or not name:
        raise fail("--received needs --reason TEXT and --as NAME")
    try:
        day = date.fromisoformat(received)
    except ValueError as exc:
        raise fail(f"not a date: {received!r} (use YYYY-MM-DD)", EXIT_BAD_DATE) from exc
    from handlers import desk_actions  # its identity checks load phonenumbers: not for `case`

    tz = ctx_obj(ctx).settings.organisation.timezone
    _decide(ctx, case_id, name, "set_received_date",
            lambda s, c, actor: desk_actions.set_receipt_date_back(
                s, c, received_on=day, reason=reason, actor=actor, now=datetime.now(UTC),
                tz=tz).message)


def _representation(ctx: typer.Context, case_id: str, authority: str | None,
                    document: str | None, answer_to: str | None, reason: str | None,
                    name: str | None) -> None:
    """The same actions as the desk's and the chat's (handlers.representation)."""
    if not reason or not name:
        raise fail("--authority and --answer-to need --reason TEXT and --as NAME")
    if authority is not None and answer_to is not None:
        raise fail("give --authority or --answer-to, one at a time")
    from bot.policy_from_settings import org_info  # the letter it may send loads more

    org = org_info(ctx_obj(ctx).settings)
    if authority is not None:
        _decide(ctx, case_id, name, "record_authority",
                lambda s, c, actor: representation.record_authority(
                    s, org, c, outcome=authority.strip().lower(), document=document or "",
                    reason=reason, actor=actor, now=datetime.now(UTC)).message)
        return
    _decide(ctx, case_id, name, "choose_answer_recipient",
            lambda s, c, actor: representation.choose_answer_recipient(
                s, c, to=(answer_to or "").strip().lower(), reason=reason, actor=actor,
                now=datetime.now(UTC)).message)


def _db_failure(exc: SQLAlchemyError) -> typer.Exit:
    return fail(f"database error ({exc.__class__.__name__}); has `dsrbot init` been run?")


Act = Callable[[Session, Case, str], str]


def _decide(ctx: typer.Context, case_id: str, name: str, action: str, act: Act) -> None:
    """Look the case up, check the person, act; one line out, exit 1 on any refusal (exit 2
    when ``staff.console_users`` does not let this OS user act as ``name``)."""
    obj = ctx_obj(ctx)
    staff = obj.settings.chat.staff
    user = ConsoleUser.current()
    cid = normalised_case_id(case_id)
    denied: ConsoleRefusal | None = None
    try:
        with obj.db.session() as session:
            user.attribute(session)
            found = store.get_case(session, cid)
            if found is None:
                raise engine.CaseError(f"unknown case {cid}")
            try:
                user.mapped_name(obj.settings.staff.console_users, name)
                check_exact(name, staff_names(session, staff))
            except ConsoleRefusal as refusal:
                refuse_and_audit(session, name, refusal, action=action, case_id=cid)
                denied = refusal
            if denied is None:
                check = engine.authorise_staff(session, name, staff, action=action,
                                               case_id=cid)
                if check.allowed:
                    message = act(session, found, check.actor)
                else:
                    denied = ConsoleRefusal(check.message)  # its audit entry commits here
    except SQLAlchemyError as exc:
        raise _db_failure(exc) from exc
    if denied is not None:
        raise denied  # audited above; bot.cli.errors prints it
    typer.echo(message)


def approve(ctx: typer.Context, case_id: CaseIdArg, name: NameOption) -> None:
    """Approve a case (a repeat reports who approved it and changes nothing)."""
    signed = ctx_obj(ctx).settings.rights.require_signature
    _decide(ctx, case_id, name, "approve",
            lambda s, c, actor: engine.approve(s, c, actor=actor,
                                               require_signature=signed).message)


def refuse(ctx: typer.Context, case_id: CaseIdArg, reason: ReasonOption, name: NameOption) -> None:
    """Refuse a case with the reason the refusal letter states."""
    _decide(ctx, case_id, name, "refuse",
            lambda s, c, actor: engine.refuse(s, c, reason=reason, actor=actor).message)


def extend(ctx: typer.Context, case_id: CaseIdArg, reason: ReasonOption, name: NameOption) -> None:
    """Extend by two months (only within the first month); the requester is sent a notice."""
    tz = ctx_obj(ctx).settings.organisation.timezone
    _decide(ctx, case_id, name, "extend",
            lambda s, c, actor: engine.extend(s, c, reason=reason, actor=actor, tz=tz,
                                        now=datetime.now(UTC)).message)


def assign(ctx: typer.Context, case_id: CaseIdArg, name: NameOption) -> None:
    """Take a case: it is assigned to NAME."""
    _decide(ctx, case_id, name, "assign",
            lambda s, c, actor: engine.assign(s, c, staff=name, actor=actor,
                                        now=datetime.now(UTC)).message)


def apply_ban(
    ctx: typer.Context, case_id: CaseIdArg, name: NameOption,
    customer: Annotated[str | None, typer.Option(
        "--customer", help="Customer number, when the mail names more than one")] = None,
) -> None:
    """Apply the marketing or publication ban a case asks for (one tap for staff).

    For a ban asked from an address not in the register that names a customer: the ban is set
    on that customer and confirmed to the customer's registered address."""
    # Imported here: the letters it sends pull in the PDF and signature libraries, which
    # `dsrbot case` and the other quick commands of this module must not load.
    from bot.policy_from_settings import org_info
    from handlers import bans_at_once

    org = org_info(ctx_obj(ctx).settings)

    def act(session: Session, case: Case, actor: str) -> str:
        try:
            who, applied = bans_at_once.apply_ban_for_case(
                session, org, case, datetime.now(UTC), actor=actor, customer_number=customer)
        except bans_at_once.BanError as exc:
            raise engine.CaseError(str(exc)) from exc
        return (f"{case.id}: {', '.join(applied) or 'nothing new'} applied for customer "
                f"{who.customer_number} by {actor.removeprefix('staff:')}")

    _decide(ctx, case_id, name, "approve", act)


def resend(ctx: typer.Context, case_id: CaseIdArg, name: NameOption) -> None:
    """Send a bounced answer again, to the customer's corrected registered address only."""
    from handlers import delivery_failed  # the letters' imports: see apply_ban

    domain = domain_of(ctx_obj(ctx).settings.mail.outgoing.from_address)
    _decide(ctx, case_id, name, "resend",
            lambda s, c, actor: delivery_failed.resend_to_registered_address(
                s, c, actor=actor, domain=domain).message)


def delivered(
    ctx: typer.Context, case_id: CaseIdArg, name: NameOption,
    note: Annotated[str, typer.Option(
        "--note", help="How and when the answer was delivered, e.g. 'posted 2026-12-07'")],
) -> None:
    """Close a bounced case after delivering its answer another way (e.g. by post)."""
    from handlers import delivery_failed

    _decide(ctx, case_id, name, "delivered_another_way",
            lambda s, c, actor: delivery_failed.delivered_another_way(
                s, c, note=note, actor=actor).message)


def register(app: typer.Typer) -> None:
    app.command()(deadline)
    app.command()(case)
    app.command()(approve)
    app.command()(refuse)
    app.command()(extend)
    app.command()(assign)
    app.command("apply-ban")(apply_ban)
    app.command()(resend)
    app.command()(delivered)
