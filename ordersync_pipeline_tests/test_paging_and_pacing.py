"""Pages fetched concurrently, paced within the account's budget, parsed fast, written while fetching."""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pyrate_limiter import Rate

from ordersync_pipeline.marketplaces.backmarket.adapter import BackMarketAdapter, parse_order
from ordersync_pipeline.marketplaces.backmarket.pacing import account_key, paced_rate
from ordersync_pipeline.marketplaces.base import MarketplaceConfig
from ordersync_pipeline.marketplaces.pacing_store import bucket_for
from ordersync_pipeline.simulator.backmarket import BackMarketSimulator, World
from ordersync_pipeline.sync.background import in_background

TOKEN = "paging-token"


def adapter(url: str, **settings: Any) -> BackMarketAdapter:
    settings = {"rate_limit": None, "backoff_factor": 0.01, "max_retries": 2, **settings}
    return BackMarketAdapter(MarketplaceConfig(1, "backmarket-fr", "backmarket", url, TOKEN, settings=settings))


def fetch_all(url: str, since, page_size: int = 7, **settings: Any) -> list[list[str]]:
    bm = adapter(url, **settings)
    try:
        return [[o.reference for o in page.orders] for page in bm.iter_modified_orders(since, page_size)]
    finally:
        bm.close()


@pytest.fixture
def sim():
    with BackMarketSimulator(tokens={TOKEN}, seed=3, orders=300, lines_per_order=2) as simulator:
        yield simulator


def test_concurrent_paging_returns_every_order_once_in_the_listing_order(sim):
    since = sim.world.now() - timedelta(days=365)
    one_by_one = fetch_all(sim.url, since, concurrency=1)
    concurrent = fetch_all(sim.url, since, concurrency=4)
    assert concurrent == one_by_one  # same pages, same order
    references = [ref for page in concurrent for ref in page]
    listed = sum(n for state, n in sim.world.state()["orders_by_state"].items() if state not in ("0", "8"))
    assert len(set(references)) == len(references) == listed
    assert references == sorted(references, key=int)


def test_orders_arriving_during_a_concurrent_sync_are_read_through_the_next_links(sim):
    """The last planned page still has a ``next`` when the listing grew: it is followed."""
    since = sim.world.now() - timedelta(days=365)
    bm = adapter(sim.url, concurrency=3)
    sku = sim.world.catalogue()[0]["sku"]
    seen: list[str] = []
    try:
        for number, page in enumerate(bm.iter_modified_orders(since, 50)):
            if number == 0:
                for _ in range(60):  # more than a page: arrives after page 1 told the count
                    sim.world.create_order(lines=[{"sku": sku}], state=1)
            seen.extend(o.reference for o in page.orders)
    finally:
        bm.close()
    listed = sum(n for state, n in sim.world.state()["orders_by_state"].items() if state not in ("0", "8"))
    assert len(seen) == len(set(seen)) == listed


