"""The database schema, as SQLAlchemy Core tables. Alembic migrations in ``migrations/`` create it.

Times are stored as naive UTC (``utc_naive``) so that SQLite and Postgres compare them alike;
money is ``Money`` (exact decimals on both).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class Money(TypeDecorator):
    """Exact decimal money: NUMERIC on Postgres, text on SQLite (whose NUMERIC is a float)."""

    impl = Numeric(14, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(32))
        return dialect.type_descriptor(Numeric(14, 2, asdecimal=True))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        value = Decimal(value).quantize(Decimal("0.01"))
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        return None if value is None else Decimal(value).quantize(Decimal("0.01"))


def utc_naive(value: datetime | None) -> datetime | None:
    """Turn a datetime into what is stored: UTC, without tzinfo, to the microsecond."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


marketplaces = Table(
    "marketplaces",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("kind", String(32), nullable=False),
    Column("name", String(128)),
    Column("base_url", String(512), nullable=False),
    Column("token_env", String(128), nullable=False),
    Column("locale", String(16)),
    Column("active", Boolean, nullable=False, default=True),
    Column("settings", JSON, nullable=False, default=dict),
    Column("updated_at", DateTime, nullable=False, default=utcnow),
)

orders = Table(
    "orders",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("marketplace_id", Integer, ForeignKey("marketplaces.id"), nullable=False),
    Column("reference", String(64), nullable=False),
    Column("status", String(32), nullable=False),
    Column("marketplace_state", String(32), nullable=False),
    Column("currency", String(8), nullable=False),
    Column("total_price", Money, nullable=False),
    Column("delivery_note_url", Text),
    Column("label_url", Text),
    # A tracking number, or a carrier's tracking URL where that is all a marketplace gives.
    Column("tracking_number", Text),
    Column("created_at", DateTime, nullable=False),
    Column("modified_at", DateTime, nullable=False),
    Column("synced_at", DateTime, nullable=False),
    # A digest of the order as last written (of its payload if it was listed unparsed, else
    # ``sync.order_writer.fingerprint``): an order that comes back with the same one is unchanged,
    # and is neither parsed nor read further. NULL for an order with a paid item: always read.
    Column("fingerprint", String(32)),
    UniqueConstraint("marketplace_id", "reference", name="uq_orders_marketplace_reference"),
    Index("ix_orders_marketplace_created", "marketplace_id", "created_at"),
)

order_items = Table(
    "order_items",
    metadata,
    Column("id", Integer, primary_key=True),
    # No foreign key to orders (nor from events to orders, nor from locks to items): nothing is
    # ever deleted, a child is written with the id its parent was just given, and checking each
    # row of a bulk load one at a time was a large share of the load's work (migration 0006).
    Column("order_id", Integer, nullable=False),
    Column("reference", String(64), nullable=False),
    Column("sku", String(128), nullable=False),
    Column("listing_ref", String(128)),
    Column("quantity", Integer, nullable=False),
    Column("unit_price", Money, nullable=False),
    Column("status", String(32), nullable=False),
    Column("marketplace_state", String(32), nullable=False),
    Column("care_id", String(64)),
    # Set when this project accepted the item at the marketplace: an item is accepted once.
    Column("accepted_at", DateTime),
    # When the unit left (shipped, or returned after shipping): the marketplace's time, else when
    # the sync first saw it (``sync.order_writer``). Compared with the SKU's count time.
    Column("shipped_at", DateTime),
    UniqueConstraint("order_id", "reference", name="uq_order_items_order_reference"),
    Index("ix_order_items_sku", "sku"),
    Index("ix_order_items_shipped_at", "shipped_at"),
)

order_events = Table(
    "order_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("event_key", String(200), nullable=False, unique=True),
    Column("type", String(32), nullable=False),
    Column("order_id", Integer, nullable=False),
    Column("from_status", String(32)),
    Column("to_status", String(32), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("created_at", DateTime, nullable=False),
)

# The events the stock has yet to apply: a row is written with each event and deleted in the
# transaction that applies it. Marking the wide event rows processed instead rewrote each of them
# (and its key's index entry) for every event applied (migration 0007).
pending_order_events = Table(
    "pending_order_events",
    metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=False),
    Column("order_id", Integer, nullable=False),
)

sync_cursors = Table(
    "sync_cursors",
    metadata,
    Column("marketplace_id", Integer, ForeignKey("marketplaces.id"), nullable=False),
    Column("sync_type", String(16), nullable=False),
    Column("cursor", String(64), nullable=False),
    Column("updated_at", DateTime, nullable=False),
    PrimaryKeyConstraint("marketplace_id", "sync_type", name="pk_sync_cursors"),
)

