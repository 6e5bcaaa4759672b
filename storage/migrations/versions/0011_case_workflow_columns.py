"""case workflow columns: who decided, letters owed and failures, out of case.details JSON

The flags the code branches on (``approved_by``, ``refused_by``, ``refusal_reason``,
``refusal_letter_sent``, ``execution_failed``, ``extended_by``, ``extension_notice``) become
columns so the execution sweep is one indexed query. Existing values are carried over from the
JSON (and moved back on downgrade), row by row in Python so SQLite and PostgreSQL read the JSON
the same way.

Revision ID: 0011_case_workflow_columns
Revises: 0010_staff_logins
Create Date: 2026-12-07 03:40:00
"""
from typing import Any

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0011_case_workflow_columns'
down_revision = '0010_staff_logins'
branch_labels = None
depends_on = None

_TEXT = ('approved_by', 'refused_by', 'refusal_reason', 'extended_by')
_FLAGS = ('refusal_letter_sent', 'execution_failed')

_case = sa.table(
    'case',
    sa.column('id', sa.String), sa.column('details', sa.JSON),
    *(sa.column(name, sa.String) for name in _TEXT),
    *(sa.column(name, sa.Boolean) for name in (*_FLAGS, 'extension_notice_pending')),
)


def upgrade() -> None:
    with op.batch_alter_table('case', schema=None) as batch_op:
        for name in ('approved_by', 'refused_by', 'extended_by'):
            batch_op.add_column(sa.Column(
                name, sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True))
        batch_op.add_column(sa.Column(
            'refusal_reason', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        for name in (*_FLAGS, 'extension_notice_pending'):
            batch_op.add_column(sa.Column(
                name, sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_index('ix_case_extension_notice_pending',
                              ['extension_notice_pending'], unique=False)
        batch_op.create_index('ix_case_sweep',
                              ['status', 'execution_failed', 'refusal_letter_sent'], unique=False)
    conn = op.get_bind()
    for row in conn.execute(sa.select(_case.c.id, _case.c.details)).all():
        details: dict[str, Any] = dict(row.details or {})
        values: dict[str, Any] = {name: _text(details.pop(name, None)) for name in _TEXT}
        values.update({name: bool(details.pop(name, False)) for name in _FLAGS})
        values['extension_notice_pending'] = details.pop('extension_notice', None) == 'pending'
        values['details'] = details
        conn.execute(_case.update().where(_case.c.id == row.id).values(**values))


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def downgrade() -> None:
    conn = op.get_bind()
    names = (*_TEXT, *_FLAGS, 'extension_notice_pending')
    for row in conn.execute(sa.select(_case.c.id, _case.c.details,
                                      *(_case.c[n] for n in names))).all():
        details: dict[str, Any] = dict(row.details or {})
        details.update({n: row._mapping[n] for n in _TEXT if row._mapping[n] is not None})
        details.update({n: True for n in _FLAGS if row._mapping[n]})
        if row.extension_notice_pending:
            details['extension_notice'] = 'pending'
        elif row.extended_by is not None:
            details['extension_notice'] = 'sent'
        conn.execute(_case.update().where(_case.c.id == row.id).values(details=details))
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_index('ix_case_sweep')
        batch_op.drop_index('ix_case_extension_notice_pending')
        for name in reversed(names):
            batch_op.drop_column(name)
