"""Shipping times, count times and listing kinds: the stock's cut-over at a shelf count

- ``order_items.shipped_at``: when the item's unit left (the marketplace's shipping time, else
  when the sync first saw it shipped). Items already shipped or returned get the time their order
  was last synced, the latest they can have been seen shipped: applied or not, they are taken to
  have left after the stock was last set, as before this revision.
- ``inventory.counted_at``: when the shelf count in ``on_hand`` was taken. Existing rows get the
  time their on_hand was last set, the closest there is.
- ``marketplace_stock.listing_kind``: whether ``listing_ref`` is the marketplace's listing id or
  the offer's SKU. Refurbed listings were sent as an id when made only of digits, else as a SKU:
  each row gets the kind it was being sent as; every other listing is an id.
"""

import re

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"

_DIGITS = re.compile(r"^\d{1,19}$")


def upgrade() -> None:
    with op.batch_alter_table("order_items") as batch:
        batch.add_column(sa.Column("shipped_at", sa.DateTime))
    op.create_index("ix_order_items_shipped_at", "order_items", ["shipped_at"])
    op.execute(
        "UPDATE order_items SET shipped_at = (SELECT synced_at FROM orders WHERE orders.id = order_items.order_id)"
        " WHERE status IN ('shipped', 'returned')"
    )
    with op.batch_alter_table("inventory") as batch:
        batch.add_column(sa.Column("counted_at", sa.DateTime))
    op.execute("UPDATE inventory SET counted_at = updated_at")
    with op.batch_alter_table("marketplace_stock") as batch:
        batch.add_column(sa.Column("listing_kind", sa.String(8), nullable=False, server_default="id"))
    conn = op.get_bind()
    refurbed = conn.execute(
        sa.text(
            "SELECT s.id, s.listing_ref FROM marketplace_stock s JOIN marketplaces m ON m.id = s.marketplace_id"
            " WHERE m.kind = 'refurbed'"
        )
    ).all()
    by_sku = [{"b_id": row.id} for row in refurbed if not _DIGITS.match(row.listing_ref.strip())]
    if by_sku:
        conn.execute(sa.text("UPDATE marketplace_stock SET listing_kind = 'sku' WHERE id = :b_id"), by_sku)


def downgrade() -> None:
    with op.batch_alter_table("marketplace_stock") as batch:
        batch.drop_column("listing_kind")
    with op.batch_alter_table("inventory") as batch:
        batch.drop_column("counted_at")
    op.drop_index("ix_order_items_shipped_at", table_name="order_items")
    with op.batch_alter_table("order_items") as batch:
        batch.drop_column("shipped_at")
