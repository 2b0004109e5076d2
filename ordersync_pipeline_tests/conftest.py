"""Shared fixtures: a migrated database on SQLite and on a real Postgres server, a marketplace row in
it, and a fake Back Market and a fake Refurbed server, each with an adapter talking to it."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text

from ordersync_pipeline.db.engine import make_engine, upgrade
from ordersync_pipeline.marketplaces.registry import MarketplaceEntry, find_marketplace, upsert_marketplaces
from ordersync_pipeline_tests.backmarket_fake import FakeBackMarket, make_adapter
from ordersync_pipeline_tests.fake_http import serving
from ordersync_pipeline_tests.refurbed_fake import FakeRefurbed
from ordersync_pipeline_tests.refurbed_fake import make_adapter as make_refurbed_adapter

POSTGRES_ADMIN_URL = os.environ.get(
    "ORDERSYNC_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)


def _create_postgres_database() -> str:
    name = f"ordersync_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def _drop_postgres_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _migrated(url: str) -> str:
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture(autouse=True)
def own_data_folder(tmp_path_factory, monkeypatch):
    """Give each test a data folder of its own (SQLite file, pacing store, Dagster home): the tests run
    in several processes at once, and a request budget shared by accident is a test of nothing."""
    monkeypatch.setenv("ORDERSYNC_DATA_DIR", str(tmp_path_factory.mktemp("data")))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)


@pytest.fixture(params=["sqlite", "postgres"])
def empty_db_url(request, tmp_path):
    """A fresh database URL with no tables yet, on each engine (for tests of the migrations)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ordersync.db'}"
        return
    url = _create_postgres_database()
    try:
        yield url
    finally:
        _drop_postgres_database(url)


@pytest.fixture
def db_url(empty_db_url):
    """A fresh, migrated database URL: the same tests run on both engines."""
    return _migrated(empty_db_url)


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_url():
    """A fresh, migrated Postgres database, for tests about concurrency that SQLite cannot show."""
    url = _migrated(_create_postgres_database())
    try:
        yield url
    finally:
        _drop_postgres_database(url)


@pytest.fixture
def marketplace_id(engine):
    """A Back Market marketplace row in ``engine``'s database; its id."""
    upsert_marketplaces(
        engine, [MarketplaceEntry(code="bm-test", kind="backmarket", base_url="http://x", token_env="T")]
    )
    with engine.connect() as conn:
        return find_marketplace(conn, "bm-test").id


@pytest.fixture
def bm():
    """A fake Back Market on loopback, answering from the routes a test gives it."""
    with serving(FakeBackMarket()) as fake:
        yield fake


@pytest.fixture
def rf():
    """A fake Refurbed on loopback, answering from the routes a test gives it."""
    with serving(FakeRefurbed()) as fake:
        yield fake


@pytest.fixture
def rf_adapter(rf):
    """A Refurbed adapter talking to ``rf``."""
    adapter = make_refurbed_adapter(rf.url)
    yield adapter
    adapter.close()


@pytest.fixture
def adapter(bm):
    """A Back Market adapter talking to ``bm``."""
    adapter = make_adapter(bm.url)
    yield adapter
    adapter.close()
