"""marketplace_stock_locks: marketplace_id and event_id lose their foreign keys

A lock's marketplace is its order's, which the lock already reaches through ``order_item_id``
(that foreign key stays); ``event_id`` names the event that last set the lock, in an outbox whose
rows are never deleted. Checking both for every lock written cost the stock apply about a sixth of
its time on a long history.
"""

from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    with op.batch_alter_table("marketplace_stock_locks") as batch:
        batch.drop_constraint("fk_marketplace_stock_locks_marketplace_id_marketplaces", type_="foreignkey")
        batch.drop_constraint("fk_marketplace_stock_locks_event_id_order_events", type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("marketplace_stock_locks") as batch:
        batch.create_foreign_key(
            "fk_marketplace_stock_locks_marketplace_id_marketplaces", "marketplaces", ["marketplace_id"], ["id"]
        )
        batch.create_foreign_key(
            "fk_marketplace_stock_locks_event_id_order_events", "order_events", ["event_id"], ["id"]
        )
