"""The full path's part: after validating the settings, keep what the quick path may use.

Called by ``status``, ``cases`` and ``case`` on their full path (see :mod:`.snapshot` for why
a snapshot). Nothing is kept for a database the quick path does not read (PostgreSQL, an
in-memory SQLite) or for settings whose audit key is unusable (the full path reports that).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from bot.cli.quick import snapshot
from bot.config_path import resolve_config_path

if TYPE_CHECKING:
    from bot.cli.context import CliContext

SQLITE = "sqlite:///"


def _key_source(obj: CliContext) -> dict[str, str] | None:
    audit = obj.settings.audit
    if audit.key is not None:
        names = [n for n in os.environ if n.upper() == "DSRBOT_AUDIT__KEY"]
        return {"env": names[0]} if len(names) == 1 else None
    if audit.key_file is not None:
        return {"file": str(audit.key_file)}
    return None


def snapshot_values(obj: CliContext) -> dict[str, Any] | None:
    """What the quick path needs, as these validated settings give it (None: nothing)."""
    from bot.cli.status_cmds import configured_components, status_warnings
    from bot.policy_from_settings import canary_runs
    from bot.run_state import run_state_path
    from bot.settings import ConfigError

    settings = obj.settings
    url = settings.database.url
    if not url.startswith(SQLITE) or ":memory:" in url:
        return None
    try:
        obj.audit_key  # noqa: B018 (validates the key: a bad one is the full path's error)
    except ConfigError:
        return None
    key = _key_source(obj)
    if key is None and (settings.audit.key is not None or settings.audit.key_file is not None):
        return None
    return {
        "sqlite_path": url[len(SQLITE):],
        "timezone": settings.organisation.timezone,
        "console_users": dict(settings.staff.console_users),
        "audit_key": key,
        "run_state_file": str(run_state_path(settings)),
        "configured": configured_components(settings),
        "warnings": status_warnings(settings),
        "canary": {"enabled": canary_runs(settings),
                   "interval_minutes": settings.health.canary_interval_minutes,
                   "alert_minutes": settings.health.canary_alert_minutes},
    }


def remember_for_quick(obj: CliContext) -> None:
    values = snapshot_values(obj)
    if values is not None:
        snapshot.write(resolve_config_path(obj.config_path), values)
