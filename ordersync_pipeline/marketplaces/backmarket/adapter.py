"""The Back Market adapter: the seller "ws" API turned into ordersync's normalised records.

Choices read from Back Market's OpenAPI document:

- an orderline's ``price`` is the unit price ("Unitary price (including taxes) of the Listing
  without shipping costs", Table 9), so it is the item's ``unit_price`` as is;
- an order's ``price`` is the order total without shipping and ``shipping_price`` the shipping
  total, so the normalised ``total_price`` is their sum: what the customer pays;
- orders have no label: labels come from BackShip deliveries (``labelUrl``);
- a shipped or returned line left when its order did: ``date_shipping`` is its ``shipped_at``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any, TypeVar
from urllib.parse import quote

import orjson
from pydantic import ValidationError

from ordersync_pipeline.marketplaces.backmarket.catalog import ListingReader
from ordersync_pipeline.marketplaces.backmarket.client import BackMarketClient
from ordersync_pipeline.marketplaces.backmarket.models import (
    ORDER_STATUS,
    UNION_TAGS,
    BMCareFolder,
    BMDelivery,
    BMOrder,
)
from ordersync_pipeline.marketplaces.backmarket.paging import DEFAULT_REREADS, Fetched, Pager, envelope_count
from ordersync_pipeline.marketplaces.base import (
    LEFT_STATUSES,
    AcceptResult,
    AuthenticationError,
    CareRecord,
    ConnectionCheck,
    ListedOrder,
    ListingKind,
    ListingPage,
    MalformedAnswer,
    MarketplaceAdapter,
    MarketplaceConfig,
    MarketplaceError,
    Order,
    OrderDocuments,
    OrderItem,
    Page,
    RecordError,
    Status,
    StockResult,
    StockUpdate,
)
from ordersync_pipeline.marketplaces.parsing import as_utc, blank_to_none, parse_orders, payload_id, validated

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")

MAX_PAGE_SIZE = 50  # documented maximum of `page-size`
ACCEPT_STATE = 2  # orderline state "accepted" ("validated")
_ENDED = frozenset({Status.CANCELLED, Status.REFUNDED, Status.RETURNED})


def _reference(raw: Any, key: str = "order_id") -> str | None:
    return payload_id(raw, key)


def order_status(bm: BMOrder) -> Status:
    """The order's status: its state, unless every line has ended without shipping or was refunded.

    Back Market's order states have no code for a cancelled or refunded order: 9 ("processed")
    covers every final end, so the lines say which end it was.
    """
    line_statuses = {line.status for line in bm.orderlines}
    if line_statuses <= _ENDED:
        # Mixed ends: a unit that left (returned) outweighs a refund, which outweighs a cancellation.
        for status in (Status.RETURNED, Status.REFUNDED, Status.CANCELLED):
            if status in line_statuses:
                return status
    return ORDER_STATUS[bm.state]


def parse_order(raw: Any) -> Order:
    """Parse one Back Market order into a normalised ``Order``; ``ValueError`` naming the fields if
    it cannot be."""
    return to_order(validated(BMOrder, raw, "order", "order_id", UNION_TAGS))


def to_order(bm: BMOrder) -> Order:
    """A validated Back Market order as a normalised ``Order``."""
    items = tuple(
        OrderItem(
            reference=str(line.id),
            sku=line.listing or "",
            listing_ref=None if line.listing_id in (None, "") else str(line.listing_id),
            quantity=line.quantity,
            unit_price=line.price,
            status=line.status,
            marketplace_state=str(line.state),
            shipped_at=bm.date_shipping if line.status in LEFT_STATUSES else None,
        )
        for line in bm.orderlines
    )
    return Order(
        reference=str(bm.order_id),
        status=order_status(bm),
        marketplace_state=str(bm.state),
        currency=bm.currency,
        total_price=bm.price + (bm.shipping_price or Decimal(0)),
        created_at=bm.date_creation,
        modified_at=bm.date_modification,
        items=items,
        delivery_note_url=bm.delivery_note,
        label_url=None,
        tracking_number=bm.tracking_number,
    )


#: every digest is of this and the payload: change it when ``to_order`` makes something else of the
#: same payload, so that no stored digest matches and every order is read again, once.
DIGEST_PERSON = b"bm-order-v2"


def listed_order(raw: dict[str, Any]) -> ListedOrder:
    """An order of a listing, unparsed: its compact JSON and the digest of it (of the order as it
    came, which is all the parser sees)."""
    # An exact copy: the bytes orjson returns keep all the room it reserved, several times their length.
    payload = memoryview(orjson.dumps(raw)).tobytes()
    digest = hashlib.blake2b(payload, digest_size=16, person=DIGEST_PERSON).hexdigest()
    return ListedOrder(reference=_reference(raw), digest=digest, read=partial(read_order, payload))


def read_order(payload: bytes) -> Order | RecordError:
    """A listed order parsed; the error that names its fields if it does not parse."""
    try:
        return to_order(BMOrder.model_validate_json(payload))
    except ValidationError:
        # Read it the way a lone order is read, for the error that names the fields.
        raw = json.loads(payload, parse_float=Decimal)
        try:
            return parse_order(raw)
        except ValueError as exc:
            return RecordError(reference=_reference(raw), error=str(exc), raw=raw)


def money_is_exact(raw: dict[str, Any]) -> bool:
    """Whether no amount of ``raw`` was read as a float.

    Back Market sends amounts as strings. One sent as a JSON number with a fraction has lost digits
    once read as a float, so its page is read again with exact decimals instead."""
    if isinstance(raw.get("price"), float) or isinstance(raw.get("shipping_price"), float):
        return False
    lines = raw.get("orderlines")
    if isinstance(lines, list):
        return not any(isinstance(line, dict) and isinstance(line.get("price"), float) for line in lines)
    return True


def parse_care_folder(raw: Any) -> CareRecord:
    folder = validated(BMCareFolder, raw, "care folder", "id", UNION_TAGS)
    return CareRecord(
        care_id=str(folder.id),
        item_reference=str(folder.orderline_id),
        order_reference=None if folder.order_id is None else str(folder.order_id),
        state="" if folder.state is None else str(folder.state),
        modified_at=folder.date_modification,
        raw=_json_safe(raw),
    )


def _json_safe(value: Any) -> Any:
    """The payload with JSON numbers that were read as Decimal written back as exact strings.

    Care folders are kept as they came, in a JSON column, which cannot hold a Decimal.
    """
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    return str(value) if isinstance(value, Decimal) else value


class BackMarketAdapter(MarketplaceAdapter):
    max_page_size = MAX_PAGE_SIZE
    accepted_state = str(ACCEPT_STATE)
    accepted_order_state = "3"  # all lines accepted, to ship
    #: "We might not accept more than 2k lines of SKUs to process per hour" (the document's
    #: data limitation, for listing updates)
    stock_lines_per_hour = 2000

    def __init__(self, config: MarketplaceConfig) -> None:
        super().__init__(config)
        self.client = BackMarketClient(config)
        rereads = (config.settings or {}).get("listing_rereads", DEFAULT_REREADS)
        self._pager = Pager(self.client, config.code, int(rereads))
        self._rereads = int(rereads)
        self._listing_reader: ListingReader | None = None

    @property
    def _listings(self) -> ListingReader:
        """The catalog's reader, made on first use: its budget's store is opened only by what reads listings."""
        if self._listing_reader is None:
            self._listing_reader = ListingReader(self.client, self.config, self._rereads)
        return self._listing_reader

    def __repr__(self) -> str:
        return f"BackMarketAdapter(code={self.config.code!r}, base_url={self.config.base_url!r})"

    # -- orders ---------------------------------------------------------------------------------

    def iter_new_orders(self, page_size: int, *, unparsed: bool = False) -> Iterator[Page]:
        params = {"state": 1, "page-size": self.page_size(page_size)}
        yield from self._order_pages(params, unparsed)

    def iter_modified_orders(
        self, since: datetime, page_size: int, open_references: Sequence[str] = (), *, unparsed: bool = False
    ) -> Iterator[Page]:
        # Back Market filters on date_modification itself: open_references are not needed.
        # Fractions of a second are dropped (rounding down): the filter is "on or after", so the
        # window can only widen.
        stamp = as_utc(since).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
        params = {"date_modification": stamp, "page-size": self.page_size(page_size)}
        yield from self._order_pages(params, unparsed)

    def _order_pages(self, params: dict[str, Any], unparsed: bool) -> Iterator[Page]:
        for fetched in self._pager.listing("ws/orders", params, self._orders_page, _lost_page, _shifted):
            yield fetched.items if unparsed else fetched.items.parsed()

    def get_order(self, reference: str) -> Order:
        return parse_order(self.client.get(f"ws/orders/{_order_id(reference)}"))

    def check_connection(self) -> ConnectionCheck:
        # The smallest read that needs the token: one order a page, of the orders waiting for the seller.
        answer = self.client.get_answer("ws/orders", {"state": 1, "page-size": 1})
        return ConnectionCheck.from_date_header(answer.headers.get("Date"))

    def get_documents(self, reference: str) -> OrderDocuments:
        raw = self.client.get(f"ws/orders/{_order_id(reference)}")
        raw = raw if isinstance(raw, dict) else {}
        note = _text(raw.get("delivery_note"))
        tracking = _text(raw.get("tracking_number"))
        label = None
        # Deliveries exist for BackShip orders only; an order that says it is not one has no label here.
        if raw.get("is_backship") is not False:
            label, delivery_tracking = self._delivery_documents(reference)
            tracking = tracking or delivery_tracking
        return OrderDocuments(delivery_note_url=note, label_url=label, tracking_number=tracking)

    def _delivery_documents(self, reference: str) -> tuple[str | None, str | None]:
        label = tracking = None
        params = {"order_id": _order_id(reference)}
        for results in self._pages("ws/shipping/v1/deliveries", params):
            for raw in results:
                try:
                    delivery = BMDelivery.model_validate(raw)
                except ValidationError:
                    log.warning("%s: a delivery of order %s does not parse", self.config.code, reference)
                    continue
                if label is None and delivery.labelUrl:
                    # The document's example is a path on Back Market's host: make it a usable URL.
                    label = delivery.labelUrl
                    if label.startswith("/"):
                        label = self.client.url(label)
                tracking = tracking or delivery.trackingNumber
            if label and tracking:
                break
        return label, tracking

    def accept_items(self, order: Order, items: Sequence[OrderItem]) -> list[AcceptResult]:
        """One POST per line, never repeated: each line's outcome is reported, the others go on."""
        try:
            order_id = _order_id(order.reference)
        except ValueError as exc:
            return [AcceptResult(item.reference, ok=False, error=str(exc)) for item in items]

        def accept(item: OrderItem) -> AcceptResult:
            if not item.has_sku:
                # Back Market names the line to accept by its SKU: without one it cannot be named.
                error = "no SKU to name it by: accept it in the Back Market back office"
                return AcceptResult(item.reference, ok=False, error=error)
            body = {"order_id": order_id, "new_state": ACCEPT_STATE, "sku": item.sku}
            self.client.post_once(f"ws/orders/{order_id}", body)
            return AcceptResult(item.reference, ok=True)

        return _until_refused(items, accept, lambda item, error: AcceptResult(item.reference, ok=False, error=error))

    # -- care -----------------------------------------------------------------------------------

    def iter_care_records(self, since: datetime | None) -> Iterator[Page]:
        params: dict[str, Any] = {}
        if since is not None:
            # Minutes only (rounded down): the window can only widen.
            params["last_modification_date"] = as_utc(since).strftime("%Y-%m-%d-%H-%M")
        pages = self._pager.listing("ws/sav", params, self._results_page, _lost_page, _shifted)
        for fetched in pages:
            if isinstance(fetched.items, Page):  # a page that could not be read
                yield fetched.items
                continue
            results, page = fetched.items, Page()
            for raw in results:
                try:
                    page.care.append(parse_care_folder(raw))
                except ValueError as exc:
                    page.errors.append(RecordError(reference=_reference(raw, "id"), error=str(exc), raw=raw))
            yield page

    # -- stock ----------------------------------------------------------------------------------

    def push_stock(self, updates: Sequence[StockUpdate]) -> list[StockResult]:
        """Set each listing's quantity; an absolute quantity is safe to resend, so it is retried."""

        def push(update: StockUpdate) -> StockResult:
            problem = self.listing_problem(update.listing_kind, str(update.listing_ref))
            if update.quantity < 0 or problem:
                problem = problem or f"quantity {update.quantity}"
                error = f"{self.config.code}: not sent: {problem} ({update.listing_ref!r})"
                return StockResult(update.listing_ref, ok=False, error=error)
            path = f"ws/listings/{quote(str(update.listing_ref), safe='')}"
            answer = self.client.post_idempotent(path, {"quantity": update.quantity})
            return StockResult(update.listing_ref, ok=True, quantity=_quantity(answer, update))

        return _until_refused(
            updates, push, lambda update, error: StockResult(update.listing_ref, ok=False, error=error)
        )

    def iter_listings(self) -> Iterator[ListingPage]:
        """``GET /ws/listings``, 50 a page, within the catalog's budget (``catalog``)."""
        return self._listings.iter_listings()

    def read_listings(self, refs: Sequence[tuple[ListingKind, str]]) -> Iterator[ListingPage]:
        """``GET /ws/listings/{id}`` for each, or every page again when that takes fewer requests."""
        return self._listings.read_listings(refs, super().read_listings)

    def close(self) -> None:
        if self._listing_reader is not None:
            self._listing_reader.close()
        self.client.close()

    # -- helpers --------------------------------------------------------------------------------

    def _pages(self, path: str, params: dict[str, Any]) -> Iterator[list[Any]]:
        """The ``results`` of each page, following the listing to its end."""
        for fetched in self._pager.listing(path, params, self._results_page):
            yield fetched.items

    def _envelope(self, content: bytes, where: str) -> tuple[dict[str, Any], list[Any]]:
        body = self.client.decode(content, where)
        if not isinstance(body, dict) or not isinstance(body.get("results"), list):
            path = where.split(" ", 1)[-1].split("?", 1)[0]
            raise MarketplaceError(f"{self.config.code}: Back Market answered GET {path} without a list of results")
        return body, body["results"]

    def _results_page(self, content: bytes, where: str) -> Fetched:
        body, results = self._envelope(content, where)
        return Fetched(results, body.get("next") or None, envelope_count(body), len(results), _keys(results, "id"))

    def _orders_page(self, content: bytes, where: str) -> Fetched:
        """A page of orders, each listed unparsed with the digest of its payload. A page that only
        Python's JSON reads (NaN, a huge integer) or with an amount sent as a number is read the
        exact way and parsed at once, order by order, so that one bad order costs only itself."""
        try:
            body = orjson.loads(content)
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("results"), list):
            return self._exact_orders_page(content, where)
        results = body["results"]
        if not all(money_is_exact(raw) for raw in results if isinstance(raw, dict)):
            return self._exact_orders_page(content, where)
        page = Page()
        for raw in results:
            if isinstance(raw, dict):
                page.listed.append(listed_order(raw))
            else:
                page.errors.extend(parse_orders([raw], parse_order, _reference).errors)
        return Fetched(page, body.get("next") or None, envelope_count(body), len(results), _keys(results))

    def _exact_orders_page(self, content: bytes, where: str) -> Fetched:
        body, results = self._envelope(content, where)
        page = parse_orders(results, parse_order, _reference)
        if page.errors:
            log.warning("%s: %d order(s) of a page did not parse", self.config.code, len(page.errors))
        return Fetched(page, body.get("next") or None, envelope_count(body), len(results), _keys(results))


