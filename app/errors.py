"""Errors the app shows to the writer as one readable line."""

from __future__ import annotations


class AppError(Exception):
    """A refusal or failure with a message fit for the page."""


class StoryNotFound(AppError):
    """No such story for this user (another user's story reads the same)."""


class StoryBusy(AppError):
    """The story is being written in another request; try again when it finishes."""


class DatabaseUnavailable(AppError):
    """The sessions database stopped answering, is full or is read-only; nothing of the action was saved."""
