"""The adapter interface and the normalised records every marketplace adapter hands out.

Nothing past an adapter knows which marketplace it talks to: the sync and stock code only see
these records and call these methods.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any


class Status(enum.StrEnum):
    """Normalised status of an order or an order item (docs/design.md, "Status model")."""

    PENDING_PAYMENT = "pending_payment"
    PAID = "paid"
    ACCEPTED = "accepted"
    SHIPPED = "shipped"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
    RETURNED = "returned"


OPEN_STATUSES = frozenset({Status.PENDING_PAYMENT, Status.PAID, Status.ACCEPTED})
#: the statuses of an item whose unit has left the seller
LEFT_STATUSES = frozenset({Status.SHIPPED, Status.RETURNED})


class SyncType(enum.StrEnum):
    NEW = "new"
    MODIFIED = "modified"
    CARE = "care"
    INCOMPLETE = "incomplete"


ALL_SYNC_TYPES: tuple[SyncType, ...] = (
    SyncType.NEW,
    SyncType.MODIFIED,
    SyncType.CARE,
    SyncType.INCOMPLETE,
)


@dataclass(frozen=True)
class OrderItem:
    reference: str
    #: the seller's SKU: what ties the item to stock. Empty when the marketplace has none for it
    #: (an offer made without one): the item is kept, but no unit can be locked for it.
    sku: str
    listing_ref: str | None
    quantity: int
    unit_price: Decimal
    status: Status
    marketplace_state: str
    #: when the unit left the seller (shipped, or returned after shipping), as the marketplace
    #: says; None when it does not say. The stock compares it with the SKU's shelf count: a unit
    #: that left before the count is not in it. Without one, the sync takes the time it first saw
    #: the item shipped, or, for an item it never saw open, its order's ``created_at``, the
    #: earliest the unit can have left (``sync.order_writer.shipped_at``).
    shipped_at: datetime | None = None

    @property
    def has_sku(self) -> bool:
        return bool(self.sku.strip())


@dataclass(frozen=True)
class Order:
    reference: str
    status: Status
    marketplace_state: str
    currency: str
    total_price: Decimal
    created_at: datetime
    modified_at: datetime
    items: tuple[OrderItem, ...]
    delivery_note_url: str | None = None
    label_url: str | None = None
    tracking_number: str | None = None

    def with_items(self, items: Sequence[OrderItem], **changes: Any) -> Order:
        return replace(self, items=tuple(items), **changes)


@dataclass(frozen=True)
class OrderDocuments:
    """The document and tracking fields that the incomplete sync fills in."""

    delivery_note_url: str | None
    label_url: str | None
    tracking_number: str | None


#: an order's document fields (on ``Order`` and ``OrderDocuments`` alike): filled in over time
DOCUMENT_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(OrderDocuments))


@dataclass(frozen=True)
class CareRecord:
    """An after-sales folder, naming the order item it is about."""

    care_id: str
    item_reference: str
    order_reference: str | None
    state: str
    modified_at: datetime | None
    raw: dict[str, Any]


@dataclass(frozen=True)
class RecordError:
    """A payload that could not be turned into a record: synced as an error, the rest goes on."""

    reference: str | None
    error: str
    raw: Any


@dataclass(frozen=True, slots=True)
class ListedOrder:
    """An order as a listing sent it, not parsed yet.

    Parsing is most of what reading an order costs, and a re-sync mostly reads orders it already
    holds: the sync compares ``digest`` (of the order's payload) with the one it stored and calls
    ``read`` only for the orders that differ.
    """

    #: the order's id as the payload gives it (``None`` if it has none worth naming)
    reference: str | None
    #: equal digests, equal payloads: what the adapter makes of one is what it made of the other
    digest: str
    #: the parsed order, or the error that says why the payload is not one
    read: Callable[[], Order | RecordError]


@dataclass
class Page:
    """One page of a listing: the records parsed from it and the ones that failed."""

    orders: list[Order] = field(default_factory=list)
    errors: list[RecordError] = field(default_factory=list)
    care: list[CareRecord] = field(default_factory=list)
    #: the listing could not read this page and went on past it: what it held is unknown, so a
    #: window that covered it must be read again (its cursor is not moved on).
    incomplete: bool = False
    #: orders handed out unparsed (when the caller asked for them so)
    listed: list[ListedOrder] = field(default_factory=list)

    @property
    def records(self) -> int:
        return len(self.orders) + len(self.listed) + len(self.care) + len(self.errors)

    def parsed(self) -> Page:
        """This page with its listed orders read: into ``orders``, or ``errors`` if they do not parse."""
        for listed in self.listed:
            record = listed.read()
            (self.errors if isinstance(record, RecordError) else self.orders).append(record)
        self.listed = []
        return self


@dataclass(frozen=True)
class AcceptResult:
    item_reference: str
    ok: bool
    error: str | None = None


class ListingKind(enum.StrEnum):
    """What a listing reference names: the marketplace's own listing (offer) id, or the offer's
    SKU. The stock file says which; nothing guesses it from the reference's characters."""

    ID = "id"
    SKU = "sku"


@dataclass(frozen=True)
class StockUpdate:
    listing_ref: str
    sku: str
    quantity: int
    listing_kind: ListingKind = ListingKind.ID


@dataclass(frozen=True)
class StockResult:
    listing_ref: str
    ok: bool
    quantity: int | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class MarketListing:
    """A listing as its marketplace shows it now (reconciliation reads every one back)."""

    #: every id the marketplace knows the listing by (Back Market: its listing id and its UUID;
    #: Refurbed: the offer id): a ``marketplace_stock`` row named by any of them is this listing
    ids: tuple[str, ...]
    #: the seller's SKU on the listing ("" if it has none)
    sku: str
    quantity: int
    #: what a person calls it (the product title)
    name: str = ""


@dataclass
class ListingPage:
    """One page of a marketplace's listings."""

    listings: list[MarketListing] = field(default_factory=list)
    #: the reading could not vouch for being whole (a page lost, a listing that kept shifting):
    #: a listing not seen may still be there, so nothing may be called missing
    incomplete: bool = False
    #: listings of the page that could not be read, as "id: why"
    errors: list[str] = field(default_factory=list)

    def unread(self, error: str) -> None:
        """A listing of the page could not be read: the page cannot vouch for being whole."""
        self.errors.append(error)
        self.incomplete = True

    def take(self, listing: MarketListing | None, error: str) -> MarketListing | None:
        """Add ``listing``, or note ``error`` if it could not be read (``None``)."""
        if listing is None:
            self.unread(error)
        else:
            self.listings.append(listing)
        return listing


@dataclass(frozen=True)
class ConnectionCheck:
    """What one cheap request that needs the token showed: the marketplace answered and took it."""

    #: the marketplace's clock, from its ``Date`` header (``None`` if it sent none)
    server_time: datetime | None
    #: this machine's clock when the answer came
    local_time: datetime

    @classmethod
    def from_date_header(cls, date: str | None) -> ConnectionCheck:
        local = datetime.now(UTC)
        try:
            server = parsedate_to_datetime(date) if date else None
        except (TypeError, ValueError):
            server = None
        return cls(server_time=server, local_time=local)

    @property
    def clock_skew(self) -> timedelta | None:
        """Say how far the marketplace's clock is ahead of ours (negative: behind)."""
        return None if self.server_time is None else self.server_time - self.local_time


class MarketplaceError(Exception):
    """A failure that stops a marketplace's sync: unreachable, refused credentials, a bad answer.

    Messages never contain the token.
    """


class MalformedAnswer(MarketplaceError):
    """A 2xx answer whose body is not what the API sends (not JSON, cut short), after retries."""

    def __init__(self, message: str, excerpt: str) -> None:
        super().__init__(message)
        #: the start of the body, for the error record (never holds the token: callers clean it)
        self.excerpt = excerpt


class AuthenticationError(MarketplaceError):
    pass


class NotSupported(MarketplaceError):
    pass


@dataclass(frozen=True)
class MarketplaceConfig:
    """What an adapter needs of its marketplace row, with the token already read from the environment."""

    id: int
    code: str
    kind: str
    base_url: str
    token: str = field(repr=False)
    locale: str = "fr-fr"
    settings: dict[str, Any] = field(default_factory=dict)


class MarketplaceAdapter(abc.ABC):
    """What the sync and stock code ask of a marketplace."""

    #: the sync types this marketplace supports; the others report "not supported" and succeed.
    supported_sync_types: frozenset[SyncType] = frozenset(ALL_SYNC_TYPES)

    def __init__(self, config: MarketplaceConfig) -> None:
        self.config = config

    #: the document fields an order of this marketplace gets in time; the incomplete sync chases
    #: recent orders that still miss one of them.
    document_fields: tuple[str, ...] = ("delivery_note_url", "label_url")

    #: the most orders this marketplace hands out in one page
    max_page_size: int = 100

    def supports(self, sync_type: SyncType) -> bool:
        return sync_type in self.supported_sync_types

    @classmethod
    def page_size(cls, requested: int) -> int:
        """Fit ``requested`` to this marketplace: at least 1, at most its
        ``max_page_size``. The one place a page size is fitted to a marketplace."""
        return max(1, min(int(requested), cls.max_page_size))

    @abc.abstractmethod
    def iter_new_orders(self, page_size: int, *, unparsed: bool = False) -> Iterator[Page]:
        """Read the orders waiting for the seller (paid, lines to accept), page by page.

        With ``unparsed``, an adapter may hand orders out as ``Page.listed`` (read on demand)."""

    #: a marketplace that cannot list "modified since" is handed the references of the orders the
    #: database still holds open, to read them again by reference.
    modified_needs_open_orders: bool = False

    @abc.abstractmethod
    def iter_modified_orders(
        self, since: datetime, page_size: int, open_references: Sequence[str] = (), *, unparsed: bool = False
    ) -> Iterator[Page]:
        """Read the orders that may have changed on or after ``since``, page by page (``unparsed``: as above)."""

    @abc.abstractmethod
    def get_order(self, reference: str) -> Order:
        """Read one order by reference; ``ValueError`` if its payload cannot be parsed.

        No sync type needs it (each reads listings); it is for reading back one order a
        marketplace names on its own, such as one its notification is about."""

    def get_orders(self, references: Sequence[str]) -> Page:
        """Several orders by reference, as few requests as the marketplace allows (here one each).

        An order the marketplace does not know is left out of the page; one that does not parse
        is in its ``errors``."""
        page = Page()
        for reference in references:
            try:
                page.orders.append(self.get_order(reference))
            except ValueError as exc:
                page.errors.append(RecordError(reference, str(exc), raw=None))
        return page

    @abc.abstractmethod
    def get_documents(self, reference: str) -> OrderDocuments:
        """Read the delivery note, label and tracking the marketplace has for an order now."""

    @abc.abstractmethod
    def accept_items(self, order: Order, items: Sequence[OrderItem]) -> list[AcceptResult]:
        """Accept ("validate") paid items at the marketplace. Results in the order of ``items``."""

    def accept_orders(self, waiting: Sequence[tuple[Order, Sequence[OrderItem]]]) -> list[list[AcceptResult]]:
        """Accept the paid items of many orders: for each order, its items' results in their order.

        Order by order here; a marketplace that accepts the items of several orders in one call
        sends them so."""
        return [self.accept_items(order, items) for order, items in waiting]

    def accepted(self, order: Order, accepted_refs: set[str]) -> Order:
        """Give the order as it stands once ``accepted_refs`` were accepted (without asking again)."""
        items = [
            replace(i, status=Status.ACCEPTED, marketplace_state=self.accepted_state)
            if i.reference in accepted_refs
            else i
            for i in order.items
        ]
        open_left = any(i.status in (Status.PAID, Status.PENDING_PAYMENT) for i in items)
        if open_left or not accepted_refs:
            return order.with_items(items)
        return order.with_items(items, status=Status.ACCEPTED, marketplace_state=self.accepted_order_state)

    #: the marketplace's own state codes for an accepted item and a fully accepted order.
    accepted_state: str = "accepted"
    accepted_order_state: str = "accepted"

    def iter_care_records(self, since: datetime | None) -> Iterator[Page]:
        raise NotSupported(f"{self.config.code} has no care records")

    #: how this marketplace lets a listing be named when its stock is set
    listing_kinds: frozenset[ListingKind] = frozenset({ListingKind.ID})

    @classmethod
    def listing_problem(cls, kind: ListingKind, listing_ref: str) -> str | None:
        """Why ``listing_ref`` of ``kind`` cannot name a listing here, or None if it can."""
        if kind not in cls.listing_kinds:
            named = " or ".join(sorted(f"its {k}" for k in cls.listing_kinds))
            return f"a listing of this marketplace is named by {named}, not by its {kind}"
        if not listing_ref.strip():
            return "the listing reference is empty"
        return None

    @abc.abstractmethod
    def check_connection(self) -> ConnectionCheck:
        """Make one cheap read that needs the token, paced and retried like any other request.

        Raises ``AuthenticationError`` if the token is refused, ``MarketplaceError`` if the
        marketplace cannot be reached or answers with an error."""

    @abc.abstractmethod
    def push_stock(self, updates: Sequence[StockUpdate]) -> list[StockResult]:
        """Set listing quantities, each listing named as its ``listing_kind`` says. Results in
        the order of ``updates``."""

    #: SKU lines of stock updates the marketplace takes an hour (None: no published limit)
    stock_lines_per_hour: int | None = None

    def iter_listings(self) -> Iterator[ListingPage]:
        """Every listing of the account with its quantity now, page by page (memory stays flat)."""
        raise NotSupported(f"{self.config.code} cannot list its listings")

    def read_listings(self, refs: Sequence[tuple[ListingKind, str]]) -> Iterator[ListingPage]:
        """The listings named by ``refs`` (kind, reference), read again now; one not found is left out.

        Here by reading every listing; an adapter that can ask for a few by name does so."""
        ids = {ref for kind, ref in refs if kind == ListingKind.ID}
        skus = {ref for kind, ref in refs if kind == ListingKind.SKU}
        for page in self.iter_listings():
            wanted = [x for x in page.listings if x.sku in skus or not ids.isdisjoint(x.ids)]
            yield ListingPage(wanted, page.incomplete, page.errors)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
