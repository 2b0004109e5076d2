"""Reading a stock file as spreadsheets write it: its encoding and its delimiter.

Accepted, found without being told:

* UTF-8, with or without a byte-order mark (Excel's "CSV UTF-8" writes one);
* UTF-16 with a byte-order mark (Excel's "Unicode text", tab-separated);
* Windows-1252, which is what a spreadsheet in a Western European locale saves as "CSV", and
  Latin-1 (ISO-8859-1), which Windows-1252 agrees with on every printable character;
* ``,``, ``;`` or a tab between columns: the one that splits the header into ``sku`` and
  ``on_hand`` (a French or German spreadsheet writes ``;``).

A file that is none of these is refused with the line and the byte that could not be read. A file
that is mostly UTF-8 with one broken byte is refused too, rather than read as Windows-1252 and
turned into other characters without a word.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

DELIMITERS = (",", ";", "\t")
REQUIRED = ("sku", "on_hand")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8", "UTF-8 with a byte-order mark"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16"),
)
#: a character of two to four bytes, well formed: a file that has one is UTF-8 text
_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
#: how workbooks begin (xlsx and ods are zip files; xls is an OLE file)
_WORKBOOKS = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")


class StockFileError(ValueError):
    """The file cannot be imported at all (missing, unreadable, or without ``sku``/``on_hand`` columns)."""


@dataclass(frozen=True)
class StockText:
    """A stock file's text, decoded, and the delimiter between its columns."""

    text: str
    encoding: str
    delimiter: str

    def rows(self) -> csv.DictReader:
        """The file's rows by header name; ``line_num`` counts the file's own lines."""
        return csv.DictReader(io.StringIO(self.text, newline=""), delimiter=self.delimiter)


def read_stock_file(path: Path) -> StockText:
    """Read and decode ``path``; ``StockFileError`` saying what could not be read, and where."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise StockFileError(f"stock file {path} does not exist") from None
    except OSError as exc:
        raise StockFileError(f"stock file {path} cannot be read ({exc.strerror or exc})") from None
    if not data.strip():
        raise StockFileError(f"stock file {path} is empty; it needs a header line with 'sku' and 'on_hand'")
    if data.startswith(_WORKBOOKS):
        raise StockFileError(f"stock file {path} is a spreadsheet workbook, not CSV text; save it as CSV")
    text, encoding = _decode(data, path)
    return StockText(text, encoding, _delimiter(text))


def _decode(data: bytes, path: Path) -> tuple[str, str]:
    for bom, codec, name in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(codec), name
            except UnicodeDecodeError as exc:
                raise StockFileError(_unreadable(path, data, len(bom) + exc.start, f"is not {name}")) from None
    if b"\x00" in data:
        raise StockFileError(_unreadable(path, data, data.index(b"\x00"), "is a NUL byte: this is not CSV text"))
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    if _UTF8_SEQUENCE.search(data):
        raise StockFileError(
            _unreadable(path, data, first_bad, "is not UTF-8, while the rest of the file is: fix that character")
        )
    try:
        return data.decode("cp1252"), "Windows-1252"
    except UnicodeDecodeError as exc:
        raise StockFileError(
            _unreadable(path, data, exc.start, "is not text in UTF-8, Windows-1252 or Latin-1; save it as CSV UTF-8")
        ) from None


def _unreadable(path: Path, data: bytes, offset: int, what: str) -> str:
    line = data.count(b"\n", 0, offset) + 1
    column = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
    return f"stock file {path}: line {line}, byte {column} (0x{data[offset]:02x}) {what}"


def _delimiter(text: str) -> str:
    """The delimiter that makes a header with ``sku`` and ``on_hand``; else the one that splits the
    header most (so that the importer's complaint shows the columns it found)."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    best, most = DELIMITERS[0], 0
    for delimiter in DELIMITERS:
        names = [name.strip() for name in next(csv.reader([header], delimiter=delimiter), [])]
        if all(name in names for name in REQUIRED):
            return delimiter
        if len(names) > most:
            best, most = delimiter, len(names)
    return best
