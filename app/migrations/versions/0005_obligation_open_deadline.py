"""obligation open-deadline index for the dashboard (issue 8)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 17:10:00

Written by hand: autogenerate does not compare expression indexes (it skips them on SQLite).
"""
from alembic import op
import sqlalchemy as sa

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The dashboard walks open deadlines nearest first (the internal target where the law sets no number).
    op.create_index("ix_obligation_open_deadline", "obligation",
                    ["status", sa.text("coalesce(due_at, internal_target_at)")])


def downgrade() -> None:
    op.drop_index("ix_obligation_open_deadline", table_name="obligation")
