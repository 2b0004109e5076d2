"""One mistake at a time, as a new user makes them: the real ``ordersync`` command, in a process of
its own, must exit 1 with exactly one line naming the problem, no traceback and no secret."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from ordersync_pipeline.simulator.backmarket import BackMarketSimulator

ORDERSYNC = str(Path(sys.executable).parent / "ordersync")
TOKEN = "bm-token-first-hour-4c2d"
WRONG_TOKEN = "revoked-token-0b7e"
PASSWORD = "pg-secret-pw-61f3"
SECRETS = (TOKEN, WRONG_TOKEN, PASSWORD)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def simulator():
    with BackMarketSimulator(tokens={TOKEN}, seed=11, orders=1, port=0) as sim:
        yield sim


@dataclass
class Setup:
    """A sound setup in a folder of its own; each case spoils one thing of it."""

    tmp: Path
    env: dict[str, str]

    def file(self, name: str, content: str | bytes) -> Path:
        path = self.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        return path

    def config(self, text: str) -> None:
        self.env["ORDERSYNC_CONFIG"] = str(self.file("spoiled.yaml", text))


def _marketplace(base_url: str, code: str = "backmarket-fr", kind: str = "backmarket") -> str:
    return (
        "marketplaces:\n"
        f"  - code: {code}\n"
        f"    kind: {kind}\n"
        f"    base_url: {base_url}\n"
        "    token_env: BM_FR_TOKEN\n"
        "    settings: {max_retries: 0, rate_limit: null}\n"
    )


@pytest.fixture
def setup(tmp_path, simulator) -> Setup:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    config = tmp_path / "marketplaces.yaml"
    config.write_text(_marketplace(simulator.url))
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "ORDERSYNC_DATA_DIR": str(tmp_path / "data"),
        "ORDERSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'ordersync.db'}",
        "ORDERSYNC_CONFIG": str(config),
        "DAGSTER_HOME": str(home),
        "BM_FR_TOKEN": TOKEN,
    }
    return Setup(tmp_path, env)


def _db(url: str):
    def spoil(s: Setup) -> list[str]:
        s.env["ORDERSYNC_DATABASE_URL"] = url.format(tmp=s.tmp, closed=_closed_port(), pw=PASSWORD)
        return ["marketplaces"]

    return spoil


def _sqlite_not_a_database(s: Setup) -> list[str]:
    s.env["ORDERSYNC_DATABASE_URL"] = f"sqlite:///{s.file('notes.txt', 'shopping list: milk, eggs' * 50)}"
    return ["marketplaces"]


def _sqlite_file_is_a_folder(s: Setup) -> list[str]:
    (s.tmp / "order-book").mkdir()
    s.env["ORDERSYNC_DATABASE_URL"] = f"sqlite:///{s.tmp / 'order-book'}"
    return ["marketplaces"]


def _data_dir_under_a_file(s: Setup) -> list[str]:
    s.file("plain-file", "x")
    s.env["ORDERSYNC_DATA_DIR"] = str(s.tmp / "plain-file" / "data")
    del s.env["ORDERSYNC_DATABASE_URL"]  # the default SQLite file lives in the data folder
    return ["marketplaces"]


def _dagster_home(kind: str):
    def spoil(s: Setup) -> list[str]:
        home = Path(s.env["DAGSTER_HOME"])
        if kind == "missing":
            s.env["DAGSTER_HOME"] = str(s.tmp / "no-such-home")
        elif kind == "file":
            s.env["DAGSTER_HOME"] = str(s.file("home-file", "x"))
        elif kind == "bad yaml":
            (home / "dagster.yaml").write_text("run_storage: [\n")
        else:
            (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\nrun_stroage: {}\n")
        return ["stock", "apply"]

    return spoil


def _config_text(text: str):
    def spoil(s: Setup) -> list[str]:
        s.config(text)
        return ["marketplaces"]

    return spoil


def _config_missing(s: Setup) -> list[str]:
    s.env["ORDERSYNC_CONFIG"] = str(s.tmp / "no-such-file.yaml")
    return ["marketplaces"]


def _config_is_a_folder(s: Setup) -> list[str]:
    s.env["ORDERSYNC_CONFIG"] = str(s.tmp)
    return ["marketplaces"]


def _config_not_utf8(s: Setup) -> list[str]:
    s.env["ORDERSYNC_CONFIG"] = str(
        s.file("latin.yaml", _marketplace("http://x").replace("backmarket-fr", "b") + "# caf\xe9")
    )
    Path(s.env["ORDERSYNC_CONFIG"]).write_bytes(Path(s.env["ORDERSYNC_CONFIG"]).read_text().encode("latin-1"))
    return ["marketplaces"]


def _stock_file(content: bytes | None):
    def spoil(s: Setup) -> list[str]:
        path = s.tmp / "no-such-stock.csv" if content is None else s.file("stock.csv", content)
        return ["stock", "import", str(path)]

    return spoil


def _token_unset(s: Setup) -> list[str]:
    del s.env["BM_FR_TOKEN"]
    return ["sync", "--type", "new", "--no-stock"]


def _token_refused(s: Setup) -> list[str]:
    s.env["BM_FR_TOKEN"] = WRONG_TOKEN
    return ["sync", "--type", "new", "--no-stock"]


def _marketplace_unreachable(s: Setup) -> list[str]:
    s.config(_marketplace(f"http://127.0.0.1:{_closed_port()}"))
    return ["sync", "--type", "new", "--no-stock"]


def _argv(*argv: str):
    return lambda _s: list(argv)


CASES = {
    # what is wrong: (how to make it so, what the one line must say)
    "postgres not running": (
        _db("postgresql://ordersync:{pw}@127.0.0.1:{closed}/ordersync"),
        ["cannot use the database postgresql+psycopg2://ordersync:***@127.0.0.1:", "is the database server running"],
    ),
    "postgres refuses the login": (
        _db("postgresql+psycopg2://no_such_role:{pw}@127.0.0.1:5432/postgres"),
        ['role "no_such_role" does not exist', "the server refused the login"],
    ),
    "postgres database missing": (
        _db("postgresql+psycopg2://postgres:{pw}@127.0.0.1:5432/ordersync_no_such_db"),
        ['database "ordersync_no_such_db" does not exist', "createdb"],
    ),
    "url unparsable": (_db("notaurl"), ["database URL 'notaurl' cannot be parsed", "ORDERSYNC_DATABASE_URL"]),
    "url with a bad port": (
        _db("postgresql://ordersync:{pw}@db:port/x"),
        ["ordersync:***@db:port/x", "cannot be parsed"],
    ),
    "url of a driver not installed": (
        _db("mysql://ordersync:{pw}@127.0.0.1/x"),
        ["names 'mysql', which is not installed"],
    ),
    "sqlite folder missing": (
        _db("sqlite:///{tmp}/nowhere/ordersync.db"),
        ["nowhere does not exist; create it or fix"],
    ),
    "sqlite file is a folder": (_sqlite_file_is_a_folder, ["order-book is a folder, not a file"]),
    "sqlite file not a database": (_sqlite_not_a_database, ["notes.txt: file is not a database"]),
    "data folder under a file": (_data_dir_under_a_file, ["the data folder", "cannot be made", "ORDERSYNC_DATA_DIR"]),
    "dagster home missing": (_dagster_home("missing"), ["DAGSTER_HOME", "no-such-home does not exist"]),
    "dagster home is a file": (_dagster_home("file"), ["DAGSTER_HOME", "home-file is not a folder"]),
    "dagster.yaml not yaml": (_dagster_home("bad yaml"), ["the Dagster instance in", "cannot be loaded", "line 2"]),
    "dagster.yaml unknown key": (_dagster_home("bad key"), ['unexpected config entry "run_stroage"']),
    "marketplace file missing": (_config_missing, ["no-such-file.yaml does not exist; check ORDERSYNC_CONFIG"]),
    "marketplace file is a folder": (_config_is_a_folder, ["cannot be read (Is a directory)"]),
    "marketplace file not UTF-8": (_config_not_utf8, ["latin.yaml is not UTF-8 text (byte 0xe9"]),
    "marketplace file bad yaml": (
        _config_text("marketplaces:\n  - code: bm\n\tkind: backmarket\n"),
        ["is not valid YAML", "'\\t'", "line 3, column 1"],
    ),
    "marketplace file empty": (_config_text(""), ["is empty; it needs a 'marketplaces:' list"]),
    "marketplace code with a space": (
        _config_text(_marketplace("http://x", code="backmarket fr")),
        ["marketplaces.0.code: String should match pattern '^[a-z0-9][a-z0-9-]{0,62}$' (it is 'backmarket fr')"],
    ),
    "marketplace kind unknown": (
        _config_text(_marketplace("http://x", kind="amazon")),
        ["unknown marketplace kind 'amazon'"],
    ),
    "stock file missing": (_stock_file(None), ["no-such-stock.csv does not exist"]),
    "stock file in no known encoding": (
        _stock_file(b"sku;on_hand\nB\x81C;2\n"),
        ["line 2, byte 2 (0x81) is not text in UTF-8, Windows-1252 or Latin-1"],
    ),
    "stock file half UTF-8": (
        _stock_file(b"sku,on_hand\nCaf\xc3\xa9,1\nCaf\xe9,2\n"),
        ["line 3, byte 4 (0xe9) is not UTF-8"],
    ),
    "stock file is a workbook": (_stock_file(b"PK\x03\x04\x14\x00\x06\x00rest"), ["is a spreadsheet workbook"]),
    "stock file without the columns": (_stock_file(b"product;qty\nA;1\n"), ["needs 'sku' and 'on_hand' columns"]),
    "token variable unset": (_token_unset, ["environment variable BM_FR_TOKEN is not set"]),
    "token refused": (_token_refused, ["Back Market refused the credentials (HTTP 401)", "check the token"]),
    "marketplace unreachable": (_marketplace_unreachable, ["cannot reach Back Market", "connection was refused"]),
    "unknown marketplace": (_argv("sync", "--marketplace", "nope"), ["no marketplace with id or code 'nope'"]),
    "bad option": (_argv("sync", "--page-size", "0"), ["outside 1..100"]),
    "unknown sync type": (_argv("sync", "--type", "everything"), ["invalid choice: 'everything'"]),
}


def _run(setup: Setup, argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [ORDERSYNC, *argv], cwd=setup.tmp, env=setup.env, capture_output=True, text=True, timeout=240, check=False
    )


@pytest.mark.parametrize("case", list(CASES))
def test_a_misconfiguration_is_one_line_and_exit_status_1(setup, case):
    spoil, says = CASES[case]
    argv = spoil(setup)

    done = _run(setup, argv)

    output = done.stdout + done.stderr
    lines = [line for line in output.splitlines() if line.strip()]
    assert done.returncode == 1, output
    assert len(lines) == 1, output
    assert "error:" in lines[0]
    for fragment in says:
        assert fragment in lines[0]
    assert "Traceback" not in output
    for secret in SECRETS:
        assert secret not in output


def test_verbose_shows_the_traceback_as_well(setup):
    setup.env["ORDERSYNC_DATABASE_URL"] = "notaurl"

    done = _run(setup, ["-v", "marketplaces"])

    assert done.returncode == 1
    assert "Traceback" in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("error: the database URL 'notaurl' cannot be parsed")


SPREADSHEET_EXPORTS = {
    # what a spreadsheet in a French or German locale saves as "CSV": Windows-1252, ';' between columns
    "windows-1252 with semicolons": "sku;on_hand\r\nÉCRAN-A;3\r\nGRÖSSE-B;4\r\n".encode("cp1252"),
    "utf-8 with a byte-order mark and tabs": b"\xef\xbb\xbf" + "sku\ton_hand\nÉCRAN-A\t3\nGRÖSSE-B\t4\n".encode(),
    "latin-1 with commas": "sku,on_hand\nÉCRAN-A,3\nGRÖSSE-B,4\n".encode("latin-1"),
}


@pytest.mark.parametrize("form", list(SPREADSHEET_EXPORTS))
def test_a_stock_file_as_spreadsheets_write_it_is_imported(setup, form):
    path = setup.file("stock.csv", SPREADSHEET_EXPORTS[form])

    done = _run(setup, ["stock", "import", str(path)])

    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Imported 2 SKUs and 0 listings from {path}" in done.stdout
    assert done.stderr == ""
    summary = _run(setup, ["stock", "summary"]).stdout
    assert "ÉCRAN-A" in summary and "GRÖSSE-B" in summary


def test_text_from_a_stock_file_is_printed_as_written(setup):
    # Brackets are rich markup to a terminal library: a SKU that has them must keep them.
    path = setup.file("stock.csv", b"sku;on_hand\n[b]PIXEL[/b]-7;2\n[b]PIXEL[/b]-7;3\n")

    done = _run(setup, ["stock", "import", str(path)])

    assert done.returncode == 1
    assert f"{path}: line 3: sku '[b]PIXEL[/b]-7' appears twice (the first row is kept)" in done.stderr
    assert "[b]PIXEL[/b]-7" in _run(setup, ["stock", "summary"]).stdout
