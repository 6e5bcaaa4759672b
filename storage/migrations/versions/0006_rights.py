"""rights: correction history (FieldChange) and legal holds that block erasure (LegalHold)

Revision ID: 0006
Revises: 0001
Create Date: 2026-11-26 12:00:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0006'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('fieldchange',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('field', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('old_value', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('changed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('case_id', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('grounds', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], ),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('fieldchange', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fieldchange_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_fieldchange_customer_id'), ['customer_id'], unique=False)

    op.create_table('legalhold',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('until', sa.Date(), nullable=True),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('legalhold', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_legalhold_customer_id'), ['customer_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('legalhold', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_legalhold_customer_id'))

    op.drop_table('legalhold')
    with op.batch_alter_table('fieldchange', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fieldchange_customer_id'))
        batch_op.drop_index(batch_op.f('ix_fieldchange_case_id'))

    op.drop_table('fieldchange')
