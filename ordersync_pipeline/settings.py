"""Where things live: the database URL, the data folder and the marketplace configuration file.

A folder that cannot be used is reported as a ``SetupProblem`` naming it and the variable that
chose it, before anything else trips over it with an error of its own.
"""

from __future__ import annotations

import os
from pathlib import Path

from ordersync_pipeline.problems import SetupProblem

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_CONFIG = PACKAGE_DIR / "config" / "marketplaces.yaml"


def data_dir() -> Path:
    """The local data folder of the embedded default (SQLite file, Dagster home)."""
    path = Path(os.environ.get("ORDERSYNC_DATA_DIR", "data")).resolve()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SetupProblem(
            f"the data folder {path} cannot be made ({exc.strerror}); check ORDERSYNC_DATA_DIR"
        ) from None
    writable_folder(path, "the data folder", "ORDERSYNC_DATA_DIR")
    return path


def database_url() -> str:
    url = os.environ.get("ORDERSYNC_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{data_dir() / 'ordersync.db'}"


def config_path() -> Path:
    """``ORDERSYNC_CONFIG``, else ``marketplaces.yaml`` in the working folder, else the packaged demo file."""
    explicit = os.environ.get("ORDERSYNC_CONFIG")
    if explicit:
        return Path(explicit)
    local = Path("marketplaces.yaml")
    return local if local.exists() else DEFAULT_CONFIG


def dagster_home() -> Path:
    """``DAGSTER_HOME``, checked to be a folder this user may write; without it, a home in the local
    data folder (made, with a ``dagster.yaml``, the first time), which ``DAGSTER_HOME`` then names."""
    named = os.environ.get("DAGSTER_HOME")
    if not named:
        home = data_dir() / "dagster_home"
        home.mkdir(parents=True, exist_ok=True)
        config = home / "dagster.yaml"
        if not config.exists():
            config.write_text("telemetry:\n  enabled: false\n")
        os.environ["DAGSTER_HOME"] = str(home)
        return home
    home = Path(named).expanduser().absolute()
    if not home.exists():
        raise SetupProblem(
            f"DAGSTER_HOME {home} does not exist; create the folder or unset DAGSTER_HOME to use data/dagster_home"
        )
    if not home.is_dir():
        raise SetupProblem(f"DAGSTER_HOME {home} is not a folder; point DAGSTER_HOME at the Dagster instance's folder")
    writable_folder(home, "DAGSTER_HOME", "DAGSTER_HOME")
    return home


def writable_folder(path: Path, what: str, variable: str) -> None:
    if not os.access(path, os.W_OK | os.X_OK):
        raise SetupProblem(f"{what} {path} may not be written by this user; check its permissions or {variable}")
