"""retention: purged marks on stored mail and attachments, anonymous statistics of deleted cases

Revision ID: 0012_retention
Revises: 0011_case_workflow_columns
Create Date: 2026-12-07 03:40:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0012_retention'
down_revision = '0011_case_workflow_columns'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('casestatistic',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('types', sa.JSON(), nullable=False),
    sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('closed_on', sa.Date(), nullable=True),
    sa.Column('extended', sa.Boolean(), nullable=False),
    sa.Column('deleted_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('casestatistic', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_casestatistic_deleted_at'), ['deleted_at'],
                              unique=False)
    with op.batch_alter_table('inboundmessage', schema=None) as batch_op:
        batch_op.add_column(sa.Column('purged_at', sqlmodel.sql.sqltypes.UTCDateTime(),
                                      nullable=True))
    with op.batch_alter_table('outboundattachment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('purged_at', sqlmodel.sql.sqltypes.UTCDateTime(),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outboundattachment', schema=None) as batch_op:
        batch_op.drop_column('purged_at')
    with op.batch_alter_table('inboundmessage', schema=None) as batch_op:
        batch_op.drop_column('purged_at')
    with op.batch_alter_table('casestatistic', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_casestatistic_deleted_at'))
    op.drop_table('casestatistic')
