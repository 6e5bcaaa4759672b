"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from storage import migrate
from storage.db import Database


def test_migrations_match_models(db: Database) -> None:
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []


def test_init_is_idempotent(db: Database) -> None:
    migrate.upgrade(db.url)
    migrate.upgrade(db.url)
    assert migrate.current_revision(db.url) is not None


def test_migrations_have_a_single_head() -> None:
    """New migrations build on one line of history (merge feature branches, as 0009 does)."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1
