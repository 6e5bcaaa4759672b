"""identity: one-time challenges sent to the registered address

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-26 10:00:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0004'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('identitychallenge',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('consumed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], ),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('identitychallenge', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identitychallenge_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_identitychallenge_customer_id'), ['customer_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('identitychallenge', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identitychallenge_customer_id'))
        batch_op.drop_index(batch_op.f('ix_identitychallenge_case_id'))

    op.drop_table('identitychallenge')
