"""``dsrbot staff``: named desk logins (add, passwd, disable, totp, list).

Why here and not in the chat: a password is typed by the person it belongs to, on the
server, and never travels through Telegram. ``passwd`` reads it from the terminal without
echo (asked twice), or as one line from stdin when stdin is not a terminal (provisioning
scripts). Every change is audited as ``operator:<login name>``; the password never is.

Who may change staff (``add``, ``passwd``, ``disable``, ``totp``) follows the console's rules
(:mod:`bot.cli.console_identity`): with ``staff.console_users`` set, only a mapped OS login may,
acting as its mapped name, and that name must be an active approver (or not yet staff at all,
so the first approver can be added); ``--as NAME`` names an active approver exactly. Otherwise
any OS user could make themselves an approver and log in to the desk. A refused attempt is
audited (``staff.denied``, with the OS user) and exits 2 (not mapped) or 1.
"""

from __future__ import annotations

import getpass
import sys
from datetime import UTC, datetime
from typing import Annotated

import pyotp
import typer
from sqlmodel import Session

from bot.cli.console_identity import ConsoleRefusal, ConsoleUser, check_exact, staff_names
from bot.cli.context import CliContext, ctx_obj, fail, operator_actor
from bot.web.auth import PasswordPolicyError, find_member, hash_password
from storage import audit, staff_logins
from storage import cases as store
from storage.models import Staff, StaffRole

staff_app = typer.Typer(help="Web desk logins for named staff: add, passwd, disable, totp.",
                        no_args_is_help=True)

NameArg = Annotated[str, typer.Argument(help="The staff member's name (their username)")]
AsOption = Annotated[str | None, typer.Option(
    "--as", help="Approver making the change, exactly as named (default: your login name, or "
    "the name staff.console_users maps it to)")]


def _operator(session: Session, obj: CliContext, user: ConsoleUser, given: str | None) -> str:
    """The actor of a staff change, or :class:`ConsoleRefusal` (see the module docstring)."""
    mapping = obj.settings.staff.console_users
    name = user.mapped_name(mapping, given)
    if name is None:
        return operator_actor(None)
    known = check_exact(name, staff_names(session, obj.settings.chat.staff))
    member = find_member(session, name, obj.settings.chat.staff) if known else None
    if member is None and mapping and given is None:
        return operator_actor(name)  # mapped but not yet staff: adding the first approver
    if member is None or not member.active or member.role != StaffRole.APPROVER.value:
        raise ConsoleRefusal(f"{name} is not an active approver; only an approver may change "
                             "staff; nothing was changed", reason="not_approver")
    return operator_actor(name)


def _authorise(ctx: typer.Context, given: str | None, action: str, target: str) -> str:
    """Who makes this change; a refusal is audited (and committed) before it is raised."""
    obj = ctx_obj(ctx)
    user = ConsoleUser.current()
    with obj.db.session() as session:
        user.attribute(session)
        try:
            return _operator(session, obj, user, given)
        except ConsoleRefusal as refusal:
            audit.record(session, operator_actor(None), "staff.denied", details={
                "attempted": action, "staff": target, "reason": refusal.reason,
                "as": (given or "").encode("unicode_escape").decode("ascii")[:100] or None})
            denied = refusal
    raise fail(str(denied), denied.code)


def _name(raw: str) -> str:
    name = raw.strip()
    if not name or len(name) > 100 or any(ch.isspace() for ch in name):
        raise fail("a staff name is one word of at most 100 characters, e.g. aino")
    return name


@staff_app.command("add")
def add(
    ctx: typer.Context,
    name: NameArg,
    role: Annotated[StaffRole, typer.Option("--role", help="approver decides; viewer looks")],
    given: AsOption = None,
) -> None:
    """Add a staff member (or change their role); then set a password with `staff passwd`."""
    name = _name(name)
    actor = _authorise(ctx, given, "staff.add", name)
    with ctx_obj(ctx).db.session() as session:
        ConsoleUser.current().attribute(session)
        row = store.staff_by_name(session, name)
        before = row.role if row else None
        if row is None:
            row = Staff(name=name, role=role.value, active=True)
        row.role, row.active = role.value, True
        session.add(row)
        staff_logins.ensure_login(session, name)
        audit.record(session, actor, "staff.added" if before is None
                     else "staff.changed", details={"staff": name, "role": role.value,
                                                    "from_role": before})
    typer.echo(f"{name} is a {role.value}" + ("" if before else
               f"; set a password with: dsrbot staff passwd {name}"))


