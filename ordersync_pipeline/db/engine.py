"""Engines for the embedded SQLite default and for Postgres, and applying the migrations."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, NoSuchModuleError

from ordersync_pipeline import settings
from ordersync_pipeline.db.errors import DatabaseUnusable, check_sqlite_file, parse_url, shown, unusable

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Any constant will do: it names the lock that keeps two processes from migrating at once.
_MIGRATION_LOCK_ID = 7_261_001


def json_text(value: object) -> str:
    """Write a JSON column's value with orjson, compact: a full sync writes an event payload per
    change, and the standard library's encoder is the slower one."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def make_engine(url: str | None = None) -> Engine:
    """Make an engine for ``url``; raise ``DatabaseUnusable`` (one line, no password) if the URL cannot work."""
    url = url or settings.database_url()
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        check_sqlite_file(parsed)
    try:
        return _create(url)
    except (NoSuchModuleError, ImportError) as exc:
        raise DatabaseUnusable(
            f"the database URL {shown(parsed)} names {parsed.drivername!r}, which is not installed here "
            f"({exc}); ordersync works with sqlite:/// and postgresql+psycopg2://"
        ) from None


def _create(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60}, json_serializer=json_text)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg2://" + url[len("postgresql://") :]
    return create_engine(url, pool_pre_ping=True, json_serializer=json_text)


@cache
def shared_engine(url: str) -> Engine:
    """Return the one engine of this process for ``url``, so that connection pools are reused."""
    return make_engine(url)


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return cfg


def connect(engine: Engine) -> Connection:
    """Connect; raise ``DatabaseUnusable`` saying what to check if the database cannot be reached."""
    try:
        return engine.connect()
    except DBAPIError as exc:
        raise unusable(exc, engine.url) from exc


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply the migrations up to ``revision`` (serialised between processes on Postgres)."""
    with connect(engine) as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK_ID})
        cfg = alembic_config(engine)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@dataclass(frozen=True)
class MigrationState:
    """Where a database stands against this code's migrations."""

    current: str | None
    head: str
    #: migrations still to apply; ``None`` when ``current`` is a revision this code does not know
    behind: int | None


def migration_state(engine: Engine) -> MigrationState:
    """Read the database's revision and count the migrations it lacks, without applying any."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from alembic.script.revision import RevisionError

    script = ScriptDirectory.from_config(alembic_config(engine))
    head = script.get_current_head()
    with connect(engine) as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    try:
        behind = sum(1 for _ in script.iterate_revisions(head, current)) if current != head else 0
    except RevisionError:
        behind = None
    return MigrationState(current, head, behind)
