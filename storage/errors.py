"""Exceptions raised by storage functions: every refusal has one of these types."""

from __future__ import annotations

from common.errors import one_line  # noqa: F401 - the product's one error formatter, re-exported for storage callers


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
