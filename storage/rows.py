"""New ORM rows without SQLModel's per-field ``__setattr__``.

Constructing a table model runs, for each field, SQLModel's ``__setattr__`` (a pydantic
assignment and a check that the class is a table) on top of SQLAlchemy's attribute event: ~34
microseconds for an audit entry, of which ~22 are that wrapper. A batch of 1,000 mails appends
~2,000 audit entries in the service's main process (issue 13), so rows built often and given
every field are built here: the same instance state, attribute history and pydantic fields as
the constructor leaves, without validation (these values come from our code, never a user).
"""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

from pydantic_core import PydanticUndefined
from sqlalchemy.orm import attributes, configure_mappers, instrumentation
from sqlmodel import SQLModel

Row = TypeVar("Row", bound=SQLModel)

def build(cls: type[Row], values: dict[str, Any]) -> Row:
    """A new, transient ``cls`` with ``values``, which must name every field (no defaults are
    filled in, so nothing is left to a factory the constructor would have called)."""
    missing = cls.model_fields.keys() - values.keys()
    if missing:
        raise TypeError(f"{cls.__name__} needs every field; missing {sorted(missing)}")
    manager = instrumentation.manager_of_class(cls)
    if not manager.mapper.configured:
        # The constructor would configure the mappers on first use; __new__ does not, and a
        # process whose first row is built here (a fresh CLI command) has no attribute
        # implementations yet.
        configure_mappers()
    row = cls.__new__(cls)  # SQLModel's __new__ sets pydantic's private attributes
    manager._new_state_if_none(row)
    for key, value in values.items():
        attributes.set_attribute(row, key, value)  # history, as an insert needs it
    object.__setattr__(row, "__pydantic_fields_set__", set(values))
    object.__setattr__(row, "__pydantic_extra__", None)
    object.__setattr__(row, "__pydantic_private__", None)
    return row


@cache
def plain_defaults(cls: type[SQLModel]) -> dict[str, Any]:
    """``cls``'s fields that have a plain default (``None``, ``False``, a string), with it.

    Fields with a ``default_factory`` are left out: a caller of :func:`build_with_defaults`
    gives those (a shared list or dict would be one object in every row). Read once per
    class (cached); the dict is shared, so callers copy it, never change it."""
    return {name: info.default for name, info in cls.model_fields.items()
            if info.default is not PydanticUndefined and info.default_factory is None}


def build_with_defaults(cls: type[Row], values: dict[str, Any]) -> Row:
    """:func:`build`, the fields not in ``values`` taking their plain defaults (as the
    constructor would); a field with neither a value nor a plain default raises TypeError."""
    return build(cls, {**plain_defaults(cls), **values})
