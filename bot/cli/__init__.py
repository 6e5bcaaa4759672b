"""The ``dsrbot`` command. :func:`main` offers the command line to the quick path first.

``dsrbot status``, ``cases`` and ``case ID`` are what an operator types most, often in a hurry;
:mod:`bot.cli.quick` answers them with the standard library alone (issue 20: under 0.5 s),
and says "not me" for anything else or anything unusual. Everything else, and every case the
quick path declines, goes to the Typer app in :mod:`bot.cli.root`. This package therefore
imports neither Typer nor the app up front: ``bot.cli.app`` and the other names load on use.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from mailformat.lazy import lazy_getattr

if TYPE_CHECKING:
    from bot.cli.root import COMMANDS, LazyCommands, app, load_command, quiet_warnings

__all__ = ["COMMANDS", "LazyCommands", "app", "load_command", "main", "quiet_warnings"]

__getattr__ = lazy_getattr("bot.cli", {name: "root" for name in __all__ if name != "main"},
                           globals())


def main() -> None:
    from bot.cli.quick import answer_quickly

    code = answer_quickly(sys.argv[1:])
    if code is not None:
        raise SystemExit(code)
    from bot.cli.root import main as full

    full()
