"""Where things live: the database URL, the data folder and the marketplace configuration file."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_CONFIG = PACKAGE_DIR / "config" / "marketplaces.yaml"


def data_dir() -> Path:
    """The local data folder of the embedded default (SQLite file, Dagster home)."""
    path = Path(os.environ.get("ORDERSYNC_DATA_DIR", "data")).resolve()
    path.mkdir(parents=True, exist_ok=True)
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
