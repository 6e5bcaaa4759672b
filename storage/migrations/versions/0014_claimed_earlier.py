"""claimed earlier request: the date a reminder says the first request was sent (issue 19)

Revision ID: 0014_claimed_earlier
Revises: 0013_bounces_and_health
Create Date: 2026-12-07 04:45:00
"""
from alembic import op
import sqlalchemy as sa


revision = "0014_claimed_earlier"
down_revision = "0013_bounces_and_health"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_earlier", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.drop_column("claimed_earlier")