def test_paging_follows_next_links_when_they_leave_the_plan():
    """A server whose next links are not plain ``page=`` numbers is read link by link."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qs, urlsplit

    world = World(seed=5, orders=0)
    sku = world.catalogue()[0]["sku"]
    ids = [world.create_order(lines=[{"sku": sku}], state=1) for _ in range(25)]
    payloads = [world.get_order(i) for i in ids]
    asked: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            import json

            query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
            asked.append(query)
            # Page 1 promises plain page numbers, then the server moves to cursors.
            start = int(query.get("cursor", 10 if query.get("page") == "2" else 0))
            chunk = payloads[start : start + 10]
            host = f"http://{self.headers['Host']}"
            following = f"{host}/ws/orders?cursor={start + 10}" if start + 10 < len(payloads) else None
            if start == 0:
                following = f"{host}/ws/orders?state=1&page-size=10&page=2"
            body = json.dumps({"count": len(payloads), "next": following, "results": chunk}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        bm = adapter(f"http://127.0.0.1:{server.server_address[1]}", concurrency=4)
        got = [o.reference for page in bm.iter_new_orders(10) for o in page.orders]
        bm.close()
    finally:
        server.shutdown()
        server.server_close()
    assert got == [str(i) for i in ids]


def test_the_fast_page_parser_gives_what_the_exact_one_gives(sim):
    raw_page = sim.world.page_orders(1, 50)[1]
    since = sim.world.now() - timedelta(days=365)
    bm = adapter(sim.url)
    try:
        [first, *_] = list(bm.iter_modified_orders(since, 50))
    finally:
        bm.close()
    assert first.orders == [parse_order(raw) for raw in raw_page]


def test_pacing_keeps_concurrent_fetching_within_the_enforced_limit(sim):
    """Paced below the budget, with a margin: should a request still land over it (a loaded
    machine), the block that follows costs each thread one refused request, not a run of them."""
    sim.faults.configure(rate_limit=[12, 1.0], block_seconds=1.0)
    since = sim.world.now() - timedelta(days=365)
    settings = {"concurrency": 4, "rate_limit": [12, 1.0], "rate_limit_file": None, "rate_limit_pause": 1.2}
    pages = fetch_all(sim.url, since, page_size=10, **settings)
    assert len(pages) > 24  # more than two windows' worth
    assert sum(len(page) for page in pages) == sum(
        n for state, n in sim.world.state()["orders_by_state"].items() if state not in ("0", "8")
    )
    assert sim.faults.limited <= settings["concurrency"]


def test_a_429_pauses_every_thread_of_the_account_for_the_block(sim):
    """Back Market blocks an account after a 429: every thread holds back until the block is over,
    so that each meets at most that one refusal, and the listing is read whole."""
    sim.faults.configure(block_seconds=1.0, burst_length=1, rules=[{"fault": "burst", "match": "page=4"}])
    since = sim.world.now() - timedelta(days=365)
    settings = {"concurrency": 4, "rate_limit_pause": 1.2, "backoff_factor": 0.01, "max_retries": 3}
    pages = fetch_all(sim.url, since, page_size=10, **settings)
    assert sum(len(page) for page in pages) == sum(
        n for state, n in sim.world.state()["orders_by_state"].items() if state not in ("0", "8")
    )
    assert 1 <= sim.faults.limited <= settings["concurrency"]


def in_processes(function, arguments: list[tuple]) -> list:
    """Call ``function`` with each tuple of ``arguments`` at once, each in a spawned process of its own;
    their results in order. The processes end as they finish (a pool's terminate can hang on a
    worker under load)."""
    with ProcessPoolExecutor(len(arguments), mp_context=multiprocessing.get_context("spawn")) as pool:
        return [future.result() for future in [pool.submit(function, *args) for args in arguments]]


def _fetch_in_process(url: str, since, shared_file: str) -> int:
    return sum(
        len(p)
        for p in fetch_all(
            url, since, page_size=10, concurrency=2, rate_limit=list(SHARED_BUDGET), rate_limit_file=shared_file
        )
    )


#: a window far longer than the test: every permit taken stays counted until the end
SHARED_BUDGET = (1000, 3600.0)


def test_processes_of_one_host_share_the_budget_through_the_data_folder(sim, tmp_path):
    """Counted, not timed: two processes read a listing over HTTP, each paced through the same
    file; what is left of the budget in that file is what they did not use between them."""
    since = sim.world.now() - timedelta(days=365)
    shared = str(tmp_path / "rate_limits.sqlite")
    counts = in_processes(_fetch_in_process, [(sim.url, since, shared)] * 2)
    assert counts[0] == counts[1] > 0
    arrived = sim.faults.requests["/ws/orders"]
    assert arrived > 2 * 20
    bucket = bucket_for(Path(shared), f"account_{account_key(sim.url, TOKEN)}", Rate(*paced_rate(*SHARED_BUDGET)))
    assert bucket.count() == arrived  # every request of either process took its permit from the file


def test_in_background_hands_over_in_order_and_raises_where_the_producer_failed():
    def produce():
        yield from range(5)
        raise ValueError("page 6 did not parse")

    got = []
    with pytest.raises(ValueError, match="page 6"):
        for item in in_background(produce(), depth=2):
            got.append(item)
    assert got == [0, 1, 2, 3, 4]


def test_in_background_stops_the_producer_when_the_consumer_stops():
    closed = threading.Event()

    def produce():
        try:
            n = 0
            while True:
                yield n
                n += 1
        finally:
            closed.set()

    for item in in_background(produce(), depth=1):
        if item == 3:
            break
    assert closed.wait(5)


def test_the_simulator_can_give_every_order_the_same_number_of_lines():
    world = World(seed=2, orders=50, lines_per_order=2)
    assert {len(world.get_order(i)["orderlines"]) for i in range(100001, 100051)} == {2}
