"""What one sync of one marketplace and one type did."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class SyncReport:
    marketplace: str
    sync_type: str
    supported: bool = True
    pages: int = 0
    fetched: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    events: int = 0
    accepted: int = 0
    cursor: str | None = None
    #: the first few per-record errors, for a summary; all of them are in ``sync_errors``.
    error_samples: list[str] = field(default_factory=list)
    #: what the sync did other than asked (a page size fitted to the marketplace)
    notes: list[str] = field(default_factory=list)

    def as_metadata(self) -> dict[str, Any]:
        return asdict(self)

    def add_errors(self, messages: list[str], keep: int = 5) -> None:
        self.failed += len(messages)
        self.error_samples.extend(messages[: max(0, keep - len(self.error_samples))])


@dataclass(frozen=True)
class Progress:
    """Sent to a progress callback after every page."""

    marketplace: str
    sync_type: str
    pages: int
    fetched: int
    total: int | None = None
