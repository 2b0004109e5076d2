"""Marketplaces as data: the YAML configuration, its rows in ``marketplaces``, and the adapter for a row."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import Connection, Engine, select

from ordersync_pipeline.db.tables import marketplaces, utcnow
from ordersync_pipeline.marketplaces.base import (
    AuthenticationError,
    MarketplaceAdapter,
    MarketplaceConfig,
)
from ordersync_pipeline.marketplaces.parsing import known

# kind -> "module:Class". A new marketplace kind is one line here and a package beside base.py.
ADAPTERS: dict[str, str] = {
    "backmarket": "ordersync_pipeline.marketplaces.backmarket.adapter:BackMarketAdapter",
    "refurbed": "ordersync_pipeline.marketplaces.refurbed.adapter:RefurbedAdapter",
}


class MarketplaceEntry(BaseModel):
    """One marketplace of the configuration file."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    kind: str
    name: str | None = None
    base_url: str
    token_env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    locale: str = "fr-fr"
    active: bool = True
    settings: dict[str, Any] = Field(default_factory=dict)

    _known_kind = field_validator("kind")(known("marketplace kind", ADAPTERS, lambda c: ", ".join(sorted(c))))


class ConfigFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    marketplaces: list[MarketplaceEntry]


class ConfigError(ValueError):
    pass


def load_config(path: Path) -> list[MarketplaceEntry]:
    where = f"marketplace configuration {path}"
    try:
        raw = yaml.safe_load(Path(path).read_bytes().decode("utf-8-sig"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{where} does not exist; check ORDERSYNC_CONFIG") from exc
    except OSError as exc:
        raise ConfigError(f"{where} cannot be read ({exc.strerror or exc}); check ORDERSYNC_CONFIG") from exc
    except UnicodeDecodeError as exc:
        byte = f"byte 0x{exc.object[exc.start]:02x} at offset {exc.start}"
        raise ConfigError(f"{where} is not UTF-8 text ({byte}); save it as UTF-8") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where} is not valid YAML: {_yaml_problem(exc)}") from exc
    if raw is None:
        raise ConfigError(f"{where} is empty; it needs a 'marketplaces:' list")
    try:
        entries = ConfigFile.model_validate(raw).marketplaces
    except ValidationError as exc:
        problems = "; ".join(_field_problem(e) for e in exc.errors())
        raise ConfigError(f"{where}: {problems}") from exc
    codes = [e.code for e in entries]
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    if duplicates:
        raise ConfigError(f"marketplace configuration {path}: duplicate code(s) {', '.join(duplicates)}")
    return entries


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """A YAML error in one line: what, and where (line and column from 1)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return " ".join(f"{problem}{where}".split())


def _field_problem(error: Any) -> str:
    """A field that failed validation: where in the file, what is wrong, and the value if it is short."""
    if not error["loc"]:
        return "the file must be a mapping with a 'marketplaces:' list"
    where = ".".join(map(str, error["loc"]))
    value = error.get("input")
    shown = f" (it is {value!r})" if isinstance(value, str | int | float) and len(repr(value)) <= 80 else ""
    return f"{where}: {error['msg']}{shown}"


def upsert_marketplaces(engine: Engine, entries: list[MarketplaceEntry]) -> None:
    """Bring ``marketplaces`` in line with the file: new codes added, known ones updated.

    A code that left the file is deactivated, never deleted: its orders keep their marketplace.
    """
    with engine.begin() as conn:
        existing = {row.code: row.id for row in conn.execute(select(marketplaces.c.code, marketplaces.c.id))}
        now = utcnow()
        for entry in entries:
            values = entry.model_dump() | {"updated_at": now}
            if entry.code in existing:
                conn.execute(marketplaces.update().where(marketplaces.c.id == existing[entry.code]), values)
            else:
                conn.execute(marketplaces.insert(), values)
        gone = set(existing) - {e.code for e in entries}
        if gone:
            conn.execute(
                marketplaces.update().where(marketplaces.c.code.in_(gone)), {"active": False, "updated_at": now}
            )


def list_marketplaces(conn: Connection, active_only: bool = True) -> list[Any]:
    query = select(marketplaces).order_by(marketplaces.c.id)
    if active_only:
        query = query.where(marketplaces.c.active.is_(True))
    return list(conn.execute(query))


def find_marketplace(conn: Connection, id_or_code: str) -> Any:
    """A marketplace row by id (``1``) or code (``backmarket-fr``)."""
    column = marketplaces.c.id if str(id_or_code).isdigit() else marketplaces.c.code
    value = int(id_or_code) if str(id_or_code).isdigit() else id_or_code
    row = conn.execute(select(marketplaces).where(column == value)).first()
    if row is None:
        raise ConfigError(f"no marketplace with id or code {id_or_code!r}")
    return row


def adapter_class(kind: str) -> type[MarketplaceAdapter]:
    module_name, _, class_name = ADAPTERS[kind].partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def adapter_for(row: Any) -> MarketplaceAdapter:
    """The adapter for a ``marketplaces`` row; the token is read from the variable the row names."""
    token = os.environ.get(row.token_env)
    if not token:
        raise AuthenticationError(
            f"marketplace {row.code}: environment variable {row.token_env} is not set (it holds the API token)"
        )
    config = MarketplaceConfig(
        id=row.id,
        code=row.code,
        kind=row.kind,
        base_url=row.base_url,
        token=token,
        locale=row.locale or "fr-fr",
        settings=dict(row.settings or {}),
    )
    return adapter_class(row.kind)(config)
