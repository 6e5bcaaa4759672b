"""used signatures and bans applied at once (issue 21, items 2 and 6)

``usedsignature``: one signature verifies one case. ``case.applied_at_once``: the marketing and
publication bans set when the case opened, below "verified", which carrying the case out must
not set or confirm again; the code branches on it, so it is a column (as 0011 did for the other
workflow flags), carried over from ``case.details`` where an earlier build kept it.

Revision ID: 0015_used_signatures
Revises: 0014_claimed_earlier
Create Date: 2026-12-07 04:15:00
"""
from typing import Any

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0015_used_signatures'
down_revision = '0014_claimed_earlier'
branch_labels = None
depends_on = None

_case = sa.table('case', sa.column('id', sa.String), sa.column('details', sa.JSON),
                 sa.column('applied_at_once', sa.JSON))


def upgrade() -> None:
    op.create_table('usedsignature',
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('case_id', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('used_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], ),
    sa.PrimaryKeyConstraint('sha256')
    )
    with op.batch_alter_table('usedsignature', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_usedsignature_case_id'), ['case_id'], unique=False)
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('applied_at_once', sa.JSON(), nullable=False,
                                      server_default='[]'))
    conn = op.get_bind()
    for row in conn.execute(sa.select(_case.c.id, _case.c.details)).all():
        details: dict[str, Any] = dict(row.details or {})
        if 'applied_at_once' in details:
            done = list(details.pop('applied_at_once') or ())
            conn.execute(_case.update().where(_case.c.id == row.id)
                         .values(details=details, applied_at_once=done))


def downgrade() -> None:
    conn = op.get_bind()
    for row in conn.execute(sa.select(_case.c.id, _case.c.details,
                                      _case.c.applied_at_once)).all():
        if row.applied_at_once:
            details = {**dict(row.details or {}), 'applied_at_once': list(row.applied_at_once)}
            conn.execute(_case.update().where(_case.c.id == row.id).values(details=details))
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_column('applied_at_once')
    with op.batch_alter_table('usedsignature', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_usedsignature_case_id'))

    op.drop_table('usedsignature')
