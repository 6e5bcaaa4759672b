"""used signatures: one signature verifies one case (issue 21, item 2)

Revision ID: 0011_used_signatures
Revises: 0010_staff_logins
Create Date: 2026-12-07 04:15:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0011_used_signatures'
down_revision = '0010_staff_logins'
branch_labels = None
depends_on = None


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


def downgrade() -> None:
    with op.batch_alter_table('usedsignature', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_usedsignature_case_id'))

    op.drop_table('usedsignature')
