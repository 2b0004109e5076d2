"""order_items, order_events and marketplace_stock_locks lose the foreign keys to their parents

Orders, items and events are never deleted, and each child row is written in the same
transaction as, or after, the parent whose id it takes (the order writer inserts an order, then
its items and events with the id it was given; the stock apply locks items it has just read). A
foreign key checked each of those rows one at a time, taking a share lock on its parent: on a
first sync of a long history that was a quarter to a third of the database's time, and about a
third of the stock apply's. The indexes the lookups use (on ``order_id``, ``order_item_id``) stay.
"""

from alembic import op

revision = "0006"
down_revision = "0005"

#: (table, column, parent table)
LINKS = (
    ("order_items", "order_id", "orders"),
    ("order_events", "order_id", "orders"),
    ("marketplace_stock_locks", "order_item_id", "order_items"),
)


def upgrade() -> None:
    for table, column, parent in LINKS:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"fk_{table}_{column}_{parent}", type_="foreignkey")


def downgrade() -> None:
    for table, column, parent in LINKS:
        with op.batch_alter_table(table) as batch:
            batch.create_foreign_key(f"fk_{table}_{column}_{parent}", parent, [column], ["id"])
