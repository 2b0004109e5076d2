"""notification_inbox and realtime_heartbeats: the real-time path's intake and its signs of life

- ``notification_inbox``: one row per (marketplace, order) a marketplace notified us of, stored
  before the notification is answered; ``processed_at`` is set once the order is written, its
  stock applied and pushed. A repeated notification finds its row and adds nothing.
- ``realtime_heartbeats``: one row per real-time component (the receiver, a watcher) and
  marketplace, its last beat and how often it beats, for the check that it still runs.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    op.create_table(
        "notification_inbox",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("marketplace_id", sa.Integer, nullable=False),
        sa.Column("order_reference", sa.String(64), nullable=False),
        sa.Column("received_at", sa.DateTime, nullable=False),
        sa.Column("deliveries", sa.Integer, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("processed_at", sa.DateTime),
        sa.Column("last_error", sa.Text),
        sa.ForeignKeyConstraint(
            ["marketplace_id"], ["marketplaces.id"], name=op.f("fk_notification_inbox_marketplace_id_marketplaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_inbox")),
        sa.UniqueConstraint("marketplace_id", "order_reference", name="uq_notification_inbox_marketplace_order"),
    )
    op.create_index("ix_notification_inbox_processed_at", "notification_inbox", ["processed_at"])
    op.create_table(
        "realtime_heartbeats",
        sa.Column("component", sa.String(32), nullable=False),
        sa.Column("marketplace_id", sa.Integer, nullable=False),
        sa.Column("beat_at", sa.DateTime, nullable=False),
        sa.Column("interval_seconds", sa.Float, nullable=False),
        sa.Column("details", sa.JSON),
        sa.PrimaryKeyConstraint("component", "marketplace_id", name=op.f("pk_realtime_heartbeats")),
    )


def downgrade() -> None:
    op.drop_table("realtime_heartbeats")
    op.drop_index("ix_notification_inbox_processed_at", table_name="notification_inbox")
    op.drop_table("notification_inbox")
