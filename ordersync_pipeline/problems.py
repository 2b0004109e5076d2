"""Misconfigurations an operator can fix, and the one line each error becomes on a terminal.

Every command ends an error the same way: one line that says what was wrong and what to check,
with passwords and tokens left out, and exit status 1 (``cli.main``). This module turns the errors
it knows into that line; an error it does not know still becomes one line, naming its type.
"""

from __future__ import annotations

import re

#: ``scheme://user:password@`` in any text: the password is replaced before a message is shown.
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*):[^@\s]*@")


class SetupProblem(Exception):
    """Something in the setup is wrong (a folder, a URL, an instance): the message is one line that
    names it and says what to check; it never holds a password."""


def mask_passwords(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***``."""
    return _URL_PASSWORD.sub(r"\g<head>:***@", text)


def one_line(text: str) -> str:
    """``text`` on one line: line breaks and runs of spaces become single spaces."""
    return " ".join(text.split())


def explain(exc: BaseException) -> str:
    """The line an error is reported with."""
    from sqlalchemy.exc import DBAPIError

    from ordersync_pipeline.db.errors import describe_database_error
    from ordersync_pipeline.launch import RunFailed
    from ordersync_pipeline.marketplaces.base import MarketplaceError
    from ordersync_pipeline.marketplaces.registry import ConfigError
    from ordersync_pipeline.stock import StockFileError

    if isinstance(exc, SetupProblem | ConfigError | StockFileError | RunFailed | MarketplaceError):
        message = str(exc)
    elif isinstance(exc, DBAPIError):
        from ordersync_pipeline import settings

        message = describe_database_error(exc, settings.database_url())
    elif isinstance(exc, OSError) and exc.filename:
        message = f"{exc.filename}: {exc.strerror or exc}"
    else:
        message = f"unexpected {type(exc).__name__}: {exc} (`ordersync -v ...` shows where)"
    return mask_passwords(one_line(message))
