"""Reading a Back Market listing page by page: concurrently where the envelope allows it.

Back Market pages with ``page=`` numbers and says on page 1 how many records there are, so the
remaining pages can be asked for at once, a few at a time, within the account's budget (the
client paces every request). The ``next`` links stay the authority on where the listing goes.

Because those pages are named by number, a planned page whose body stays unreadable after the
client's retries can be skipped: the caller is handed what ``lost`` makes of it, and the listing
goes on with the next number. Page 1 and pages reached by ``next`` links cannot be skipped: without
their body there is no next link to follow.

Page numbers are offsets into a listing whose order the document does not give. If it is ordered
by modification date, an order that changes while the listing is read moves to the end and every
order after it moves back one place: the one at a page boundary is never handed out. Each reading
is therefore checked against its envelopes (``Tally``): when fewer distinct records came than the
listing counts, or the count fell, the listing is read again, with what the first reading found
kept, until it is whole (then it stops at once) or the re-readings allowed are spent; a listing
still not whole hands the caller what ``shifted`` makes of it, so that the window is read again
later. A listing that kept still is read once.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ordersync_pipeline.marketplaces.backmarket.client import BackMarketClient
from ordersync_pipeline.marketplaces.base import MalformedAnswer, MarketplaceError

log = logging.getLogger(__name__)

#: readings of a listing after the first, when the first was not whole
DEFAULT_REREADS = 2


@dataclass(frozen=True)
class Fetched:
    """One page of a listing: what its parser made of it, and its envelope."""

    items: Any
    next: str | None
    count: int | None
    #: how many records the page held
    size: int
    #: the ids of the page's records (None: the parser cannot name them, the listing is not checked)
    keys: tuple[Hashable, ...] | None = None


PageParser = Callable[[bytes, str], Fetched]
#: what a caller makes of a planned page that could not be read (its number, the error)
LostPage = Callable[[int, MalformedAnswer], Any]
#: what a caller makes of a listing that stayed short of its count (a message saying so)
ShiftedListing = Callable[[str], Any]


def envelope_count(body: dict[str, Any]) -> int | None:
    count = body.get("count")
    return count if isinstance(count, int) and not isinstance(count, bool) else None


@dataclass
class Tally:
    """What the readings of a listing received: its distinct records, the count its latest answer
    gave, and whether a count ever fell below the one before it.

    A listing whose records only join it (the modified listing: a modification never takes an
    order out of "modified since") is whole when the distinct records received are as many as it
    counts: each one received is still in it. A count that fell means a record left while it was
    read (an order no longer paid): what was received is then no proof, and the next reading is
    judged on its own.
    """

    keys: set[Hashable] = field(default_factory=set)
    count: int | None = None
    fell: bool = False
    unkeyed: bool = False
    lost: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def answered(self, fetched: Fetched) -> None:
        """A page came (on whichever thread fetched it): its count."""
        with self._lock:
            if fetched.count is not None:
                if self.count is not None and fetched.count < self.count:
                    self.fell = True
                self.count = fetched.count

    def handed_out(self, fetched: Fetched) -> None:
        """A page was handed to the caller: its records."""
        if fetched.keys is None:
            self.unkeyed = True
        else:
            self.keys.update(fetched.keys)

    @property
    def checked(self) -> bool:
        """Whether the readings can be judged at all (every page named its records, none was lost)."""
        return not self.unkeyed and not self.lost and self.count is not None

    @property
    def whole(self) -> bool:
        return not self.checked or (not self.fell and len(self.keys) >= self.count)

    def missing(self) -> int:
        return max(0, (self.count or 0) - len(self.keys))


class Pager:
    """Hands out the pages of a listing in order, whatever order they were fetched in."""

    def __init__(self, client: BackMarketClient, code: str, rereads: int = DEFAULT_REREADS) -> None:
        self.client = client
        self.code = code
        self.rereads = max(0, rereads)

    def listing(
        self,
        path: str,
        params: dict[str, Any],
        parse: PageParser,
        lost: LostPage | None = None,
        shifted: ShiftedListing | None = None,
    ) -> Iterator[Fetched]:
        """Each page of a listing, parsed by ``parse``, read again while it is not whole (above).

        A record may be handed out more than once (a re-reading, or an order that moved on while
        the listing was read): the caller keeps the latest.
        """
        tally = Tally()
        yield from self._handed_out(self._reading(path, params, parse, lost, tally, False), tally)
        for attempt in range(1, self.rereads + 1):
            if tally.whole:
                return
            log.info(
                "%s: /%s shifted while it was read (%d of %d records%s); reading it again (%d of %d)",
                self.code,
                path,
                len(tally.keys),
                tally.count,
                ", the count fell" if tally.fell else "",
                attempt,
                self.rereads,
            )
            if tally.fell:
                tally = Tally()
            yield from self._handed_out(self._reading(path, params, parse, lost, tally, True), tally)
        if not tally.whole:
            message = (
                f"/{path} kept shifting while it was read: {tally.missing()} of {tally.count} records may be "
                f"missing after {self.rereads + 1} readings" + ("; the count fell" if tally.fell else "")
            )
            log.warning("%s: %s", self.code, message)
            if shifted is not None:
                yield Fetched(shifted(message), None, None, 0)

    @staticmethod
    def _handed_out(pages: Iterator[Fetched], tally: Tally) -> Iterator[Fetched]:
        # Counted before the caller has it: the reading checks the tally when the caller asks for more.
        for fetched in pages:
            tally.handed_out(fetched)
            yield fetched

    def _reading(
        self,
        path: str,
        params: dict[str, Any],
        parse: PageParser,
        lost: LostPage | None,
        tally: Tally,
        stop_when_whole: bool,
    ) -> Iterator[Fetched]:
        """One reading of the listing, from page 1 to its end (or until ``tally`` is whole, if asked).

        Page 1 says how many records there are (``count``). When its ``next`` link is the plain
        ``page=2`` of the same query and the page is full, pages 2 to the last are fetched a few at
        a time on a small thread pool (bounded, so memory stays flat) and handed out in order. The
        envelope stays the authority: every page's ``next`` must name the page planned after it;
        where it does not, or where the last page still has a ``next`` (the listing grew), the
        rest is read by following ``next`` links one by one, as the document describes.
        """
        fetched = self._fetch(path, params, parse, tally)
        yield fetched
        if stop_when_whole and tally.whole:
            return
        size = int(params.get("page-size") or 0)
        last = -(-fetched.count // size) if fetched.count and size else 0
        if last > 1 and fetched.size == size and self._names_page(fetched.next, path, params, 2):
            fetched = yield from self._concurrent(path, params, last, parse, lost, tally, stop_when_whole)
            if fetched is None:
                return
        seen = {self.client.url(path)}
        url = fetched.next
        while url:
            if self.client.url(url) in seen:
                raise MarketplaceError(f"{self.code}: Back Market's next link for /{path} loops")
            seen.add(self.client.url(url))
            fetched = self._fetch(url, None, parse, tally)  # the next link carries its own query
            yield fetched
            if stop_when_whole and tally.whole:
                return
            url = fetched.next

    def _concurrent(
        self,
        path: str,
        params: dict[str, Any],
        last: int,
        parse: PageParser,
        lost: LostPage | None,
        tally: Tally,
        stop_when_whole: bool,
    ) -> Iterator[Fetched]:
        """Pages 2 to ``last``, fetched ahead by ``concurrency`` threads and yielded in order.

        Returns the last page handed out: the one whose ``next`` the caller follows, if any (a
        skipped last page has none: the plan ends there); None when the tally became whole.
        """
        workers = self.client.concurrency
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"{self.code}-pages")
        pending: deque = deque()
        number = 2

        def fill() -> None:
            nonlocal number
            while number <= last and len(pending) < 2 * workers:
                page_params = {**params, "page": number}
                pending.append((number, pool.submit(self._fetch, path, page_params, parse, tally)))
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
                    tally.lost = True
                    fill()
                    fetched = Fetched(lost(page, exc), None, None, 0)
                    yield fetched
                    continue
                fill()  # keep fetching while the caller works on this page
                yield fetched
                if stop_when_whole and tally.whole:
                    return None
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

    def _fetch(self, path: str, params: dict[str, Any] | None, parse: PageParser, tally: Tally) -> Fetched:
        def read() -> Fetched:
            content, where = self.client.get_raw(path, params)
            return parse(content, where)

        fetched = self.client.read_json(read)
        tally.answered(fetched)
        return fetched
