"""orders.tracking_number as text: some marketplaces give a tracking URL, longer than 128 characters

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.alter_column("tracking_number", existing_type=sa.String(128), type_=sa.Text(), existing_nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.alter_column("tracking_number", existing_type=sa.Text(), type_=sa.String(128), existing_nullable=True)
