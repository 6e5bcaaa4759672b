"""The settings the quick path may use: what the full path resolved, kept while still true.

Why a snapshot and not a second settings reader: :mod:`bot.settings` validates the whole file
(every key, every cross-check) with pydantic, which alone costs more than the quick path's
whole budget. Reading the TOML again here would mean a second copy of every default and rule,
and a broken config that ``dsrbot run`` refuses would still pass here. Instead, each time the
full path runs ``status``, ``cases`` or ``case``, it writes the few values these commands need,
as the validated settings gave them (:mod:`bot.cli.quick.remember`). The snapshot holds while
its stamp still matches: the same working folder, the same config file, byte for byte, the
same ``DSRBOT_*`` environment and the same code that derives the values. Anything else, and
the quick path declines and the full path runs (and writes a fresh snapshot).

What is stamped of the environment: the ``DSRBOT_*`` names and values (but not
``DSRBOT_CLI_QUICK``, which only chooses the path), except values of secret keys (a secret
never reaches this file, not even hashed): their names only. The one secret the quick path
uses, the audit key, it reads itself, from where the snapshot says, each time.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

VERSION = 1
ROOT = Path(__file__).resolve().parents[3]
#: The code that decides what the snapshot's values are: a change to any of them (an upgrade)
#: makes every snapshot stale.
CODE_FILES = ("bot/settings.py", "bot/mail/settings.py", "bot/health/settings.py",
              "bot/policy_from_settings.py", "bot/cli/status_cmds.py", "bot/run_state.py",
              "bot/cli/quick/remember.py", "bot/cli/quick/snapshot.py")
#: The last part of a setting that holds a secret (as bot.settings.SECRET_KEYS).
SECRET_PARTS = frozenset({"PASSWORD", "TOKEN", "KEY", "SECRET_KEY", "CLIENT_SECRET",
                          "REFRESH_TOKEN"})


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _environment() -> list[tuple[str, str | None]]:
    seen = []
    for name, value in os.environ.items():
        upper = name.upper()
        if upper.startswith("DSRBOT_") and upper != "DSRBOT_CLI_QUICK":
            secret = upper.rsplit("__", 1)[-1] in SECRET_PARTS
            seen.append((name, None if secret else value))
    return sorted(seen, key=lambda item: item[0])


def stamp(config: Path | None) -> dict[str, Any] | None:
    """What must not have changed since the snapshot; None when the config cannot be read."""
    try:
        resolved = config.resolve() if config is not None else None
        content = resolved.read_bytes() if resolved is not None else b""
        code = [[name, (ROOT / name).stat().st_mtime_ns, (ROOT / name).stat().st_size]
                for name in CODE_FILES]
    except OSError:
        return None
    return {
        "version": VERSION,
        "cwd": os.getcwd(),
        "config": str(resolved) if resolved is not None else None,
        "config_sha256": _sha256(content),
        "environment_sha256": _sha256(json.dumps(_environment()).encode()),
        "code": code,
    }


def location(config: Path | None) -> Path | None:
    """This user's cache file for this working folder and config file."""
    base = os.environ.get("XDG_CACHE_HOME")
    try:
        folder = Path(base) if base else Path.home() / ".cache"
        key = f"{os.getcwd()}\0{config.resolve() if config is not None else ''}"
    except (OSError, RuntimeError):  # no home folder (a service user), cwd gone
        return None
    return folder / "dsrbot" / f"cli-{_sha256(key.encode())[:24]}.json"


def read(config: Path | None) -> dict[str, Any] | None:
    """The snapshot's values when its stamp still holds, else None."""
    path = location(config)
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("stamp") != stamp(config):
        return None
    values = data.get("values")
    return values if isinstance(values, dict) else None


def write(config: Path | None, values: dict[str, Any]) -> None:
    """Keep ``values`` under the current stamp (quietly nothing when it cannot be written)."""
    path = location(config)
    current = stamp(config)
    if path is None or current is None:
        return
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump({"stamp": current, "values": values}, out)
        os.replace(tmp, path)
    except OSError:
        return
