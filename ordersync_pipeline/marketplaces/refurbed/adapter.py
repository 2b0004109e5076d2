"""The Refurbed adapter: the merchant API (gRPC over a JSON gateway) turned into normalised records.

Choices read from Refurbed's Swagger document:

- an order item has no quantity: it is one unit, so ``quantity`` is 1 and ``unit_price`` is the
  item's ``total_charged`` ("the total amount the customer was charged for this item", which
  stays put when the item is refunded, unlike ``total_paid``); the order's ``total_charged`` is
  the normalised ``total_price``;
- ``listing_ref`` is the item's ``offer_data.offer_id``: ``BatchUpdateOffers`` identifies an offer
  by id (or by SKU), and the id is what an order names;
- an order's only time is ``released_at`` (when Refurbed released it to the merchant): it is both
  ``created_at`` and ``modified_at``, since nothing in the document says when an order last changed;
- there is no delivery note or label on an order: the document the incomplete sync chases is the
  items' ``parcel_tracking_url``, kept in ``tracking_number``;
- nothing says when an item shipped (no time on an item or order but ``released_at``): its
  ``shipped_at`` is left to the sync, which takes the time it first saw the item shipped;
- an offer is named by id or by SKU (``OfferIdentifier``), as the stock file says;
- Refurbed has no care records and no "modified since" filter (see ``iter_modified_orders``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from pydantic import ValidationError

from ordersync_pipeline.marketplaces.base import (
    AcceptResult,
    AuthenticationError,
    ConnectionCheck,
    ListingKind,
    ListingPage,
    MalformedAnswer,
    MarketListing,
    MarketplaceAdapter,
    MarketplaceConfig,
    MarketplaceError,
    Order,
    OrderDocuments,
    OrderItem,
    Page,
    RecordError,
    StockResult,
    StockUpdate,
    SyncType,
)
from ordersync_pipeline.marketplaces.parsing import as_utc, describe, parse_orders, payload_id, validated
from ordersync_pipeline.marketplaces.refurbed.client import RefurbedClient, rpc_name
from ordersync_pipeline.marketplaces.refurbed.models import (
    OPEN_ORDER_STATES,
    ORDER_STATUS,
    RBOrder,
)

log = logging.getLogger(__name__)

MAX_PAGE_SIZE = 100  # documented maximum of `pagination.limit`
E = TypeVar("E")
R = TypeVar("R")
MAX_BATCH = 50  # documented maximum of updates per Batch* call
ACCEPTED = "ACCEPTED"
#: how far back the modified sync re-reads orders released before its window, in days (setting
#: ``recheck_days``): an order read while open and closed since (shipped, cancelled) has left the
#: open states, and is only seen again through its release date.
DEFAULT_RECHECK_DAYS = 14
_ID = re.compile(r"^\d{1,19}$")


def _reference(raw: Any) -> str | None:
    return payload_id(raw, "id")


def _tracking(rb: RBOrder) -> str | None:
    return rb.tracking()


def parse_order(raw: Any) -> Order:
    """Parse one Refurbed order into a normalised ``Order``; ``ValueError`` naming the fields if it
    cannot be."""
    rb = validated(RBOrder, raw, "order", "id")
    items = tuple(
        OrderItem(
            reference=item.id,
            sku=item.sku,
            listing_ref=item.offer_id,
            quantity=1,
            unit_price=item.total_charged,
            status=item.status,
            marketplace_state=item.state,
        )
        for item in rb.items
    )
    return Order(
        reference=rb.id,
        status=ORDER_STATUS[rb.state],
        marketplace_state=rb.state,
        currency=rb.currency_code,
        total_price=rb.total_charged,
        created_at=rb.released_at,
        modified_at=rb.released_at,
        items=items,
        tracking_number=_tracking(rb),
    )


class RefurbedAdapter(MarketplaceAdapter):
    supported_sync_types = frozenset({SyncType.NEW, SyncType.MODIFIED, SyncType.INCOMPLETE})
    document_fields = ("tracking_number",)
    max_page_size = MAX_PAGE_SIZE
    accepted_state = ACCEPTED
    accepted_order_state = ACCEPTED
    listing_kinds = frozenset({ListingKind.ID, ListingKind.SKU})

    @classmethod
    def listing_problem(cls, kind: ListingKind, listing_ref: str) -> str | None:
        problem = super().listing_problem(kind, listing_ref)
        if problem is None and kind == ListingKind.ID and not _ID.match(listing_ref.strip()):
            return f"Refurbed offer ids are integers, not {listing_ref!r} (a SKU is named as one)"
        return problem

    def __init__(self, config: MarketplaceConfig) -> None:
        super().__init__(config)
        self.client = RefurbedClient(config)
        self.recheck = timedelta(days=float(config.settings.get("recheck_days", DEFAULT_RECHECK_DAYS)))

    def __repr__(self) -> str:
        return f"RefurbedAdapter(code={self.config.code!r}, base_url={self.config.base_url!r})"

    # -- orders ---------------------------------------------------------------------------------

    def iter_new_orders(self, page_size: int, *, unparsed: bool = False) -> Iterator[Page]:
        """Orders with at least one item NEW (waiting for the merchant).

        Orders are always handed out parsed (``unparsed`` is not used): Refurbed's listings are
        short (open orders, a recent window), so there is little a digest would spare."""
        yield from self._order_pages({"state": {"any_of": ["NEW"]}}, page_size)

    #: Refurbed cannot list "modified since": the orders the database holds open are read again.
    modified_needs_open_orders = True

    def iter_modified_orders(
        self, since: datetime, page_size: int, open_references: Sequence[str] = (), *, unparsed: bool = False
    ) -> Iterator[Page]:
        """Refurbed cannot say what changed: re-read what may have, and let the diff tell.

        First every order still open (NEW or ACCEPTED), whatever its age; then the orders the
        database still holds open that are not open here any more (they closed, however long
        ago they were released), by id; then every other order released since ``since``, or
        within ``recheck_days``, whichever is earlier. An order read twice comes newest last.
        """
        seen: set[str] = set()
        for page in self._order_pages({"state": {"any_of": list(OPEN_ORDER_STATES)}}, page_size):
            seen.update(order.reference for order in page.orders)
            yield page
        closed = [ref for ref in open_references if ref not in seen and _ID.match(ref)]
        for start in range(0, len(closed), MAX_PAGE_SIZE):
            yield from self._order_pages({"id": {"any_of": closed[start : start + MAX_PAGE_SIZE]}}, page_size)
        start = min(as_utc(since), datetime.now(UTC) - self.recheck)
        # Fractions of a second are dropped (rounding down): the window can only widen.
        stamp = start.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
        closed = {"state": {"none_of": list(OPEN_ORDER_STATES)}, "released_at": {"ge": stamp}}
        yield from self._order_pages(closed, page_size)

    def check_connection(self) -> ConnectionCheck:
        # The smallest read that needs the token: a list of at most one order.
        _, answer = self.client.exchange("OrderService/ListOrders", {"pagination": {"limit": 1}}, repeatable=True)
        return ConnectionCheck.from_date_header(answer.headers.get("Date"))

    def get_order(self, reference: str) -> Order:
        return parse_order(self._get_raw(reference))

    def get_orders(self, references: Sequence[str]) -> Page:
        """ListOrders by id, up to 100 orders a request (the notified orders of a burst in one call)."""
        page = Page()
        ids = [ref for ref in dict.fromkeys(references) if _ID.match(ref)]
        page.errors.extend(
            RecordError(ref, f"Refurbed order ids are integers, not {ref!r}", raw=None)
            for ref in references
            if not _ID.match(ref)
        )
        for start in range(0, len(ids), MAX_PAGE_SIZE):
            chunk = {"id": {"any_of": ids[start : start + MAX_PAGE_SIZE]}}
            for part in self._order_pages(chunk, MAX_PAGE_SIZE):
                page.orders.extend(part.orders)
                page.errors.extend(part.errors)
        return page

    def get_documents(self, reference: str) -> OrderDocuments:
        raw = self._get_raw(reference)
        try:
            tracking = _tracking(RBOrder.model_validate(raw))
        except ValidationError as exc:
            raise ValueError(f"order {reference}: {describe(exc)}") from None
        return OrderDocuments(delivery_note_url=None, label_url=None, tracking_number=tracking)

    def _get_raw(self, reference: str) -> Any:
        answer = self.client.call("OrderService/GetOrder", {"id": _order_id(reference)}, repeatable=True)
        if not isinstance(answer, dict) or not isinstance(answer.get("order"), dict):
            raise MarketplaceError(f"{self.config.code}: Refurbed answered GetOrder {reference} without an order")
        return answer["order"]

    def accept_items(self, order: Order, items: Sequence[OrderItem]) -> list[AcceptResult]:
        """Move items to ACCEPTED, up to 50 a call, never resent: each item's outcome is reported."""
        return self._accept(items)

    def accept_orders(self, waiting: Sequence[tuple[Order, Sequence[OrderItem]]]) -> list[list[AcceptResult]]:
        """The items of every order in one list, so that a call carries up to 50 of them whatever
        the orders they belong to (an item id names its order); results handed back per order."""
        results = iter(self._accept([item for _, items in waiting for item in items]))
        return [[next(results) for _ in items] for _, items in waiting]

    def _accept(self, items: Sequence[OrderItem]) -> list[AcceptResult]:
        results: dict[int, AcceptResult] = {}
        to_send: list[tuple[int, OrderItem]] = []
        for n, item in enumerate(items):
            if _ID.match(item.reference):
                to_send.append((n, item))
            else:
                error = f"Refurbed order item ids are integers, not {item.reference!r}"
                results[n] = AcceptResult(item.reference, ok=False, error=error)
        results.update(
            self._in_batches(
                to_send,
                "OrderItemService/BatchUpdateOrderItemsState",
                lambda chunk: {"updates": [{"id": item.reference, "state": ACCEPTED} for item in chunk]},
                repeatable=False,
                failed=lambda item, error: AcceptResult(item.reference, ok=False, error=error),
                answered=lambda item, result: AcceptResult(item.reference, *self._outcome(result)),
            )
        )
        return [results[n] for n in range(len(items))]

    # -- stock ----------------------------------------------------------------------------------

    def push_stock(self, updates: Sequence[StockUpdate]) -> list[StockResult]:
        """Set each offer's stock, up to 50 a call; an absolute stock is safe to resend, so it is retried.

        An offer is named by its id or by its SKU, as ``listing_kind`` says.
        """
        results: dict[int, StockResult] = {}
        to_send: list[tuple[int, StockUpdate]] = []
        for n, update in enumerate(updates):
            problem = self.listing_problem(update.listing_kind, str(update.listing_ref))
            if update.quantity < 0 or problem:
                problem = problem or f"quantity {update.quantity}"
                error = f"{self.config.code}: not sent: {problem} ({update.listing_ref!r})"
                results[n] = StockResult(update.listing_ref, ok=False, error=error)
            else:
                to_send.append((n, update))
        results.update(
            self._in_batches(
                to_send,
                "OfferService/BatchUpdateOffers",
                lambda chunk: {"offers": [{"identifier": _offer_identifier(u), "stock": u.quantity} for u in chunk]},
                repeatable=True,
                failed=lambda update, error: StockResult(update.listing_ref, ok=False, error=error),
                answered=self._stock_result,
            )
        )
        return [results[n] for n in range(len(updates))]

    def _stock_result(self, update: StockUpdate, result: Any) -> StockResult:
        ok, error = self._outcome(result)
        quantity = _stock(result, update) if ok else None
        return StockResult(update.listing_ref, ok=ok, quantity=quantity, error=error)

    def _in_batches(
        self,
        entries: list[tuple[int, E]],
        rpc: str,
        body: Callable[[list[E]], dict[str, Any]],
        repeatable: bool,
        failed: Callable[[E, str], R],
        answered: Callable[[E, Any], R],
    ) -> dict[int, R]:
        """Send ``entries`` (each with its place in the caller's list) to ``rpc``, ``MAX_BATCH`` a
        call; return each one's result by its place: ``answered`` with the entry's part of the
        answer, or ``failed`` with why the call failed. Credentials refused once are refused for
        every entry: the rest are not sent."""
        results: dict[int, R] = {}
        refused: str | None = None
        for start in range(0, len(entries), MAX_BATCH):
            chunk = entries[start : start + MAX_BATCH]
            if refused is not None:
                results.update((n, failed(entry, refused)) for n, entry in chunk)
                continue
            try:
                answer = self.client.call(rpc, body([entry for _, entry in chunk]), repeatable=repeatable)
            except AuthenticationError as exc:
                refused = str(exc)
                results.update((n, failed(entry, refused)) for n, entry in chunk)
                continue
            except MarketplaceError as exc:
                results.update((n, failed(entry, str(exc))) for n, entry in chunk)
                continue
            answers = _results(answer)
            for k, (n, entry) in enumerate(chunk):
                results[n] = answered(entry, answers[k] if k < len(answers) else None)
        return results

    # -- listings read back ---------------------------------------------------------------------

    def iter_listings(self) -> Iterator[ListingPage]:
        """``ListOffers``, 100 a page, sorted by id, each page starting after the last id of the one
        before: an offer created or deleted while it is read moves no other."""
        yield from self._offer_pages({})

    def read_listings(self, refs: Sequence[tuple[ListingKind, str]]) -> Iterator[ListingPage]:
        """``ListOffers`` filtered by the offers' ids or SKUs, 100 a call."""
        ids = [ref for kind, ref in refs if kind == ListingKind.ID and _ID.match(ref.strip())]
        skus = [ref for kind, ref in refs if kind == ListingKind.SKU]
        for name, values in (("id", ids), ("sku", skus)):
            for start in range(0, len(values), MAX_PAGE_SIZE):
                yield from self._offer_pages({name: {"any_of": values[start : start + MAX_PAGE_SIZE]}})

    def _offer_pages(self, filter_: dict[str, Any]) -> Iterator[ListingPage]:
        for raws in self._cursor_pages("OfferService/ListOffers", "offers", filter_, MAX_PAGE_SIZE, "a page"):
            page = ListingPage()
            for raw in raws:
                page.take(_market_listing(raw), f"an offer without an id or a stock: {str(raw)[:200]}")
            yield page

    def close(self) -> None:
        self.client.close()

    # -- helpers --------------------------------------------------------------------------------

    def _order_pages(self, filter_: dict[str, Any], page_size: int) -> Iterator[Page]:
        """ListOrders page by page, sorted by id, each page starting after the last id of the one before."""
        for raws in self._cursor_pages("OrderService/ListOrders", "orders", filter_, self.page_size(page_size)):
            yield self._order_page(raws)

    def _cursor_pages(
        self, rpc: str, key: str, filter_: dict[str, Any], limit: int, unreadable: str | None = None
    ) -> Iterator[list[Any]]:
        """The ``key`` list of each page of a List RPC sorted by id, each page starting after the last
        id of the one before; ``unreadable`` names a page that cannot be read (default: by position)."""
        method = rpc.rsplit("/", 1)[-1]
        after: str | None = None
        while True:
            pagination: dict[str, Any] = {"limit": limit}
            if after is not None:
                pagination["starting_after"] = after
            body = {"filter": filter_, "pagination": pagination, "sort": {"by": "ID", "order": "ASC"}}
            try:
                answer = self.client.call(rpc, body, repeatable=True)
            except MalformedAnswer as exc:
                # Unlike numbered pages, a cursor page cannot be skipped: the next one starts
                # after its last id, which only its body says.
                where = unreadable or (f"the page after {key[:-1]} {after}" if after else "the first page")
                raise MarketplaceError(
                    f"{exc}: {where} of {method} cannot be read, and a cursor listing cannot go on past it"
                ) from None
            if not isinstance(answer, dict) or not isinstance(answer.get(key, []), list):
                raise MarketplaceError(f"{self.config.code}: Refurbed answered {method} without a list of {key}")
            raws = answer.get(key) or []
            yield raws
            last = _reference(raws[-1]) if raws else None
            if not answer.get("has_more") or not raws:
                return
            if last is None or not _ID.match(last) or (after is not None and int(last) <= int(after)):
                # Without a usable last id there is no way to ask for the next page without looping.
                raise MarketplaceError(f"{self.config.code}: Refurbed's {method} page ends without a usable id")
            after = last

    def _order_page(self, raws: list[Any]) -> Page:
        page = parse_orders(raws, parse_order, _reference)
        if page.errors:
            log.warning("%s: %d order(s) of a page did not parse", self.config.code, len(page.errors))
        return page

    def _outcome(self, result: Any) -> tuple[bool, str | None]:
        """(ok, error) of one result of a Batch* answer: its ``status`` is a google.rpc.Status."""
        if not isinstance(result, dict):
            return False, f"{self.config.code}: Refurbed gave no result for this update"
        status = result.get("status") or {}
        # proto3 JSON may leave out a zero code: a status without a code is OK.
        code = status.get("code", 0) if isinstance(status, dict) else None
        if code == 0:
            return True, None
        message = status.get("message") if isinstance(status, dict) else None
        text = f"{self.config.code}: Refurbed refused it: {rpc_name(code)}" + (f": {message}" if message else "")
        return False, text


