"""scheduler: what the clock has done (SentReminder), keyed so nothing is done twice

Revision ID: 0008
Revises: 0001
Create Date: 2026-11-26 14:00:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0008'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sentreminder',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('case_id', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('done_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('instance', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('kind', 'subject', 'due_on', name='uq_sentreminder_kind_subject_due')
    )
    with op.batch_alter_table('sentreminder', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sentreminder_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sentreminder_done_at'), ['done_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sentreminder', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sentreminder_done_at'))
        batch_op.drop_index(batch_op.f('ix_sentreminder_case_id'))

    op.drop_table('sentreminder')
