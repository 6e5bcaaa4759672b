"""chat: the staff chat's outbox (ChatNotification) and case-to-message map (ChatCaseMessage)

Revision ID: 0007
Revises: 0001
Create Date: 2026-11-26 12:30:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0007'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('chatnotification',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('case_id', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('telegram_message_id', sa.BigInteger(), nullable=True),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('sent_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('chatnotification', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_chatnotification_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_chatnotification_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_chatnotification_next_attempt_at'), ['next_attempt_at'], unique=False)

    op.create_table('chatcasemessage',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('chat_id', sa.BigInteger(), nullable=False),
    sa.Column('message_id', sa.BigInteger(), nullable=False),
    sa.Column('synced_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_id', 'chat_id', name='uq_chatcasemessage_case_chat')
    )
    with op.batch_alter_table('chatcasemessage', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_chatcasemessage_case_id'), ['case_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('chatcasemessage', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_chatcasemessage_case_id'))
    op.drop_table('chatcasemessage')
    with op.batch_alter_table('chatnotification', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_chatnotification_next_attempt_at'))
        batch_op.drop_index(batch_op.f('ix_chatnotification_state'))
        batch_op.drop_index(batch_op.f('ix_chatnotification_case_id'))
    op.drop_table('chatnotification')
