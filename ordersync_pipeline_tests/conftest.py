"""Shared fixtures: a migrated database on SQLite and on a real Postgres server."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text

from ordersync_pipeline.db.engine import make_engine, upgrade

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


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path):
    """A fresh, migrated database URL: the same tests run on both engines."""
    if request.param == "sqlite":
        yield _migrated(f"sqlite:///{tmp_path / 'ordersync.db'}")
        return
    url = _migrated(_create_postgres_database())
    try:
        yield url
    finally:
        _drop_postgres_database(url)


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
