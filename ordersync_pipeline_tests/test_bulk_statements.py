"""Bulk writes carry every value as it was given: COPY's text format escapes what it must."""

from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import JSON, Column, DateTime, Integer, MetaData, String, Table, Text, select

from ordersync_pipeline.db.engine import make_engine
from ordersync_pipeline.db.statements import StagedRows, insert_rows, merge
from ordersync_pipeline.db.tables import Money

metadata = MetaData()
awkward = Table(
    "awkward",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(64)),
    Column("note", Text),
    Column("price", Money),
    Column("at", DateTime),
    Column("body", JSON),
)

ROWS = [
    {
        "id": 1,
        "name": "tab\there",
        "note": "line\nbreak\r\nand a back\\slash",
        "price": Decimal("12.30"),
        "at": datetime(2026, 11, 1, 12, 30, 5, 123456),
        "body": {"text": 'quote " tab \t newline \n back \\ slash', "n": [1, 2]},
    },
    {"id": 2, "name": "\\N", "note": "", "price": Decimal("0.10"), "at": None, "body": None},
    {"id": 3, "name": None, "note": None, "price": None, "at": datetime(2026, 1, 1), "body": ["ü", "€", "日本"]},
    {"id": 4, "name": "plain", "note": "N", "price": Decimal("-5"), "at": datetime(2026, 2, 2), "body": {}},
]


@pytest.fixture
def table(engine):
    metadata.create_all(engine)
    yield awkward
    metadata.drop_all(engine)


def _stored(engine):
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(select(awkward).order_by(awkward.c.id))]


def _expected():
    return [row | {"price": None if row["price"] is None else row["price"].quantize(Decimal("0.01"))} for row in ROWS]


def test_rows_inserted_in_bulk_read_back_as_they_were_given(engine, table):
    with engine.begin() as conn:
        insert_rows(conn, table, ROWS)
    assert _stored(engine) == _expected()


def test_rows_merged_from_stage_read_back_as_they_were_given(engine, table):
    with engine.begin() as conn:
        staged = StagedRows(conn.dialect, table, ROWS)
        assert merge(conn, staged, conflict=("id",), update=("name", "note", "price", "at", "body")) == len(ROWS)
    assert _stored(engine) == _expected()


def test_rows_copied_straight_into_their_table_read_back_as_they_were_given(postgres_url):
    engine = make_engine(postgres_url)  # a COPY straight into a table is Postgres's alone
    metadata.create_all(engine)
    try:
        with engine.begin() as conn:
            StagedRows(conn.dialect, awkward, ROWS).copy_into_table(conn)
        assert _stored(engine) == _expected()
    finally:
        engine.dispose()
