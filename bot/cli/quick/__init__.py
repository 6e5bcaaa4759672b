"""``dsrbot status``, ``cases`` and ``case ID`` answered with the standard library alone.

Why: these are what an operator types most, often while something is wrong, and the full path
(Typer, pydantic settings, SQLAlchemy and the ORM tables) costs about a second before it reads
a row. Here the same answers come from ``sqlite3``, the settings snapshot the full path left
(:mod:`.snapshot`), and the views both paths share (:mod:`bot.cli.status_view`,
:mod:`bot.cli.cases_view`, :mod:`bot.cli.case_view`): issue 20's "under 0.5 s".

The rule that keeps it honest: the quick path answers only when it can answer exactly as the
full path would, and otherwise *declines before it writes or prints anything*: any other
command or option, ``--help``, PostgreSQL, no snapshot or a stale one, a missing schema, an
unknown case, an OS user ``staff.console_users`` leaves out, any database error. The full path
then runs as if the quick one did not exist. ``DSRBOT_CLI_QUICK=0`` turns the quick path off;
``DSRBOT_CLI_QUICK=only`` prints why it declined instead of falling back (diagnosis, tests).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from bot.cli.quick.declined import Declined

#: Exit code of ``DSRBOT_CLI_QUICK=only`` when the quick path declined.
EXIT_DECLINED = 70
#: Options each quick command accepts (anything else goes to the full path).
FLAGS = {"status": {"--json"}, "cases": {"--json", "--all"}, "case": {"--json"}}


@dataclass
class Request:
    command: str
    config: Path | None = None
    flags: set[str] = field(default_factory=set)
    case_id: str | None = None


def parse(argv: list[str]) -> Request:
    """``[--config PATH] status|cases|case ...`` with only the options the quick path knows."""
    args = list(argv)
    config = None
    if args and args[0].startswith("--config"):
        if args[0] == "--config" and len(args) >= 2:
            config, args = Path(args[1]), args[2:]
        elif args[0].startswith("--config="):
            config, args = Path(args[0].split("=", 1)[1]), args[1:]
        else:
            raise Declined("--config without a path")
    if not args or args[0] not in FLAGS:
        raise Declined("not a quick command")
    request = Request(args[0], config)
    for arg in args[1:]:
        if arg in FLAGS[request.command]:
            request.flags.add(arg)
        elif request.command == "case" and request.case_id is None and not arg.startswith("-"):
            request.case_id = arg
        else:
            raise Declined(f"option or argument {arg!r}")
    if request.command == "case" and request.case_id is None:
        raise Declined("case without an id")
    return request


def answer_quickly(argv: list[str]) -> int | None:
    """The exit code when the quick path answered; None to let the full path run."""
    mode = os.environ.get("DSRBOT_CLI_QUICK", "1")
    if mode == "0":
        return None
    try:
        from bot.cli.quick.answers import answer

        return answer(parse(argv))
    except Declined as why:
        if mode == "only":
            print(f"dsrbot: the quick path declined: {why}", file=sys.stderr)
            return EXIT_DECLINED
        return None
