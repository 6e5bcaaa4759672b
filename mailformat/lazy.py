"""Lazy re-exports for a package's ``__init__``: a name is imported from its module on first use.

Why: the quick CLI commands (``status``, ``cases``, ``case``) import packages such as
``handlers.cases`` and ``mailformat`` for one or two names; importing every module of the
package would pull in jinja2, babel and phonenumbers and cost them their start-up time.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_getattr(package: str, homes: dict[str, str],
                 namespace: dict[str, Any]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``name`` from ``package.homes[name]`` once and
    stores it in ``namespace`` (the package's globals), so later look-ups skip it."""

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{home}"), name)
        namespace[name] = value
        return value

    return __getattr__
