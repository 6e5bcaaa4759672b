"""cases: index of thread Message-IDs for joining follow-ups to their case

Revision ID: 0005
Revises: 0001
Create Date: 2026-11-26 10:00:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0005'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('casethreadref',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('message_id', sqlmodel.sql.sqltypes.AutoString(length=998), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_id', 'message_id', name='uq_casethreadref_case_msg')
    )
    with op.batch_alter_table('casethreadref', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_casethreadref_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_casethreadref_message_id'), ['message_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('casethreadref', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_casethreadref_message_id'))
        batch_op.drop_index(batch_op.f('ix_casethreadref_case_id'))

    op.drop_table('casethreadref')
