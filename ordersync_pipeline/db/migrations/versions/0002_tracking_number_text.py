"""orders.tracking_number as text: some marketplaces give a tracking URL, longer than 128 characters"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.alter_column("tracking_number", existing_type=sa.String(128), type_=sa.Text(), existing_nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.alter_column("tracking_number", existing_type=sa.Text(), type_=sa.String(128), existing_nullable=True)