def _lost_page(number: int, error: MalformedAnswer) -> Page:
    """A page skipped because its body stayed unreadable: an error record without a reference,
    keeping the start of the body, and a page marked incomplete."""
    message = f"page {number} skipped: {error}"
    return Page(errors=[RecordError(reference=None, error=message, raw=error.excerpt)], incomplete=True)


def _shifted(message: str) -> Page:
    """A listing that stayed short of its count after its re-readings: an error record without a
    reference, and a page marked incomplete, so that its window is read again."""
    return Page(errors=[RecordError(reference=None, error=message, raw=None)], incomplete=True)


def _keys(results: list[Any], key: str = "order_id") -> tuple[str, ...] | None:
    """The ids of a page's records, for checking the listing; None if one has none."""
    keys = tuple(_reference(raw, key) for raw in results)
    return None if None in keys else keys  # type: ignore[return-value]


def _order_id(reference: str) -> int:
    try:
        return int(str(reference).strip())
    except ValueError:
        raise ValueError(f"Back Market order references are integers, not {reference!r}") from None


def _text(value: Any) -> str | None:
    value = blank_to_none(value)
    return value if isinstance(value, str) else None


def _quantity(answer: Any, update: StockUpdate) -> int:
    """The quantity Back Market says the listing now has, or the one sent if it does not say."""
    quantity = answer.get("quantity") if isinstance(answer, dict) else None
    if isinstance(quantity, int) and not isinstance(quantity, bool):
        return quantity
    return update.quantity


def _until_refused(things: Sequence[T], send: Callable[[T], R], failed: Callable[[T, str], R]) -> list[R]:
    """``send`` each thing in turn, each outcome its own; a ``MarketplaceError`` fails only its thing.

    Credentials refused once are refused for every thing: the rest fail unsent, with that refusal.
    """
    results: list[R] = []
    refused: str | None = None
    for thing in things:
        if refused is not None:
            results.append(failed(thing, refused))
            continue
        try:
            results.append(send(thing))
        except AuthenticationError as exc:
            refused = str(exc)
            results.append(failed(thing, refused))
        except MarketplaceError as exc:
            results.append(failed(thing, str(exc)))
    return results
