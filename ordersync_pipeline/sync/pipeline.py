"""Writing one batch while the next is prepared.

A batch's write is mostly the database working: the drivers let go of the GIL meanwhile, so a
writer thread that only runs the write transaction leaves the sync's thread free to diff and
format the next batch. One batch at a time is in flight, so memory stays flat and the batches
commit in order. A diff must see every earlier write of the orders it reads: ``before_reading``
waits for the batch in flight when the two share an order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType

from sqlalchemy import Connection, Engine

log = logging.getLogger(__name__)


class WritePipeline:
    """Runs write transactions on a writer thread, one at a time, in the order they were given."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ordersync-writer")
        self._in_flight: Future | None = None
        self._references: frozenset[str] = frozenset()

    def before_reading(self, references: Iterable[str]) -> None:
        """Wait for the write in flight if it touches any of ``references``."""
        if self._in_flight is not None and not self._references.isdisjoint(references):
            self.wait()

    def submit(self, references: Iterable[str], write: Callable[[Connection], object]) -> None:
        """Run ``write`` in a transaction of its own once the write before it has committed.

        A failed write raises here, or at ``wait``: no later write starts after it."""
        self.wait()
        self._references = frozenset(references)
        self._in_flight = self._writer.submit(self._transaction, write)

    def wait(self) -> None:
        """Until the write in flight has committed; its error, if it failed."""
        in_flight, self._in_flight = self._in_flight, None
        if in_flight is not None:
            in_flight.result()

    def _transaction(self, write: Callable[[Connection], object]) -> None:
        with self._engine.begin() as conn:
            write(conn)

    def __enter__(self) -> WritePipeline:
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
            self._writer.shutdown(wait=True)
