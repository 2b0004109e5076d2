"""pending_order_events: the events the stock has yet to apply, instead of order_events.processed_at

The stock apply marked each event processed by setting ``processed_at``: a new version of a wide
row, with a new entry in the event key's index, for every event, a quarter of a long apply. Now
the sync writes a narrow row for each event it writes, and the apply deletes it in the
transaction that applies the event. The events not yet processed are carried over.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"

PENDING = sa.text("processed_at IS NULL")


def upgrade() -> None:
    op.create_table(
        "pending_order_events",
        sa.Column("event_id", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("order_id", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_pending_order_events")),
    )
    op.execute(
        "INSERT INTO pending_order_events (event_id, order_id)"
        " SELECT id, order_id FROM order_events WHERE processed_at IS NULL"
    )
    op.drop_index("ix_order_events_pending", table_name="order_events")
    with op.batch_alter_table("order_events") as batch:
        batch.drop_column("processed_at")


def downgrade() -> None:
    with op.batch_alter_table("order_events") as batch:
        batch.add_column(sa.Column("processed_at", sa.DateTime))
    op.execute(
        "UPDATE order_events SET processed_at = CURRENT_TIMESTAMP"
        " WHERE id NOT IN (SELECT event_id FROM pending_order_events)"
    )
    op.create_index("ix_order_events_pending", "order_events", ["id"], postgresql_where=PENDING, sqlite_where=PENDING)
    op.drop_table("pending_order_events")