def _read_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("New password: ")
    if getpass.getpass("Again: ") != first:
        raise fail("the two passwords differ; nothing was changed")
    return first


def _known(session: Session, ctx: typer.Context, name: str) -> None:
    if find_member(session, name, ctx_obj(ctx).settings.chat.staff) is None:
        raise fail(f"{name} is not a staff member (add them with: dsrbot staff add {name} "
                   "--role viewer)")


@staff_app.command("passwd")
def passwd(ctx: typer.Context, name: NameArg, given: AsOption = None) -> None:
    """Set a password: typed twice on a terminal, or one line on stdin. Ends their sessions."""
    name = _name(name)
    actor = _authorise(ctx, given, "staff.passwd", name)
    with ctx_obj(ctx).db.read_session() as session:
        _known(session, ctx, name)
    try:
        hashed = hash_password(_read_password())
    except PasswordPolicyError as exc:
        raise fail(f"{exc}; nothing was changed") from exc
    with ctx_obj(ctx).db.session() as session:
        ConsoleUser.current().attribute(session)
        login = staff_logins.ensure_login(session, name)
        login.password_hash = hashed
        login.password_changed_at = datetime.now(UTC)
        login.failed_attempts, login.locked_until = 0, None
        session.add(login)
        ended = staff_logins.end_sessions_of(session, name)
        audit.record(session, actor, "staff.password_set",
                     details={"staff": name, "sessions_ended": ended})
    typer.echo(f"password set for {name}")


@staff_app.command("disable")
def disable(ctx: typer.Context, name: NameArg, given: AsOption = None) -> None:
    """Switch a staff member off everywhere (desk, chat, console); their sessions end now."""
    name = _name(name)
    actor = _authorise(ctx, given, "staff.disable", name)
    with ctx_obj(ctx).db.session() as session:
        ConsoleUser.current().attribute(session)
        member = find_member(session, name, ctx_obj(ctx).settings.chat.staff)
        if member is None:
            raise fail(f"{name} is not a staff member")
        row = store.staff_by_name(session, name) or Staff(name=name, role=member.role)
        row.active = False
        session.add(row)
        ended = staff_logins.end_sessions_of(session, name)
        audit.record(session, actor, "staff.disabled",
                     details={"staff": name, "sessions_ended": ended})
    typer.echo(f"{name} is disabled ({ended} session(s) ended)")


@staff_app.command("totp")
def totp(
    ctx: typer.Context,
    name: NameArg,
    remove: Annotated[bool, typer.Option("--remove", help="Turn the second factor off")] = False,
    given: AsOption = None,
) -> None:
    """Enrol a TOTP second factor: prints the secret and an otpauth:// URI for the app."""
    name = _name(name)
    actor = _authorise(ctx, given, "staff.totp", name)
    secret = None if remove else pyotp.random_base32()
    with ctx_obj(ctx).db.session() as session:
        ConsoleUser.current().attribute(session)
        _known(session, ctx, name)
        login = staff_logins.ensure_login(session, name)
        login.totp_secret, login.totp_last_step = secret, None
        session.add(login)
        audit.record(session, actor,
                     "staff.totp_removed" if remove else "staff.totp_enrolled",
                     details={"staff": name})
    if secret is None:
        typer.echo(f"second factor removed for {name}")
        return
    uri = pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name="dsrbot desk")
    typer.echo(f"secret: {secret}\nuri: {uri}\n"
               "Add it to an authenticator app now; it is not shown again.")


@staff_app.command("list")
def list_staff(ctx: typer.Context) -> None:
    """Staff with a desk login: name, role, active, second factor, locked."""
    now = datetime.now(UTC)
    with ctx_obj(ctx).db.read_session() as session:
        for login in staff_logins.logins(session):
            member = find_member(session, login.name, ctx_obj(ctx).settings.chat.staff)
            locked = login.locked_until and login.locked_until.replace(tzinfo=UTC) > now
            typer.echo("\t".join([
                login.name, member.role if member else "-",
                "active" if member and member.active else "disabled",
                "totp" if login.totp_secret else "password",
                "password set" if login.password_hash else "no password",
                "LOCKED" if locked else ""]).rstrip())


def register(app: typer.Typer) -> None:
    app.add_typer(staff_app, name="staff")
