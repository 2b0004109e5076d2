"""listings_pending_raise: listings a reconciliation found below their computed quantity

A listing below what ordersync computes may have been lowered by an order ordersync has not seen
yet; it is raised only once readings far enough apart show it unmoved. This table keeps the first
of those readings (docs/design.md, "Reconciliation").
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    op.create_table(
        "listings_pending_raise",
        sa.Column("marketplace_stock_id", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("listed_quantity", sa.Integer, nullable=False),
        sa.Column("first_seen_at", sa.DateTime, nullable=False),
        sa.Column("last_seen_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("marketplace_stock_id", name=op.f("pk_listings_pending_raise")),
    )


def downgrade() -> None:
    op.drop_table("listings_pending_raise")
