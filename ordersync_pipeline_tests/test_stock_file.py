"""Stock files as spreadsheets write them: encodings, byte-order marks and delimiters are found,
and what cannot be read is named by line and byte."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ordersync_pipeline.db.tables import inventory
from ordersync_pipeline.stock import StockFileError, import_stock
from ordersync_pipeline.stock.stock_file import read_stock_file

ROWS = [("sku", "on_hand"), ("IPH13-128-BLK-A", "5"), ("Écran-Größe-ÀÉ", "2")]


def _write(tmp_path, content: bytes, name: str = "stock.csv"):
    path = tmp_path / name
    path.write_bytes(content)
    return path


def _table(delimiter: str, newline: str = "\r\n") -> str:
    return "".join(delimiter.join(row) + newline for row in ROWS)


@pytest.mark.parametrize(
    ("content", "encoding", "delimiter"),
    [
        (_table(",").encode("utf-8"), "UTF-8", ","),
        (b"\xef\xbb\xbf" + _table(",").encode("utf-8"), "UTF-8 with a byte-order mark", ","),
        (_table(";").encode("cp1252"), "Windows-1252", ";"),
        (_table(";", "\n").encode("latin-1"), "Windows-1252", ";"),
        (_table("\t").encode("utf-16"), "UTF-16", "\t"),
        (b"\xef\xbb\xbf" + _table("\t").encode("utf-8"), "UTF-8 with a byte-order mark", "\t"),
    ],
    ids=["utf8-comma", "utf8-bom", "windows1252-semicolon", "latin1-semicolon", "utf16-tab", "bom-tab"],
)
def test_spreadsheet_forms_are_read_as_the_same_rows(tmp_path, content, encoding, delimiter):
    stock_file = read_stock_file(_write(tmp_path, content))

    assert (stock_file.encoding, stock_file.delimiter) == (encoding, delimiter)
    assert [(row["sku"], row["on_hand"]) for row in stock_file.rows()] == ROWS[1:]


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        # 0x81 is not a character in Windows-1252, and no UTF-8 either.
        (b"sku;on_hand\nA;1\nB\x81C;2\n", "line 3, byte 2 (0x81) is not text in UTF-8, Windows-1252 or Latin-1"),
        # UTF-8 "é" on line 2, then a lone Windows-1252 "é" on line 3: damaged, not guessed at.
        (b"sku,on_hand\nCaf\xc3\xa9,1\nCaf\xe9,2\n", "line 3, byte 4 (0xe9) is not UTF-8, while the rest"),
        (b"sku,on_hand\nA\x00,1\n", "line 2, byte 2 (0x00) is a NUL byte"),
        (b"PK\x03\x04\x14\x00\x06\x00", "is a spreadsheet workbook, not CSV text"),
        (b"\n\r\n", "is empty"),
    ],
    ids=["undefined-byte", "mixed-utf8", "nul", "xlsx", "empty"],
)
def test_what_cannot_be_read_is_named_by_line_and_byte(tmp_path, content, complaint):
    with pytest.raises(StockFileError) as raised:
        read_stock_file(_write(tmp_path, content))
    assert complaint in str(raised.value)


def test_a_folder_is_not_a_stock_file(tmp_path):
    with pytest.raises(StockFileError, match="cannot be read"):
        read_stock_file(tmp_path)


def test_a_semicolon_windows_1252_file_imports_with_its_line_numbers(engine, tmp_path):
    content = "sku;on_hand\r\nÉCRAN-A;3\r\nGRÖSSE-B;x\r\nÇA-C;4\r\n".encode("cp1252")
    report = import_stock(engine, _write(tmp_path, content))

    assert [str(e) for e in report.errors] == ["line 3: on_hand 'x' is not an integer"]
    with engine.connect() as conn:
        stored = dict(conn.execute(select(inventory.c.sku, inventory.c.on_hand)).all())
    assert stored == {"ÉCRAN-A": 3, "ÇA-C": 4}
