"""Reading a Back Market listing page by page: concurrently where the envelope allows it.

Back Market pages with ``page=`` numbers and says on page 1 how many records there are, so the
remaining pages can be asked for at once, a few at a time, within the account's budget (the
client paces every request). The ``next`` links stay the authority on where the listing goes.

Because those pages are named by number, a planned page whose body stays unreadable after the
client's retries can be skipped: the caller is handed what ``lost`` makes of it, and the listing
goes on with the next number. Page 1 and pages reached by ``next`` links cannot be skipped: without
their body there is no next link to follow.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ordersync_pipeline.marketplaces.backmarket.client import BackMarketClient
from ordersync_pipeline.marketplaces.base import MalformedAnswer, MarketplaceError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fetched:
    """One page of a listing: what its parser made of it, and its envelope."""

    items: Any
    next: str | None
    count: int | None
    #: how many records the page held
    size: int


PageParser = Callable[[bytes, str], Fetched]
#: what a caller makes of a planned page that could not be read (its number, the error)
LostPage = Callable[[int, MalformedAnswer], Any]


def envelope_count(body: dict[str, Any]) -> int | None:
    count = body.get("count")
    return count if isinstance(count, int) and not isinstance(count, bool) else None


class Pager:
    """Hands out the pages of a listing in order, whatever order they were fetched in."""

    def __init__(self, client: BackMarketClient, code: str) -> None:
        self.client = client
        self.code = code

    def listing(
        self, path: str, params: dict[str, Any], parse: PageParser, lost: LostPage | None = None
    ) -> Iterator[Fetched]:
        """Each page of a listing, in order, parsed by ``parse``.

        Page 1 says how many records there are (``count``). When its ``next`` link is the plain
        ``page=2`` of the same query and the page is full, pages 2 to the last are fetched a few at
        a time on a small thread pool (bounded, so memory stays flat) and handed out in order. The
        envelope stays the authority: every page's ``next`` must name the page planned after it;
        where it does not, or where the last page still has a ``next`` (the listing grew), the
        rest is read by following ``next`` links one by one, as the document describes.
        """
        fetched = self._fetch(path, params, parse)
        yield fetched
        size = int(params.get("page-size") or 0)
        last = -(-fetched.count // size) if fetched.count and size else 0
        if last > 1 and fetched.size == size and self._names_page(fetched.next, path, params, 2):
            fetched = yield from self._concurrent(path, params, last, parse, lost)
        seen = {self.client.url(path)}
        url = fetched.next
        while url:
            if self.client.url(url) in seen:
                raise MarketplaceError(f"{self.code}: Back Market's next link for /{path} loops")
            seen.add(self.client.url(url))
            fetched = self._fetch(url, None, parse)  # the next link carries its own query
            yield fetched
            url = fetched.next

    def _concurrent(
        self, path: str, params: dict[str, Any], last: int, parse: PageParser, lost: LostPage | None
    ) -> Iterator[Fetched]:
        """Pages 2 to ``last``, fetched ahead by ``concurrency`` threads and yielded in order.

        Returns the last page handed out: the one whose ``next`` the caller follows, if any (a
        skipped last page has none: the plan ends there).
        """
        workers = self.client.concurrency
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"{self.code}-pages")
        pending: deque = deque()
        number = 2

        def fill() -> None:
            nonlocal number
            while number <= last and len(pending) < 2 * workers:
                pending.append((number, pool.submit(self._fetch, path, {**params, "page": number}, parse)))
                number += 1

        try:
            fill()
            while pending:
                page, future = pending.popleft()
                try:
                    fetched = future.result()
                except MalformedAnswer as exc:
                    if lost is None:
                        raise
                    log.warning("%s: page %d of /%s skipped: %s", self.code, page, path, exc)
                    fill()
                    fetched = Fetched(lost(page, exc), None, None, 0)
                    yield fetched
                    continue
                fill()  # keep fetching while the caller works on this page
                yield fetched
                if page < last and not self._names_page(fetched.next, path, params, page + 1):
                    log.info("%s: /%s changed its paging; following next links", self.code, path)
                    return fetched
            return fetched
        finally:
            for _, future in pending:
                future.cancel()
            pool.shutdown(wait=True, cancel_futures=True)

    def _names_page(self, link: str | None, path: str, params: dict[str, Any], page: int) -> bool:
        """Whether ``link`` is ``path`` with ``params`` and ``page=page``, as planned."""
        if not link:
            return False
        parts = urlsplit(self.client.url(link))
        expected = {key: str(value) for key, value in params.items()} | {"page": str(page)}
        return parts.path == urlsplit(self.client.url(path)).path and dict(parse_qsl(parts.query)) == expected

    def _fetch(self, path: str, params: dict[str, Any] | None, parse: PageParser) -> Fetched:
        def read() -> Fetched:
            content, where = self.client.get_raw(path, params)
            return parse(content, where)

        return self.client.read_json(read)
