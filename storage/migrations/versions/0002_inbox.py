"""inbox: sender column for the rate limit, IMAP location of a message, IMAP sync state

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 11:00:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('inboundmessage', schema=None) as batch_op:
        batch_op.add_column(sa.Column('from_address', sqlmodel.sql.sqltypes.AutoString(length=320),
                                      nullable=False, server_default=''))
        batch_op.add_column(sa.Column('imap_mailbox', sqlmodel.sql.sqltypes.AutoString(length=300),
                                      nullable=True))
        batch_op.add_column(sa.Column('imap_uidvalidity', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('imap_uid', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('imap_moved_at', sqlmodel.sql.sqltypes.UTCDateTime(),
                                      nullable=True))
        batch_op.create_index(batch_op.f('ix_inboundmessage_from_address'), ['from_address'],
                              unique=False)

    op.create_table('imapstate',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account', sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False),
    sa.Column('mailbox', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('uidvalidity', sa.BigInteger(), nullable=False),
    sa.Column('last_uid', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('account', 'mailbox', name='uq_imapstate_account_mailbox')
    )


def downgrade() -> None:
    op.drop_table('imapstate')
    with op.batch_alter_table('inboundmessage', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inboundmessage_from_address'))
        batch_op.drop_column('imap_moved_at')
        batch_op.drop_column('imap_uid')
        batch_op.drop_column('imap_uidvalidity')
        batch_op.drop_column('imap_mailbox')
        batch_op.drop_column('from_address')
