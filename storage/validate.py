"""Checks on everything a caller hands to storage, before anything is written."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from common.limits import MAX_KEYWORD_LIST
from storage.errors import InvalidInput

MAX_TEXT = 100_000
MAX_NAME = 100
MAX_TITLE = 500
MAX_KEYWORDS = MAX_KEYWORD_LIST
MAX_KEYWORD = 100
MAX_JSON_BYTES = 2_000_000
MAX_NOTE_DEPTH = 20  # sentences before the end an author's note may sit
MAX_STORYLINE_SLOTS = 1_000  # a storyline's slots, one per sentence


def note_depth(value: Any) -> int:
    """Return `value` if it is a whole number from 0 to MAX_NOTE_DEPTH."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_NOTE_DEPTH:
        raise InvalidInput(f"the note depth must be a whole number from 0 to {MAX_NOTE_DEPTH}, got {value!r}")
    return value


def text(value: Any, *, field: str, limit: int = MAX_TEXT, allow_empty: bool = False) -> str:
    """Return `value` if it is a string of at most `limit` characters, with no NUL or lone surrogate."""
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string, not {type(value).__name__}")
    if len(value) > limit:
        raise InvalidInput(f"{field} is {len(value):,} characters; the limit is {limit:,}")
    _check_chars(value, field=field)
    if not allow_empty and not value.strip():
        raise InvalidInput(f"{field} must not be empty")
    return value


def keywords(value: Any) -> list[str]:
    """Return a clean keyword list: strings, non-empty, short, no NUL."""
    if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
        raise InvalidInput("keywords must be a list of strings")
    if len(value) > MAX_KEYWORDS:
        raise InvalidInput(f"at most {MAX_KEYWORDS} keywords are allowed, got {len(value)}")
    cleaned = []
    for keyword in value:
        word = text(keyword, field="keyword", limit=MAX_KEYWORD).strip()
        cleaned.append(word)
    return cleaned


def storyline(value: Any) -> dict[str, Any]:
    """A story's plan: {} (none), or {"slots": [[keyword, ...], ...], "source": how it was planned}."""
    if value in (None, {}):
        return {}
    found = json_object(value, field="storyline")
    slots = found.get("slots")
    if isinstance(slots, str | bytes) or not isinstance(slots, list | tuple):
        raise InvalidInput("a storyline's slots must be a list of keyword lists")
    if len(slots) > MAX_STORYLINE_SLOTS:
        raise InvalidInput(f"a storyline has at most {MAX_STORYLINE_SLOTS:,} slots, got {len(slots):,}")
    source = text(found.get("source", "writer"), field="storyline source", limit=MAX_NAME)
    return {"slots": [keywords(slot) for slot in slots], "source": source}


MAX_ID = 2**63 - 1  # the largest id an SQL BIGINT (and SQLite's INTEGER) holds


def identifier(value: Any, *, field: str) -> int:
    """Return `value` if it is a positive integer id the database can hold."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise InvalidInput(f"{field} must be a positive integer id, got {value!r}")
    return value


def choice(value: Any, *, field: str, options: tuple[str, ...]) -> str:
    """Return `value` if it is one of `options`."""
    if value not in options:
        raise InvalidInput(f"{field} must be one of {', '.join(options)}; got {value!r}")
    return value


def json_value(value: Any, *, field: str) -> Any:
    """Return `value` if it is plain JSON data (finite numbers, no NUL) of sane size."""
    _check_json(value, field=field)
    try:
        size = len(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as error:
        raise InvalidInput(f"{field} is not JSON data: {error}") from None
    if size > MAX_JSON_BYTES:
        raise InvalidInput(f"{field} is {size:,} bytes of JSON; the limit is {MAX_JSON_BYTES:,}")
    return value


def json_object(value: Any, *, field: str) -> dict[str, Any]:
    """Return `value` as a dict if it is a JSON object."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{field} must be an object (a dict)")
    return dict(json_value(dict(value), field=field))


def json_list(value: Any, *, field: str) -> list[Any]:
    """Return `value` as a list if it is a JSON array."""
    if value is None:
        return []
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, list | tuple):
        raise InvalidInput(f"{field} must be a list")
    return list(json_value(list(value), field=field))


def _check_chars(value: str, *, field: str) -> None:
    """Reject NUL and lone surrogates: neither database can store them as text."""
    if "\x00" in value:
        raise InvalidInput(f"{field} contains a NUL byte")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            raise InvalidInput(f"{field} contains a lone surrogate at position {error.start}, "
                               "which is not text") from None


def _check_json(value: Any, *, field: str) -> None:
    """Reject NUL characters, lone surrogates and non-finite numbers anywhere inside `value`."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            _check_chars(item, field=field)
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise InvalidInput(f"{field} contains a non-finite number")
        elif isinstance(item, Mapping):
            for key in item:
                if not isinstance(key, str):
                    raise InvalidInput(f"{field} has a non-string key {key!r}")
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif item is not None and not isinstance(item, bool | int):
            raise InvalidInput(f"{field} holds a {type(item).__name__}, which is not JSON")