sync_errors = Table(
    "sync_errors",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("marketplace_id", Integer, ForeignKey("marketplaces.id"), nullable=False),
    Column("sync_type", String(16), nullable=False),
    Column("reference", String(64)),
    Column("error", Text, nullable=False),
    Column("payload", Text),
    Column("created_at", DateTime, nullable=False),
    Index("ix_sync_errors_reference", "marketplace_id", "reference"),
)

care_folders = Table(
    "care_folders",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("marketplace_id", Integer, ForeignKey("marketplaces.id"), nullable=False),
    Column("care_id", String(64), nullable=False),
    Column("item_reference", String(64), nullable=False),
    Column("order_reference", String(64)),
    Column("state", String(32), nullable=False),
    Column("modified_at", DateTime),
    Column("payload", JSON, nullable=False),
    Column("synced_at", DateTime, nullable=False),
    UniqueConstraint("marketplace_id", "care_id", name="uq_care_folders_marketplace_care"),
)

# --- stock -------------------------------------------------------------------------------------

inventory = Table(
    "inventory",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("sku", String(128), nullable=False, unique=True),
    Column("on_hand", Integer, nullable=False, default=0),
    Column("updated_at", DateTime, nullable=False, default=utcnow),
    # When the shelf count on_hand starts from was taken; NULL for a SKU never counted (a row the
    # stock apply made for an order of an unknown SKU, with nothing on hand).
    Column("counted_at", DateTime),
)

marketplace_stock = Table(
    "marketplace_stock",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("marketplace_id", Integer, ForeignKey("marketplaces.id"), nullable=False),
    Column("sku", String(128), nullable=False),
    Column("listing_ref", String(128), nullable=False),
    # What listing_ref is: the marketplace's listing (offer) id, or the offer's SKU
    # (``marketplaces.base.ListingKind``), as the stock file said.
    Column("listing_kind", String(8), nullable=False, server_default="id"),
    Column("buffer", Integer, nullable=False, default=0),
    Column("max_quantity", Integer),
    Column("pushed_quantity", Integer),
    Column("pushed_at", DateTime),
    Column("locked_quantity", Integer, nullable=False, default=0),
    UniqueConstraint("marketplace_id", "sku", name="uq_marketplace_stock_marketplace_sku"),
)

# A listing a reconciliation read below its computed quantity, not raised yet: the first reading
# that showed it at this quantity (an order ordersync had not seen may have lowered it; see
# stock/reconcile.py). No foreign key: a row whose listing is gone is simply never matched.
listings_pending_raise = Table(
    "listings_pending_raise",
    metadata,
    Column("marketplace_stock_id", Integer, primary_key=True, autoincrement=False),
    Column("listed_quantity", Integer, nullable=False),
    Column("first_seen_at", DateTime, nullable=False),
    Column("last_seen_at", DateTime, nullable=False),
)

marketplace_stock_locks = Table(
    "marketplace_stock_locks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("order_item_id", Integer, nullable=False, unique=True),
    # No foreign keys on these two either: the marketplace is the order's, reached through
    # order_item_id, and event_id points into an outbox that is never deleted from: checking them
    # for every lock written is work that can find nothing (migration 0004).
    Column("marketplace_id", Integer, nullable=False),
    Column("sku", String(128), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("event_id", Integer),
    Column("locked_at", DateTime, nullable=False),
    Column("settled_at", DateTime),
    Index("ix_marketplace_stock_locks_sku_status", "sku", "status"),
)

# --- real time ---------------------------------------------------------------------------------

# One row per (marketplace, order) a marketplace notified us of: stored before the notification is
# answered, processed (order written, stock applied and pushed) after. A repeat adds nothing.
notification_inbox = Table(
    "notification_inbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("marketplace_id", Integer, ForeignKey("marketplaces.id"), nullable=False),
    Column("order_reference", String(64), nullable=False),
    Column("received_at", DateTime, nullable=False),
    #: notifications of this order received (the marketplace delivers at least once)
    Column("deliveries", Integer, nullable=False, default=1),
    #: times processing was tried; ``last_error`` says why the last one did not finish
    Column("attempts", Integer, nullable=False, default=0),
    Column("processed_at", DateTime),
    Column("last_error", Text),
    UniqueConstraint("marketplace_id", "order_reference", name="uq_notification_inbox_marketplace_order"),
    Index("ix_notification_inbox_processed_at", "processed_at"),
)

# The last sign of life of each real-time component (``receiver``, ``watcher``) per marketplace.
realtime_heartbeats = Table(
    "realtime_heartbeats",
    metadata,
    Column("component", String(32), nullable=False),
    Column("marketplace_id", Integer, nullable=False),
    Column("beat_at", DateTime, nullable=False),
    #: how often it beats: the check calls it stopped after a few intervals without a beat
    Column("interval_seconds", Float, nullable=False),
    Column("details", JSON),
    PrimaryKeyConstraint("component", "marketplace_id"),
)
