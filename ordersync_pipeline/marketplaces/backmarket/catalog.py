"""Back Market's listings read back (``GET /ws/listings``), within the catalog's own budget.

Back Market's document: above about 200 requests in 10 s an account is blocked for 10 s, "and for
more sensible endpoints like catalog for example above 20 requests in 10 seconds". A read of the
listings is a request of the account, so it takes a permit of the account's budget, and one of the
catalog's (setting ``catalog_rate_limit``, default ``[20, 10]``, kept like the account's: in the
same store, under a name of its own). A 429 on a catalog read pauses the catalog reads only.

The listing is paged by number like the orders (``page``, ``page-size`` up to 50, ``count``), so it
is read by the same ``Pager``, whose envelope checks say whether the reading was whole: a listing
created or deleted while it is read shifts the pages after it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import quote

import orjson

from ordersync_pipeline.marketplaces.backmarket.client import BackMarketClient, BackMarketHTTPError
from ordersync_pipeline.marketplaces.backmarket.pacing import (
    Pacer,
    account_key,
    limiter_for,
    rate_limit_setting,
    shared_file_setting,
)
from ordersync_pipeline.marketplaces.backmarket.paging import Fetched, Pager, envelope_count
from ordersync_pipeline.marketplaces.base import (
    ListingKind,
    ListingPage,
    MalformedAnswer,
    MarketListing,
    MarketplaceConfig,
    MarketplaceError,
)
from ordersync_pipeline.marketplaces.pacing_store import shared_store

log = logging.getLogger(__name__)

#: the catalog endpoints' documented budget: (requests, seconds)
DEFAULT_CATALOG_RATE_LIMIT = (20, 10.0)
LISTINGS_PAGE_SIZE = 50  # the documented maximum of `page-size`


class CatalogPacer:
    """A permit of the account's budget and one of the catalog's for each catalog read."""

    def __init__(self, account: Pacer, catalog: Pacer) -> None:
        self.account = account
        self.catalog = catalog

    def wait(self) -> None:
        self.catalog.wait()
        self.account.wait()

    def refused(self) -> None:
        # Cloudflare blocks the catalog endpoints on their own budget: the account's other
        # requests (orders, pushes) may go on.
        self.catalog.refused()


def catalog_pacer(config: MarketplaceConfig, account: Pacer) -> CatalogPacer:
    settings = dict(config.settings or {})
    key = f"{account_key(config.base_url, config.token)}-catalog"
    block_pause = float(settings.get("rate_limit_pause", 10.0) or 0.0)
    rate = rate_limit_setting({"rate_limit": settings.get("catalog_rate_limit", DEFAULT_CATALOG_RATE_LIMIT)})
    if rate is None:
        return CatalogPacer(account, Pacer(None, key, block_pause))
    store = shared_store(settings, shared_file_setting(settings))
    return CatalogPacer(account, Pacer(limiter_for(key, rate, store), key, block_pause))


class ListingReader:
    """Reads an account's listings: all of them page by page, or a few again by id."""

    def __init__(self, client: BackMarketClient, config: MarketplaceConfig, rereads: int) -> None:
        self.code = config.code
        self.client = client.reads_paced_by(catalog_pacer(config, client.pacer))
        # The catalog's budget is about 2 requests a second: pages fetched one at a time land in the
        # order their permits were taken, where threads held up unevenly could bunch them past it.
        self.client.concurrency = max(1, int((config.settings or {}).get("catalog_concurrency", 1)))
        self._pager = Pager(self.client, config.code, rereads)
        #: pages the last full reading took: re-reading a few listings one by one is worth it
        #: only while they are fewer than that
        self.pages_last_read: int | None = None

    def close(self) -> None:
        self.client.close()

    def iter_listings(self) -> Iterator[ListingPage]:
        params = {"page-size": LISTINGS_PAGE_SIZE}
        pages = 0
        for fetched in self._pager.listing("ws/listings", params, self._listings_page, _lost_page, _shifted):
            pages += 1
            yield fetched.items
        self.pages_last_read = pages

    def read_listings(self, refs: Sequence[tuple[ListingKind, str]], read_all) -> Iterator[ListingPage]:
        """The listings named, one request each while that costs fewer requests than reading all
        of them again (``read_all``, the adapter's own filtered reading), else that."""
        pages = self.pages_last_read if self.pages_last_read is not None else LISTINGS_PAGE_SIZE // 2
        if len(refs) > pages:
            yield from read_all(refs)
            return
        for kind, ref in refs:
            page = ListingPage()
            try:
                if kind == ListingKind.SKU:
                    raw = self.client.get("ws/listings/detail", {"sku": ref})
                else:
                    raw = self.client.get(f"ws/listings/{quote(str(ref), safe='')}")
            except BackMarketHTTPError as exc:
                if exc.status != 404:  # a listing not found is simply not there
                    page.unread(f"{ref}: {exc}")
                yield page
                continue
            except MalformedAnswer as exc:
                page.unread(f"{ref}: {exc}")
                yield page
                continue
            page.take(market_listing(raw), f"{ref}: Back Market answered without a listing's id and quantity")
            yield page

    def _listings_page(self, content: bytes, where: str) -> Fetched:
        try:
            body = orjson.loads(content)
        except orjson.JSONDecodeError:
            body = self.client.decode(content, where)  # raises MalformedAnswer, which is retried
        if not isinstance(body, dict) or not isinstance(body.get("results"), list):
            raise MarketplaceError(f"{self.code}: Back Market answered GET /ws/listings without a list of results")
        page = ListingPage()
        keys: list[str] = []
        for raw in body["results"]:
            # A listing not read may be one ordersync holds: the page is incomplete.
            listing = page.take(market_listing(raw), f"a listing without an id or a quantity: {str(raw)[:200]}")
            if listing is not None:
                keys.append(listing.ids[0])
        whole_keys = tuple(keys) if len(keys) == len(body["results"]) else None
        return Fetched(page, body.get("next") or None, envelope_count(body), len(body["results"]), whole_keys)


def market_listing(raw: Any) -> MarketListing | None:
    """A ``ListingPublic`` as a ``MarketListing``, or None if it has no id or no quantity."""
    if not isinstance(raw, dict):
        return None
    quantity = raw.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
        return None
    # The stock file names a listing by its integer id or its UUID: both name it.
    ids = tuple(
        str(raw[key]).strip()
        for key in ("listing_id", "id")
        if isinstance(raw.get(key), int | str) and not isinstance(raw.get(key), bool) and str(raw[key]).strip()
    )
    if not ids:
        return None
    sku = raw.get("sku") if isinstance(raw.get("sku"), str) else ""
    title = raw.get("title") if isinstance(raw.get("title"), str) else ""
    return MarketListing(ids=ids, sku=sku, quantity=quantity, name=title or sku)


def _lost_page(number: int, error: MalformedAnswer) -> ListingPage:
    return ListingPage(incomplete=True, errors=[f"page {number} of /ws/listings skipped: {error}"])


def _shifted(message: str) -> ListingPage:
    return ListingPage(incomplete=True, errors=[message])
