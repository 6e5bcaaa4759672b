"""one head: join the feature branches

Revision ID: 0009
Revises: 0002, 0003, 0004, 0005, 0006, 0007, 0008
Create Date: 2026-11-25 12:29:52.682542
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0009'
down_revision = ('0002', '0003', '0004', '0005', '0006', '0007', '0008')
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
