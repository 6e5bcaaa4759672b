"""The base of every table: pydantic builds a table's validator only when one is asked for.

Why: SQLModel table classes are never validated on construction (SQLAlchemy loads rows and
``Model(...)`` only sets attributes), yet pydantic compiles a schema and a validator for each
class at import. Deferring that (``defer_build``) makes importing the tables, which every
command does, markedly cheaper; ``model_validate`` or ``model_dump`` still build the schema,
once, on first use.
"""

from __future__ import annotations

from sqlmodel import SQLModel
from sqlmodel.main import SQLModelConfig


class TableModel(SQLModel):
    """Subclass with ``table=True``; holds no fields, so it adds no column anywhere."""

    model_config = SQLModelConfig(defer_build=True)