def _market_listing(raw: Any) -> MarketListing | None:
    """An ``Offer`` as a ``MarketListing``, or None without an id or a stock (int64: a string or a number)."""
    offer_id = _reference(raw)
    if offer_id is None:
        return None
    # proto3 JSON leaves out a field at its zero value: an offer without a stock has none.
    stock = raw.get("stock", 0)
    if isinstance(stock, str) and stock.strip().isdigit():
        stock = int(stock)
    if isinstance(stock, bool) or not isinstance(stock, int) or stock < 0:
        return None
    sku = raw.get("sku") if isinstance(raw.get("sku"), str) else ""
    name = raw.get("instance_name") if isinstance(raw.get("instance_name"), str) else ""
    return MarketListing(ids=(offer_id,), sku=sku, quantity=stock, name=name or sku)


def _results(answer: Any) -> list[Any]:
    results = answer.get("results") if isinstance(answer, dict) else None
    return results if isinstance(results, list) else []


def _order_id(reference: str) -> str:
    reference = str(reference).strip()
    if not _ID.match(reference):
        raise ValueError(f"Refurbed order ids are integers, not {reference!r}")
    return reference


def _offer_identifier(update: StockUpdate) -> dict[str, str]:
    """``OfferIdentifier``: the offer's ``id`` or its ``sku``, as the listing is named."""
    ref = str(update.listing_ref).strip()
    return {"sku": ref} if update.listing_kind == ListingKind.SKU else {"id": ref}


def _stock(result: dict[str, Any], update: StockUpdate) -> int:
    """The stock Refurbed says the offer now has, or the one sent if it does not say."""
    offer = result.get("offer")
    stock = offer.get("stock") if isinstance(offer, dict) else None
    # int64 may come as a string (proto3 JSON) or a number.
    if isinstance(stock, str) and stock.isdigit():
        return int(stock)
    if isinstance(stock, int) and not isinstance(stock, bool):
        return stock
    return update.quantity
