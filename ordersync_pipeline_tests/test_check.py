"""``ordersync check`` and the ``setup_is_sound`` asset check, against the Back Market and Refurbed
simulators, a real database and a real Dagster instance."""

from __future__ import annotations

import re
import socket
from datetime import UTC, datetime, timedelta

import pytest
from alembic.script import ScriptDirectory
from dagster import DagsterInstance

from ordersync_pipeline import console
from ordersync_pipeline.cli import main
from ordersync_pipeline.db.engine import alembic_config, current_revision, make_engine, migration_state, upgrade
from ordersync_pipeline.definitions import defs
from ordersync_pipeline.health import clock_check
from ordersync_pipeline.marketplaces.base import ConnectionCheck
from ordersync_pipeline.simulator import BackMarketSimulator, RefurbedSimulator

BM_TOKEN, RF_TOKEN = "bm-check-token-5e1f", "rf-check-token-90ad"


@pytest.fixture
def simulators():
    with (
        BackMarketSimulator(tokens={BM_TOKEN}, seed=3, orders=2, port=0) as bm,
        RefurbedSimulator(tokens={RF_TOKEN}, seed=3, orders=2, port=0) as rf,
    ):
        yield bm, rf


def _setup(tmp_path, monkeypatch, db_url, simulators):
    bm, rf = simulators
    config = tmp_path / "marketplaces.yaml"
    # One retry: a marketplace that is down is reported after one backoff, not four.
    config.write_text(
        "marketplaces:\n"
        f"  - {{code: backmarket-fr, kind: backmarket, base_url: '{bm.url}', token_env: BM_FR_TOKEN,"
        " settings: {max_retries: 1}}\n"
        f"  - {{code: refurbed-de, kind: refurbed, base_url: '{rf.url}', token_env: RF_DE_TOKEN,"
        " settings: {max_retries: 1}}\n"
    )
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    for name, value in {
        "ORDERSYNC_DATABASE_URL": db_url,
        "ORDERSYNC_CONFIG": str(config),
        "ORDERSYNC_DATA_DIR": str(tmp_path / "data"),
        "DAGSTER_HOME": str(home),
        "BM_FR_TOKEN": BM_TOKEN,
        "RF_DE_TOKEN": RF_TOKEN,
    }.items():
        monkeypatch.setenv(name, value)
    # Room for every detail on one line, so that the table reads back row by row.
    monkeypatch.setattr(console.console, "width", 400)


@pytest.fixture
def user_env(tmp_path, monkeypatch, db_url, simulators):
    _setup(tmp_path, monkeypatch, db_url, simulators)


def _rows(out: str) -> dict[str, tuple[str, str]]:
    """The table as {check: (result, detail)}."""
    rows = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip("│").split("│")]
        if len(cells) == 3 and cells[1] in ("ok", "FAILED"):
            rows[cells[0]] = (cells[1], cells[2])
    return rows


def _check(capsys, *argv: str) -> tuple[int, dict[str, tuple[str, str]], str]:
    status = main(["check", *argv])
    captured = capsys.readouterr()
    return status, _rows(captured.out), captured.out + captured.err


CHECKS = ("configuration", "database", "migrations", "dagster instance")
PER_MARKETPLACE = ("token", "connection", "clock")


def test_a_sound_setup_passes_every_check(user_env, capsys):
    status, rows, out = _check(capsys)

    assert status == 0, out
    expected = [*CHECKS] + [f"{code} {what}" for code in ("backmarket-fr", "refurbed-de") for what in PER_MARKETPLACE]
    assert list(rows) == expected
    assert all(result == "ok" for result, _ in rows.values())
    assert "took the token" in rows["refurbed-de connection"][1]
    assert f"all {len(expected)} checks passed" in out
    assert BM_TOKEN not in out and RF_TOKEN not in out


def test_a_refused_token_fails_its_marketplace_only(user_env, monkeypatch, capsys):
    wrong = "revoked-token-77aa"
    monkeypatch.setenv("BM_FR_TOKEN", wrong)

    status, rows, out = _check(capsys)

    assert status == 1
    result, detail = rows["backmarket-fr connection"]
    assert result == "FAILED" and "refused the credentials (HTTP 401)" in detail
    assert "backmarket-fr clock" not in rows
    assert rows["refurbed-de connection"][0] == "ok"
    assert "1 of 9 checks failed" in out
    assert wrong not in out


