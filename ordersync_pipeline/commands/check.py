"""``ordersync check``: is the setup sound, before a sync finds out? A table of what passed and what
did not; exit status 1 if anything did not."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from ordersync_pipeline import console, settings
from ordersync_pipeline.health import CheckResult, check_setup
from ordersync_pipeline.problems import SetupProblem, one_line


def run(marketplace: str | None = None) -> int:
    results = check_setup(settings.database_url(), settings.config_path(), marketplace, dagster_instance_check)
    _print(results)
    return 0 if all(r.passed for r in results) else 1


def dagster_instance_check() -> CheckResult:
    """The instance loads and its run storage answers (a read, nothing written)."""
    from ordersync_pipeline.launch import dagster_instance

    try:
        instance = dagster_instance()
        instance.get_runs(limit=1)
    except SetupProblem as exc:
        return CheckResult("dagster instance", False, str(exc))
    except Exception as exc:  # the storage's own error (a Postgres run storage that does not answer...)
        return CheckResult("dagster instance", False, f"{type(exc).__name__}: {one_line(str(exc))}")
    return CheckResult("dagster instance", True, f"DAGSTER_HOME {settings.dagster_home()}")


def _print(results: list[CheckResult]) -> None:
    table = Table(title="Setup check")
    table.add_column("check", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("detail")
    for result in results:
        verdict = Text("ok", "green") if result.passed else Text("FAILED", "red")
        table.add_row(console.literal(result.check), verdict, console.literal(result.detail))
    console.console.print(table)
    failed = sum(1 for r in results if not r.passed)
    if failed:
        console.console.print(f"{failed} of {len(results)} checks failed")
    else:
        console.console.print(f"all {len(results)} checks passed")
