"""Lists shown in the Dagster UI as markdown tables."""

from collections.abc import Sequence

from dagster import AssetCheckResult, AssetCheckSeverity, MetadataValue


def _cell(value: object) -> str:
    # A pipe would end the cell and a line break the row.
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]], total: int | None = None) -> str:
    """A table; with ``total`` larger than the rows shown, a last line says how many are left out."""
    lines = [
        "| " + " | ".join(_cell(h) for h in headers) + " |",
        "|" + "---|" * len(headers),
        *("| " + " | ".join(_cell(v) for v in row) + " |" for row in rows),
    ]
    if total is not None and total > len(rows):
        lines.append(f"\n{total - len(rows)} more not shown.")
    return "\n".join(lines)


def table_metadata(headers: Sequence[str], rows: Sequence[Sequence[object]], total: int | None = None) -> MetadataValue:
    """``markdown_table`` as a metadata value of a materialization or check."""
    return MetadataValue.md(markdown_table(headers, rows, total))


def check_with_table(
    passed: bool,
    severity: AssetCheckSeverity,
    description: str,
    metadata: dict,
    table: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    total: int | None = None,
) -> AssetCheckResult:
    """A check's result, its ``rows`` (if any) shown as a table under ``table`` in its metadata."""
    if rows:
        metadata[table] = table_metadata(headers, rows, total)
    return AssetCheckResult(passed=passed, severity=severity, description=description, metadata=metadata)
