"""One step of the chaos benchmark, in a process of its own so that it can be killed with ``kill -9``:
one sync of one marketplace and type, then the events applied to the stock and the stock pushed.

    python -m benchmarks.chaos_worker DATABASE_URL MARKETPLACE_CODE SYNC_TYPE

Prints one JSON line with what it did; exits 0 when everything went through, 2 when the
marketplace failed (a fault outlasted the retries), as the command line would report it.
"""

from __future__ import annotations

import json
import logging
import sys

from ordersync_pipeline import stock
from ordersync_pipeline.db.engine import make_engine
from ordersync_pipeline.marketplaces.base import MarketplaceError
from ordersync_pipeline.marketplaces.registry import adapter_for, find_marketplace
from ordersync_pipeline.sync.runner import MarketplaceRef, SyncOptions, run_sync


def step(url: str, code: str, sync_type: str, page_size: int = 10) -> dict:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            row = find_marketplace(conn, code)
        adapter = adapter_for(row)
        try:
            report = run_sync(engine, MarketplaceRef(row.id, row.code), adapter, sync_type, SyncOptions(page_size))
        finally:
            adapter.close()
        applied = stock.apply_pending_events(engine)
        pushed = stock.push_stock(engine, adapter_for)
        return {"sync": report.as_metadata(), "events": applied.events, "pushed": pushed.pushed}
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    url, code, sync_type = argv if argv is not None else sys.argv[1:]
    logging.getLogger("ordersync_pipeline").setLevel(logging.ERROR)
    try:
        done = step(url, code, sync_type)
    except MarketplaceError as exc:
        print(json.dumps({"error": str(exc)}), flush=True)
        return 2
    print(json.dumps(done, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
