"""order_events: the index of pending events holds only pending events

It indexed (processed_at, id) for every event, so marking an event processed added an index
entry, and the index grew with the whole history. A partial index on id, where processed_at is
null, holds only what the stock apply still has to read.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"

PENDING = sa.text("processed_at IS NULL")


def upgrade() -> None:
    op.drop_index("ix_order_events_pending", table_name="order_events")
    op.create_index("ix_order_events_pending", "order_events", ["id"], postgresql_where=PENDING, sqlite_where=PENDING)


def downgrade() -> None:
    op.drop_index("ix_order_events_pending", table_name="order_events")
    op.create_index("ix_order_events_pending", "order_events", ["processed_at", "id"])
