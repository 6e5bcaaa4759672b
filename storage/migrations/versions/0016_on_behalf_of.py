"""acting for someone: the representative's address and the authority check (issue 19, item 2)

``case.on_behalf_of`` holds the representative's address when a request is made for another
person; ``authority`` says where the check of the letter of authority stands (``to_check``,
``checked``, ``refused``) with who decided, when and on which document; and
``answer_to_representative`` is staff's explicit choice to send the answer to the
representative instead of the data subject's registered address. The code branches on each,
so they are columns, not ``details``.

Revision ID: 0016_on_behalf_of
Revises: 0015_used_signatures
Create Date: 2026-12-07 12:40:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = "0016_on_behalf_of"
down_revision = "0015_used_signatures"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            "on_behalf_of", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True))
        batch_op.add_column(sa.Column(
            "authority", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))
        batch_op.add_column(sa.Column(
            "authority_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True))
        batch_op.add_column(sa.Column(
            "authority_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column(
            "authority_document", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True))
        batch_op.add_column(sa.Column(
            "answer_to_representative", sa.Boolean(), nullable=False,
            server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("case", schema=None) as batch_op:
        for column in ("answer_to_representative", "authority_document", "authority_at",
                       "authority_by", "authority", "on_behalf_of"):
            batch_op.drop_column(column)
