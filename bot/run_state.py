"""The run-state file: how ``dsrbot status`` tells whether this host's service runs.

Apart from :mod:`bot.service` so that ``dsrbot status`` reads it without importing the
service's components (the IMAP client, the scheduler, the NLP pipeline).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.settings import Settings

#: How often the run-state file is rewritten; ``dsrbot status`` calls it stale after 3 misses.
HEARTBEAT_SECONDS = 10.0


def state_dir(settings: Settings) -> Path:
    """Where run-time files live: next to the SQLite database, else ``./var``."""
    prefix = "sqlite:///"
    url = settings.database.url
    if url.startswith(prefix) and ":memory:" not in url:
        return Path(url[len(prefix):]).parent
    return Path("var")


def run_state_path(settings: Settings) -> Path:
    return state_dir(settings) / "dsrbot.run.json"


@dataclass
class RunState:
    """What ``dsrbot status`` reads to say whether this host's service runs."""

    pid: int
    host: str
    started_at: datetime
    heartbeat_at: datetime
    components: list[str]

    def to_json(self) -> str:
        return json.dumps({
            "pid": self.pid, "host": self.host, "started_at": self.started_at.isoformat(),
            "heartbeat_at": self.heartbeat_at.isoformat(), "components": self.components,
        })

    @classmethod
    def read(cls, path: Path) -> RunState | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(pid=int(data["pid"]), host=str(data["host"]),
                       started_at=datetime.fromisoformat(data["started_at"]),
                       heartbeat_at=datetime.fromisoformat(data["heartbeat_at"]),
                       components=[str(c) for c in data["components"]])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def write(self, path: Path) -> None:
        """Write atomically (a reader never sees half a file)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{self.pid}")
        tmp.write_text(self.to_json(), encoding="utf-8")
        os.replace(tmp, path)
