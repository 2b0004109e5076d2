"""Writing a long run of batches, each in a transaction of its own.

``submit`` runs a batch's write on a writer thread. A batch's write is mostly the database
working: the drivers let go of the GIL meanwhile, so the caller's thread is free to diff and
format the next batch. One batch at a time is in flight, so memory stays flat and the batches
commit in order. A diff must see every earlier write of the orders it reads: ``before_reading``
waits for the batch in flight when the two share an order. ``transaction`` runs one on the
caller's thread instead, for work that reads what the batch before it wrote.

While a writer is open, the cyclic garbage collector leaves out the objects that were there
before it (``gc_freeze``): a long run makes and drops millions of small containers, and each
full collection would otherwise walk every object the process had loaded. And the tables its
writes grow are analyzed as they grow (``planner_stats``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from types import TracebackType

from sqlalchemy import Connection, Engine

from ordersync_pipeline.db import planner_stats
from ordersync_pipeline.db.gc_freeze import collect_only_new_objects

log = logging.getLogger(__name__)


class BulkWriter:
    """Runs write transactions one at a time, in the order they were given."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writer: ThreadPoolExecutor | None = None
        self._in_flight: Future | None = None
        self._references: frozenset[str] = frozenset()
        self._open = ExitStack()
        self._watches: dict = {}

    def before_reading(self, references: Iterable[str]) -> None:
        """Wait for the write in flight if it touches any of ``references``."""
        if self._in_flight is not None and not self._references.isdisjoint(references):
            self.wait()

    def submit(self, references: Iterable[str], write: Callable[[Connection], object]) -> None:
        """Run ``write`` on the writer thread, in a transaction of its own, once the write before it
        has committed.

        A failed write raises here, or at ``wait``: no later write starts after it."""
        self.wait()
        if self._writer is None:
            self._writer = ThreadPoolExecutor(
                max_workers=1,
                thread_name_prefix="ordersync-writer",
                initializer=planner_stats.watch_for,
                initargs=(self._watches,),
            )
        self._references = frozenset(references)
        self._in_flight = self._writer.submit(self._transaction, write)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """Open a transaction on the caller's thread, once the write in flight has committed."""
        self.wait()
        with self._engine.begin() as conn:
            yield conn

    def wait(self) -> None:
        """Wait until the write in flight has committed; raise its error, if it failed."""
        in_flight, self._in_flight = self._in_flight, None
        if in_flight is not None:
            in_flight.result()

    def _transaction(self, write: Callable[[Connection], object]) -> None:
        with self._engine.begin() as conn:
            write(conn)

    def __enter__(self) -> BulkWriter:
        self._open.enter_context(collect_only_new_objects())
        self._watches = self._open.enter_context(planner_stats.watching())
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        try:
            if error is None:
                self.wait()
            elif self._in_flight is not None:
                # Already failing: let the write in flight end (commit or roll back) before the
                # caller lets go of the sync, and keep the first error.
                try:
                    self.wait()
                except Exception:
                    log.exception("a batch write failed while the sync was already failing")
        finally:
            if self._writer is not None:
                self._writer.shutdown(wait=True)
            self._open.close()
