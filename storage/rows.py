"""New ORM rows without SQLModel's per-field ``__setattr__``.

Constructing a table model runs, for each field, SQLModel's ``__setattr__`` (a pydantic
assignment and a check that the class is a table) on top of SQLAlchemy's attribute event: ~34
microseconds for an audit entry, of which ~22 are that wrapper. A batch of 1,000 mails appends
~2,000 audit entries in the service's main process (issue 13), so rows built often and given
every field are built here: the same instance state, attribute history and pydantic fields as
the constructor leaves, without validation (these values come from our code, never a user).
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy.orm import attributes, instrumentation
from sqlmodel import SQLModel

Row = TypeVar("Row", bound=SQLModel)


def build(cls: type[Row], values: dict[str, Any]) -> Row:
    """A new, transient ``cls`` with ``values``, which must name every field (no defaults are
    filled in, so nothing is left to a factory the constructor would have called)."""
    missing = cls.model_fields.keys() - values.keys()
    if missing:
        raise TypeError(f"{cls.__name__} needs every field; missing {sorted(missing)}")
    row = cls.__new__(cls)  # SQLModel's __new__ sets pydantic's private attributes
    instrumentation.manager_of_class(cls)._new_state_if_none(row)
    for key, value in values.items():
        attributes.set_attribute(row, key, value)  # history, as an insert needs it
    object.__setattr__(row, "__pydantic_fields_set__", set(values))
    object.__setattr__(row, "__pydantic_extra__", None)
    object.__setattr__(row, "__pydantic_private__", None)
    return row
