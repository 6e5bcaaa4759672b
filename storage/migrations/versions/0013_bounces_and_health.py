"""bounces and health: bounced letters, once-only forwards, cross-channel dedupe, canary

Revision ID: 0013_bounces_and_health
Revises: 0012_retention
Create Date: 2026-12-07 04:00:00

Existing inbound rows get ``content_key = sha256``: they keep deduplicating exactly as before
(the new unique key is then as unique as the old one); mail stored from now on gets the key
without trace headers, so a copy arriving over a second channel is recognised.
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0013_bounces_and_health'
down_revision = '0012_retention'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('inboundmessage', schema=None) as batch_op:
        batch_op.add_column(sa.Column('content_key', sqlmodel.sql.sqltypes.AutoString(length=64),
                                      nullable=False, server_default=''))
    op.execute("UPDATE inboundmessage SET content_key = sha256")
    with op.batch_alter_table('inboundmessage', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_inbound_msgid_content', ['message_id', 'content_key'])
    with op.batch_alter_table('outboundmessage', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dedupe_key', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('bounce_status', sqlmodel.sql.sqltypes.AutoString(length=16),
                                      nullable=True))
        batch_op.add_column(sa.Column('bounce_diagnostic',
                                      sqlmodel.sql.sqltypes.AutoString(length=1000),
                                      nullable=True))
        batch_op.add_column(sa.Column('bounced_at', sqlmodel.sql.sqltypes.UTCDateTime(),
                                      nullable=True))
        batch_op.create_unique_constraint('uq_outboundmessage_dedupe_key', ['dedupe_key'])
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email_undeliverable_at', sqlmodel.sql.sqltypes.UTCDateTime(),
                                      nullable=True))
        batch_op.add_column(sa.Column('email_undeliverable_status',
                                      sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))
    op.create_table(
        'canaryprobe',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('slot', sa.BigInteger(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('outbound_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('arrived_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('round_trip_seconds', sa.Float(), nullable=True),
        sa.Column('inbound_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['outbound_id'], ['outboundmessage.id']),
        sa.ForeignKeyConstraint(['inbound_id'], ['inboundmessage.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('slot'),
        sa.UniqueConstraint('token_hash'),
    )
    op.create_index('ix_canaryprobe_created_at', 'canaryprobe', ['created_at'])
    op.create_index('ix_canaryprobe_arrived_at', 'canaryprobe', ['arrived_at'])
    op.create_table(
        'healthincident',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('open_key', sa.String(length=16), nullable=True),
        sa.Column('detail', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column('opened_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('closed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('open_key'),
    )
    op.create_index('ix_healthincident_kind', 'healthincident', ['kind'])


def downgrade() -> None:
    op.drop_index('ix_healthincident_kind', table_name='healthincident')
    op.drop_table('healthincident')
    op.drop_index('ix_canaryprobe_arrived_at', table_name='canaryprobe')
    op.drop_index('ix_canaryprobe_created_at', table_name='canaryprobe')
    op.drop_table('canaryprobe')
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.drop_column('email_undeliverable_status')
        batch_op.drop_column('email_undeliverable_at')
    with op.batch_alter_table('outboundmessage', schema=None) as batch_op:
        batch_op.drop_constraint('uq_outboundmessage_dedupe_key', type_='unique')
        batch_op.drop_column('bounced_at')
        batch_op.drop_column('bounce_diagnostic')
        batch_op.drop_column('bounce_status')
        batch_op.drop_column('dedupe_key')
    with op.batch_alter_table('inboundmessage', schema=None) as batch_op:
        batch_op.drop_constraint('uq_inbound_msgid_content', type_='unique')
        batch_op.drop_column('content_key')
