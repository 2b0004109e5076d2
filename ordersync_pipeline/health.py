"""Is the setup sound? The checks behind ``ordersync check`` and the ``setup_is_sound`` asset check.

Each check says what it looked at, whether it passed, and what it found; none of them changes
anything (the database is read, never migrated) and each marketplace gets one cheap request,
paced like any other.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from ordersync_pipeline.db.engine import MigrationState, connect, make_engine, migration_state
from ordersync_pipeline.db.errors import DatabaseUnusable, shown
from ordersync_pipeline.db.tables import marketplaces
from ordersync_pipeline.marketplaces.base import ConnectionCheck, MarketplaceConfig, MarketplaceError
from ordersync_pipeline.marketplaces.registry import (
    ConfigError,
    MarketplaceEntry,
    adapter_class,
    find_marketplace,
    load_config,
)
from ordersync_pipeline.problems import SetupProblem, one_line

#: how far the marketplace's clock may be from ours. Sync windows are computed from our clock and
#: overlap by ten minutes; a minute off leaves most of that margin, and is more than any clock kept
#: by NTP drifts.
MAX_CLOCK_SKEW = timedelta(seconds=60)
_UPGRADE = "run `ordersync db upgrade`"


@dataclass(frozen=True)
class CheckResult:
    check: str
    passed: bool
    detail: str


def check_setup(
    database_url: str,
    config_path: Path,
    marketplace: str | None = None,
    *more: Callable[[], CheckResult],
) -> list[CheckResult]:
    """The checks in order: the configuration, the database, ``more`` (the command line adds the
    Dagster instance), then each marketplace's token, connection and clock. ``marketplace`` (an id
    or a code) limits the marketplace checks to that one."""
    results: list[CheckResult] = []
    entries = _configuration(config_path, results)
    database_ok = _database(database_url, results)
    results.extend(check() for check in more)
    if entries is None:
        return results
    chosen = _chosen(entries, marketplace, database_url if database_ok else None)
    ids = _marketplace_ids(database_url) if database_ok else {}
    for entry in chosen:
        results.extend(check_marketplace(entry, ids.get(entry.code, 0)))
    return results


def _configuration(path: Path, results: list[CheckResult]) -> list[MarketplaceEntry] | None:
    try:
        entries = load_config(path)
    except ConfigError as exc:
        results.append(CheckResult("configuration", False, str(exc)))
        return None
    active = sum(1 for e in entries if e.active)
    results.append(CheckResult("configuration", True, f"{path}: {len(entries)} marketplace(s), {active} active"))
    return entries


def _database(url: str, results: list[CheckResult]) -> bool:
    try:
        engine = make_engine(url)
    except SetupProblem as exc:
        results.append(CheckResult("database", False, str(exc)))
        return False
    if engine.dialect.name == "sqlite" and engine.url.database and not Path(engine.url.database).exists():
        # Connecting would make the file: the check leaves that to the first command that uses it.
        results.append(CheckResult("database", False, f"{shown(engine.url)} does not exist yet; {_UPGRADE}"))
        engine.dispose()
        return False
    try:
        try:
            state = migration_state(engine)
        except DatabaseUnusable as exc:
            results.append(CheckResult("database", False, str(exc)))
            return False
        results.append(CheckResult("database", True, f"reachable: {shown(engine.url)}"))
        results.append(_migrations(state))
        return True
    finally:
        engine.dispose()


def _migrations(state: MigrationState) -> CheckResult:
    fix = _UPGRADE
    if state.behind == 0:
        return CheckResult("migrations", True, f"at revision {state.head}, the current one")
    if state.current is None:
        return CheckResult("migrations", False, f"not migrated yet ({state.behind} migrations to apply); {fix}")
    if state.behind is None:
        return CheckResult(
            "migrations",
            False,
            f"at revision {state.current}, which this version of ordersync does not know "
            f"(its newest is {state.head}): is the code older than the database?",
        )
    return CheckResult(
        "migrations", False, f"at revision {state.current}, {state.behind} migration(s) behind {state.head}; {fix}"
    )


def _chosen(
    entries: list[MarketplaceEntry], marketplace: str | None, database_url: str | None
) -> list[MarketplaceEntry]:
    if marketplace is None:
        return [e for e in entries if e.active]
    code = marketplace
    if marketplace.isdigit():
        if database_url is None:
            raise ConfigError(f"marketplace id {marketplace} cannot be looked up without the database; give its code")
        engine = make_engine(database_url)
        try:
            with connect(engine) as conn:
                code = find_marketplace(conn, marketplace).code
        finally:
            engine.dispose()
    found = [e for e in entries if e.code == code]
    if not found:
        raise ConfigError(f"no marketplace with id or code {marketplace!r} in the configuration")
    return found


def _marketplace_ids(database_url: str) -> dict[str, int]:
    engine = make_engine(database_url)
    try:
        with connect(engine) as conn:
            return dict(conn.execute(select(marketplaces.c.code, marketplaces.c.id)).all())
    except DBAPIError:  # a database not migrated yet has no table: the ids only go into the adapters' config
        return {}
    finally:
        engine.dispose()


def check_marketplace(entry: MarketplaceEntry, marketplace_id: int = 0) -> Iterator[CheckResult]:
    """The token variable set; the marketplace reachable and taking the token; its clock near ours."""
    token = os.environ.get(entry.token_env)
    if not token:
        yield CheckResult(f"{entry.code} token", False, f"environment variable {entry.token_env} is not set")
        return
    yield CheckResult(f"{entry.code} token", True, f"{entry.token_env} is set")
    config = MarketplaceConfig(
        id=marketplace_id,
        code=entry.code,
        kind=entry.kind,
        base_url=entry.base_url,
        token=token,
        locale=entry.locale,
        settings=dict(entry.settings),
    )
    adapter = adapter_class(entry.kind)(config)
    try:
        connection = adapter.check_connection()
    except MarketplaceError as exc:
        yield CheckResult(f"{entry.code} connection", False, one_line(str(exc)))
        return
    finally:
        adapter.close()
    yield CheckResult(f"{entry.code} connection", True, f"{entry.base_url} answered and took the token")
    yield clock_check(entry.code, connection)


def clock_check(code: str, connection: ConnectionCheck) -> CheckResult:
    skew = connection.clock_skew
    if skew is None:
        return CheckResult(f"{code} clock", True, "the marketplace sent no Date header: not compared")
    seconds = abs(skew.total_seconds())
    if seconds <= MAX_CLOCK_SKEW.total_seconds():
        return CheckResult(f"{code} clock", True, f"within {max(1, round(seconds))} s of the marketplace's")
    way = "behind" if skew > timedelta(0) else "ahead of"
    return CheckResult(
        f"{code} clock",
        False,
        f"this machine's clock is {_duration(seconds)} {way} the marketplace's (allowed {MAX_CLOCK_SKEW.seconds} s); "
        "set it right (NTP): sync windows are computed from it",
    )


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return " ".join(f"{n} {unit}" for n, unit in ((hours, "h"), (minutes, "min"), (rest, "s")) if n) or "0 s"
