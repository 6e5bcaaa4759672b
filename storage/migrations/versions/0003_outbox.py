"""outbox: attachments as bytes in their own table

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-26 10:00:00

The JSON ``outboundmessage.attachments`` column (base64 in JSON) is replaced by the
``outboundattachment`` table (LargeBinary). No data moves: the outbox was not written to
before this revision.
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0003'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('outboundattachment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('outbound_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('filename', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('content_type', sqlmodel.sql.sqltypes.AutoString(length=127), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['outbound_id'], ['outboundmessage.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('outboundattachment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outboundattachment_outbound_id'), ['outbound_id'],
                              unique=False)
    with op.batch_alter_table('outboundmessage', schema=None) as batch_op:
        batch_op.drop_column('attachments')


def downgrade() -> None:
    with op.batch_alter_table('outboundmessage', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attachments', sa.JSON(), nullable=False,
                                      server_default=sa.text("'[]'")))
    with op.batch_alter_table('outboundattachment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outboundattachment_outbound_id'))
    op.drop_table('outboundattachment')