def test_a_marketplace_that_is_down_fails_its_connection(user_env, simulators, capsys):
    simulators[1].stop()

    status, rows, out = _check(capsys)

    assert status == 1
    result, detail = rows["refurbed-de connection"]
    assert result == "FAILED" and "cannot reach Refurbed" in detail and "connection was refused" in detail
    assert rows["backmarket-fr connection"][0] == "ok"


def test_a_missing_token_variable_is_named(user_env, monkeypatch, capsys):
    monkeypatch.delenv("RF_DE_TOKEN")

    status, rows, _ = _check(capsys)

    assert status == 1
    assert rows["refurbed-de token"] == ("FAILED", "environment variable RF_DE_TOKEN is not set")
    assert "refurbed-de connection" not in rows


def test_one_marketplace_by_code(user_env, capsys):
    status, rows, _ = _check(capsys, "--marketplace", "refurbed-de")

    assert status == 0
    assert [check for check in rows if check not in CHECKS] == [f"refurbed-de {what}" for what in PER_MARKETPLACE]


def test_a_database_behind_by_a_migration_is_reported_and_left_as_it_is(
    tmp_path, monkeypatch, empty_db_url, simulators, capsys
):
    engine = make_engine(empty_db_url)
    head = migration_state(engine).head
    previous = ScriptDirectory.from_config(alembic_config(engine)).get_revision(head).down_revision
    upgrade(engine, previous)
    _setup(tmp_path, monkeypatch, empty_db_url, simulators)

    status, rows, _ = _check(capsys)

    assert status == 1
    assert rows["migrations"] == (
        "FAILED",
        f"at revision {previous}, 1 migration(s) behind {head}; run `ordersync db upgrade`",
    )
    assert rows["database"][0] == "ok"
    assert current_revision(engine) == previous  # the check changed nothing
    engine.dispose()


@pytest.mark.parametrize(
    ("server_ahead", "passed", "complaint"),
    [
        (timedelta(seconds=20), True, "within 20 s"),
        (timedelta(minutes=-1), True, "within 60 s"),
        (timedelta(minutes=5, seconds=3), False, "5 min 3 s behind the marketplace's"),
        (timedelta(hours=-2), False, "2 h ahead of the marketplace's"),
    ],
)
def test_the_clock_is_compared_with_the_marketplaces_date(server_ahead, passed, complaint):
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    result = clock_check("bm", ConnectionCheck(server_time=now + server_ahead, local_time=now))
    assert result.passed is passed
    assert complaint in result.detail


def test_the_date_header_is_read_as_the_marketplaces_clock():
    check = ConnectionCheck.from_date_header("Sun, 01 Mar 2026 12:00:00 GMT")
    assert check.server_time == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert ConnectionCheck.from_date_header("not a date").clock_skew is None


def _setup_check_evaluation():
    with DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("check_setup").execute_in_process(instance=instance, raise_on_error=False)
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation


def test_the_dagster_check_passes_on_a_sound_setup(user_env):
    evaluation = _setup_check_evaluation()
    assert evaluation.check_name == "setup_is_sound"
    assert evaluation.passed, evaluation.description


def test_the_dagster_check_fails_naming_a_revoked_token(user_env, monkeypatch):
    monkeypatch.setenv("RF_DE_TOKEN", "revoked-in-the-night")

    evaluation = _setup_check_evaluation()

    assert not evaluation.passed
    assert re.search(r"refurbed-de connection: .*HTTP 401", evaluation.description)
    assert evaluation.metadata["failed"].value == [evaluation.description]
    assert "revoked-in-the-night" not in evaluation.description


def test_an_unreachable_database_fails_without_its_password(tmp_path, monkeypatch, simulators, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    _setup(tmp_path, monkeypatch, f"postgresql://ordersync:pw-7c1e@127.0.0.1:{closed}/ordersync", simulators)

    status, rows, out = _check(capsys)

    assert status == 1
    result, detail = rows["database"]
    assert result == "FAILED" and "ordersync:***@127.0.0.1" in detail and "is the database server running" in detail
    assert "migrations" not in rows
    assert rows["backmarket-fr connection"][0] == "ok"  # the marketplaces are checked all the same
    assert "pw-7c1e" not in out


def test_a_sqlite_file_not_made_yet_is_reported_and_not_made(tmp_path, monkeypatch, simulators, capsys):
    path = tmp_path / "new.db"
    _setup(tmp_path, monkeypatch, f"sqlite:///{path}", simulators)

    status, rows, _ = _check(capsys)

    assert status == 1
    assert rows["database"] == ("FAILED", f"sqlite:///{path} does not exist yet; run `ordersync db upgrade`")
    assert not path.exists()
