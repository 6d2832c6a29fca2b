"""Exceptions raised by storage functions: every refusal has one of these types."""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError


class StorageError(Exception):
    """Base class for every error the storage layer raises on purpose."""


class NotFound(StorageError):
    """The id does not exist (or the story is deleted and was not asked for)."""


class PermissionDenied(StorageError):
    """The acting user may not read or change this object."""


class InvalidInput(StorageError, ValueError):
    """An argument is malformed: too long, a NUL byte, a wrong type or value."""


class Conflict(StorageError):
    """The request clashes with stored state (a taken user name, nothing to redo)."""


def one_line(error: BaseException) -> str:
    """An error as one readable line for command-line messages ("database: ..." for SQLAlchemy's).

    SQLAlchemy's messages carry the statement and a documentation link on later lines;
    the driver's own first line says what went wrong.
    """
    cause = getattr(error, "orig", None) or error
    text = str(cause).strip().splitlines()
    first = text[0] if text else type(cause).__name__
    return f"database: {first}" if isinstance(error, SQLAlchemyError) else first
