"""What every CLI command needs: settings and a database, built once per invocation."""

from __future__ import annotations

import getpass
import sys
from dataclasses import dataclass, field
from pathlib import Path

import typer

from bot.settings import ConfigError, Settings, load_settings
from storage.db import Database

EXIT_CONFIG = 2


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one line to stderr and return the Exit to raise."""
    typer.echo(f"dsrbot: {message}", err=True)
    return typer.Exit(code)


@dataclass
class CliContext:
    config_path: Path | None
    _settings: Settings | None = None
    _db: Database | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings(self.config_path)
            except ConfigError as exc:
                typer.echo(f"dsrbot: config error: {exc}", err=True)
                sys.exit(EXIT_CONFIG)
        return self._settings

    @property
    def audit_key(self) -> bytes | None:
        try:
            return self.settings.audit_key()
        except ConfigError as exc:
            typer.echo(f"dsrbot: config error: {exc}", err=True)
            sys.exit(EXIT_CONFIG)

    @property
    def db(self) -> Database:
        if self._db is None:
            self._db = Database(self.settings.database.url, audit_key=self.audit_key)
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.dispose()


def operator_actor(name: str | None) -> str:
    """Attribute CLI changes to a named person: ``--as NAME`` or the login name."""
    return f"operator:{name or getpass.getuser()}"


def ctx_obj(ctx: typer.Context) -> CliContext:
    obj = ctx.find_root().obj
    assert isinstance(obj, CliContext)
    return obj
