"""What is wrong with a database URL, in one line: unparsable, no driver, a folder that is not there,
a server that does not answer or refuses the login. Passwords are never shown."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from ordersync_pipeline.problems import SetupProblem, mask_passwords, one_line

VARIABLE = "ORDERSYNC_DATABASE_URL"

#: a fragment of the driver's message -> what to check
_HINTS = (
    ("connection refused", "nothing listens there: is the database server running, on that host and port?"),
    ("could not translate host name", "the host name is unknown: check the host in the URL"),
    ("timeout expired", "the server did not answer in time: check the host, the port and the network"),
    ("password authentication failed", "the server refused the login: check the user and password in the URL"),
    ("no pg_hba.conf entry", "the server refuses logins from here for that user and database (pg_hba.conf)"),
    ("unable to open database file", "check that the SQLite file's folder exists and may be written"),
    ("file is not a database", "the file is not a SQLite database: point the URL at another file"),
    ("readonly database", "the SQLite file may not be written: check its permissions"),
    ("role", "the server refused the login: check the user in the URL"),
    ("database", "create the database (createdb) or fix its name in the URL"),
)


class DatabaseUnusable(SetupProblem):
    """The database cannot be used as configured."""


def shown(url: URL | str) -> str:
    """Show a URL with its password replaced by ``***``."""
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return mask_passwords(url)


def parse_url(url: str) -> URL:
    """Parse the URL; raise ``DatabaseUnusable`` naming it (password hidden) if it is not one."""
    try:
        return make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise DatabaseUnusable(
            f"the database URL {shown(url)!r} cannot be parsed ({one_line(str(exc))}); "
            f"check {VARIABLE}, e.g. postgresql+psycopg2://user@host:5432/ordersync or sqlite:///path/to/file.db"
        ) from None


def check_sqlite_file(url: URL) -> None:
    """A SQLite file must be in a folder that exists and may be written (SQLite's own error for
    either is "unable to open database file")."""
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        return
    path = Path(url.database).expanduser().absolute()
    folder = path.parent
    where = f"the SQLite database {path}"
    if not folder.exists():
        raise DatabaseUnusable(f"{where}: its folder {folder} does not exist; create it or fix {VARIABLE}")
    if not folder.is_dir():
        raise DatabaseUnusable(f"{where}: {folder} is not a folder; fix {VARIABLE}")
    if path.is_dir():
        raise DatabaseUnusable(f"{where} is a folder, not a file; fix {VARIABLE}")
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.R_OK | os.W_OK)):
        raise DatabaseUnusable(f"{where} may not be written by this user; check the permissions of {folder}")


def describe_database_error(exc: DBAPIError, url: URL | str) -> str:
    """Describe in one line an error the driver raised while connecting to or using ``url``."""
    # The driver's first line says it; the lines after it only repeat it as advice.
    reason = one_line((str(exc.orig) if exc.orig is not None else str(exc)).strip().splitlines()[0])
    for secret in _passwords(url):
        reason = reason.replace(secret, "***")
    reason = reason.replace("FATAL: ", "")
    hint = next((hint for fragment, hint in _HINTS if fragment in reason.lower()), f"check {VARIABLE}")
    return f"cannot use the database {shown(url)}: {reason}; {hint}"


def unusable(exc: DBAPIError, url: URL | str) -> DatabaseUnusable:
    return DatabaseUnusable(describe_database_error(exc, url))


def _passwords(url: URL | str) -> list[str]:
    try:
        password = (url if isinstance(url, URL) else make_url(url)).password
    except (ArgumentError, ValueError):
        return []
    return [str(password)] if password else []
