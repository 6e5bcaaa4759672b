"""What every CLI command needs: settings and a database, built once per invocation.

Settings (pydantic) and the database (SQLAlchemy and the models) are imported when a command
first asks for them, so ``dsrbot --help`` starts without either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from bot.cli.console_user import operator_actor as operator_actor

if TYPE_CHECKING:
    from bot.settings import Settings
    from storage.db import Database

EXIT_CONFIG = 2
#: The one line every command prints when the database has no schema yet.
NOT_INITIALISED = "the database has no dsrbot schema yet: run `dsrbot init` first"


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one line to stderr and return the Exit to raise."""
    typer.echo(f"dsrbot: {message}", err=True)
    return typer.Exit(code)


@dataclass
class CliContext:
    config_path: Path | None
    #: ``dsrbot init`` (and ``doctor``) turn it off: they run before the schema exists.
    require_schema: bool = True
    _settings: Settings | None = None
    _db: Database | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from bot.settings import load_settings

            self._settings = load_settings(self.config_path)
        return self._settings

    @property
    def audit_key(self) -> bytes | None:
        """A bad key is a ``ConfigError``: ``bot.cli.errors`` prints it and exits 2."""
        return self.settings.audit_key()

    @property
    def db(self) -> Database:
        if self._db is None:
            from storage.db import Database, schema_ready

            if self.require_schema and not schema_ready(self.settings.database.url):
                raise fail(NOT_INITIALISED)
            self._db = Database(self.settings.database.url, audit_key=self.audit_key)
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.dispose()


def ctx_obj(ctx: typer.Context) -> CliContext:
    obj = ctx.find_root().obj
    assert isinstance(obj, CliContext)
    return obj
