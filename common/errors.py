"""Errors as one readable line, for every command line and page of the product."""

from __future__ import annotations


def one_line(exc: BaseException) -> str:
    """An error as one readable line: its first line, or its class name.

    A database error (SQLAlchemy's) carries the statement and a documentation link on later
    lines; its driver's own first line says what went wrong, shown as "database: ...".
    """
    from_db = type(exc).__module__.split(".")[0] == "sqlalchemy"
    cause = (getattr(exc, "orig", None) or exc) if from_db else exc
    text = str(cause).strip().splitlines()
    first = text[0] if text else type(cause).__name__
    return f"database: {first}" if from_db else first
