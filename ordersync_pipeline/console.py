"""What the command line shows: progress while it works, then a summary table."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from rich.console import Console
from rich.progress import Progress as RichProgress
from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from ordersync_pipeline.sync.report import Progress, SyncReport

console = Console(stderr=False, highlight=False, soft_wrap=True)
errors = Console(stderr=True, highlight=False, soft_wrap=True)
if not console.is_terminal:
    console.width = max(console.width, 120)  # a log file or a pipe: room for the whole table


def error(message: str) -> None:
    """A fatal error: one line on standard error, however narrow the terminal. The message is
    printed as it is: text from the user or a marketplace is never read as markup."""
    errors.print(Text.assemble(("error:", "red"), " ", message), soft_wrap=True, highlight=False)


def literal(text: object) -> Text:
    """User or marketplace text (a SKU, a URL, an error a server sent) as a table cell or line part:
    shown as written, brackets included."""
    return Text(str(text))


@contextmanager
def sync_progress(label: str) -> Iterator:
    """A live line per sync: pages and orders fetched so far. Yields the progress callback."""
    with RichProgress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
        disable=not errors.is_terminal,
    ) as bar:
        task = bar.add_task(label, detail="starting", total=None)

        def update(progress: Progress) -> None:
            bar.update(task, detail=f"{progress.pages} pages, {progress.fetched} records")

        yield update


def print_sync_summary(reports: Sequence[SyncReport]) -> None:
    table = Table(title="Sync summary")
    table.add_column("marketplace", no_wrap=True)
    table.add_column("type", no_wrap=True)
    for column in ("fetched", "created", "updated", "unchanged", "events", "accepted", "errors"):
        table.add_column(column, justify="right")
    for r in reports:
        if not r.supported:
            table.add_row(r.marketplace, r.sync_type, "n/a", "", "", "", "", "", "")
            continue
        table.add_row(
            r.marketplace,
            r.sync_type,
            *(str(v) for v in (r.fetched, r.created, r.updated, r.unchanged, r.events, r.accepted)),
            f"[red]{r.failed}[/red]" if r.failed else "0",
        )
    console.print(table)
    for r in reports:
        if not r.supported:
            console.print(f"  {r.marketplace} {r.sync_type}: not supported by this marketplace, nothing to do")
        for note in r.notes:
            console.print(Text.assemble("  ", f"{r.marketplace} {r.sync_type}", " ", note))
        for sample in r.error_samples:
            console.print(Text.assemble("  ", (f"{r.marketplace} {r.sync_type}", "yellow"), " ", str(sample)))


def print_stock_run(run) -> None:
    """The stock part of a sync: locks taken, consumed, released, short; listings pushed."""
    locks, push = run.locks, run.push
    parts = []
    if locks:
        before = locks.get("left_before_count", 0)
        counted = f" ({before} had left before their SKU's count: on hand kept)" if before else ""
        parts.append(
            f"events applied {locks['events']}, locks taken {locks['locked']}, consumed {locks['consumed']}{counted}, "
            f"released {locks['released']}, short {locks['short']}"
        )
    if push:
        parts.append(f"listings pushed {push['pushed']} (failed {push['failed']})")
    console.print("Stock: " + "; ".join(parts), soft_wrap=True)
    for name, description, details in run.failed_checks:
        console.print(Text.assemble("  ", (f"check {name} failed", "red"), f": {description}"), soft_wrap=True)
        for detail in details:
            console.print(f"    {detail}", soft_wrap=True, markup=False)


def print_stock_summary(summary) -> None:
    table = Table(title="Stock")
    table.add_column("sku", no_wrap=True)
    for column in ("on hand", "locked", "available", "short"):
        table.add_column(column, justify="right")
    for sku in summary.skus:
        table.add_row(literal(sku.sku), str(sku.on_hand), str(sku.locked), str(sku.available), str(sku.short))
    console.print(table)
    console.print("Locks: " + ", ".join(f"{state} {count}" for state, count in summary.locks.items()))


#: findings listed on the terminal; the counts above them are always whole
SHOWN_FINDINGS = 50


def print_reconciliation(reports) -> None:
    """What each marketplace lists against what ordersync computes, then each listing not in line."""
    dry_run = any(r.dry_run for r in reports)
    table = Table(title="Reconciliation" + (" (dry run: nothing synced or pushed)" if dry_run else ""))
    table.add_column("marketplace", no_wrap=True)
    for column in (
        "read",
        "in line",
        "drifted",
        "corrected",
        "pending",
        "deferred",
        "failed",
        "unknown here",
        "missing there",
        "units of drift",
    ):
        table.add_column(column, justify="right")
    for r in reports:
        missing = str(r.missing) if r.complete else "?"
        counts = (r.read, r.in_line, r.drifted, r.corrected, r.pending, r.deferred, r.failed, r.unknown)
        table.add_row(r.marketplace, *(str(v) for v in counts), missing, str(r.drift_units))
    console.print(table)
    findings = [(r.marketplace, f) for r in reports for f in r.findings]
    if findings:
        listed = Table(title="Listings not in line")
        for column in ("marketplace", "finding", "listing", "sku", "name", "listed", "computed", "action"):
            listed.add_column(column, justify="right" if column in ("listed", "computed") else "left")
        for code, f in findings[:SHOWN_FINDINGS]:
            listed.add_row(
                code,
                str(f.verdict),
                literal(f.listing_ref),
                literal(f.sku),
                literal(f.name),
                "" if f.listed is None else str(f.listed),
                "" if f.computed is None else str(f.computed),
                str(f.action),
            )
        console.print(listed)
        if len(findings) > SHOWN_FINDINGS:
            console.print(f"  and {len(findings) - SHOWN_FINDINGS} more")
    for r in reports:
        if not r.complete:
            console.print(
                Text.assemble(
                    "  ",
                    (r.marketplace, "yellow"),
                    ": the listings could not all be read; none is called missing this time",
                )
            )
        for error in r.errors[:10]:
            console.print(Text.assemble("  ", (r.marketplace, "yellow"), " ", str(error)))
