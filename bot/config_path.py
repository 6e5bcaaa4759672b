"""Which config file a command reads: ``--config``, then ``DSRBOT_CONFIG``, then ``./config.toml``.

Apart from :mod:`bot.settings` (pydantic) so the quick console path (:mod:`bot.cli.quick`)
finds the same file without loading the settings machinery.
"""

from __future__ import annotations

import os
from pathlib import Path


def resolve_config_path(explicit: Path | None) -> Path | None:
    """``--config`` first, then ``DSRBOT_CONFIG``, then ``./config.toml`` when it exists."""
    if explicit is not None:
        return explicit
    env = os.environ.get("DSRBOT_CONFIG")
    if env:
        return Path(env)
    default = Path("config.toml")
    return default if default.exists() else None
