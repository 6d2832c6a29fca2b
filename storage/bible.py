"""A story's bible: entries the writer keeps about the story's world, edited and versioned.

Keys arrive as one comma-separated string (the API) or a list; each is trimmed, blanks are
dropped and repeats (case-insensitively) are kept once. An entry needs a name, a text and at
least one key, unless it is flagged `always` (in every prompt, keys or not).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage import tree, validate
from storage.errors import InvalidInput
from storage.models import BibleEntry, Story, utcnow

MAX_ENTRIES = 10_000  # per story
MAX_NAME = 200
MAX_ENTRY_TEXT = 5_000
MAX_KEYS = 32
MAX_KEY = 100
MAX_HISTORY = 50  # earlier versions kept per entry


@dataclass(frozen=True)
class EntryView:
    """One live bible entry, detached from any session."""

    id: int
    name: str
    keys: list[str]
    text: str
    always: bool
    versions: int  # this one and the earlier ones kept
    created_at: datetime
    updated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "keys": list(self.keys), "text": self.text,
                "always": self.always, "versions": self.versions}


@dataclass(frozen=True)
class EntryInput:
    """A checked entry, ready to store."""

    name: str
    keys: list[str]
    text: str
    always: bool = False

    @classmethod
    def checked(cls, name: Any, keys: Any, text: Any, always: Any = False) -> EntryInput:
        """Validate one entry; `InvalidInput` names the first problem."""
        if not isinstance(always, bool):
            raise InvalidInput(f"'always' must be true or false, got {always!r}")
        name = " ".join(validate.text(name, field="entry name", limit=MAX_NAME, allow_empty=True).split())
        if not name:
            raise InvalidInput("a bible entry needs a name")
        text = validate.text(text, field=f"text of entry {name!r}", limit=MAX_ENTRY_TEXT, allow_empty=True).strip()
        if not text:
            raise InvalidInput(f"entry {name!r} needs a text: who or what it is, in a sentence or two")
        keys = parse_keys(keys, name)
        if not keys and not always:
            raise InvalidInput(f"entry {name!r} has no keys: give at least one word that calls it up "
                               "(comma-separated), or flag it 'always'")
        return cls(name, keys, text, always)


def parse_keys(value: Any, name: str = "") -> list[str]:
    """Keys from 'a, b' or ['a', 'b']: trimmed, blanks dropped, repeats kept once."""
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list | tuple):
        raise InvalidInput(f"keys must be comma-separated text or a list, got {type(value).__name__}")
    keys: dict[str, str] = {}
    for raw in value:
        key = " ".join(validate.text(raw, field="key", limit=10 * MAX_KEY, allow_empty=True).split())
        if not key:
            continue
        if len(key) > MAX_KEY:
            raise InvalidInput(f"key {key[:40]!r}… of entry {name!r} is longer than {MAX_KEY} characters")
        keys.setdefault(key.casefold(), key)
    if len(keys) > MAX_KEYS:
        raise InvalidInput(f"entry {name!r} has {len(keys)} keys; at most {MAX_KEYS} are allowed")
    return list(keys.values())


def add_entry(session: Session, *, user_id: int, story_id: int, entry: EntryInput) -> BibleEntry:
    """Add an entry to the story's bible (refused past MAX_ENTRIES live entries)."""
    story = tree.get_story(session, user_id=user_id, story_id=story_id, for_update=True)
    live = _live_count(session, story.id)
    if live >= MAX_ENTRIES:
        raise InvalidInput(f"the story's bible has {live:,} entries, the most it can hold; delete some first")
    row = BibleEntry(story_id=story.id, name=entry.name, keys=entry.keys, text=entry.text, always=entry.always)
    session.add(row)
    story.updated_at = utcnow()
    session.flush()
    return row


def update_entry(session: Session, *, user_id: int, story_id: int, entry_id: int, entry: EntryInput) -> BibleEntry:
    """Replace an entry's name, keys, text and flag; the previous version joins its history."""
    row = _entry(session, user_id, story_id, entry_id)
    if (row.name, list(row.keys), row.text, row.always) == (entry.name, entry.keys, entry.text, entry.always):
        return row
    earlier = {"name": row.name, "keys": list(row.keys), "text": row.text, "always": row.always,
               "until": utcnow().isoformat()}
    row.history = [*row.history, earlier][-MAX_HISTORY:]
    row.name, row.keys, row.text, row.always = entry.name, entry.keys, entry.text, entry.always
    row.updated_at = utcnow()
    return row


def delete_entry(session: Session, *, user_id: int, story_id: int, entry_id: int) -> None:
    """Remove an entry from the bible; sentences written with it keep naming it."""
    row = _entry(session, user_id, story_id, entry_id)
    row.deleted_at = utcnow()


def list_entries(session: Session, *, user_id: int, story_id: int, include_deleted: bool = False) -> list[EntryView]:
    """The story's entries, oldest first."""
    story = tree.get_story(session, user_id=user_id, story_id=story_id, include_deleted=True)
    return [entry_view(row) for row in _rows(session, story.id, include_deleted)]


def entries_of(session: Session, story: Story) -> list[EntryView]:
    """The live entries of a story already loaded."""
    return [entry_view(row) for row in _rows(session, story.id, False)]


def copy_entries(session: Session, *, source: Story, target: Story) -> None:
    """Give a fork its source's live entries (as new rows it can edit alone)."""
    for row in _rows(session, source.id, False):
        session.add(BibleEntry(story_id=target.id, name=row.name, keys=list(row.keys), text=row.text,
                               always=row.always, history=list(row.history)))
    session.flush()


def export_entries(session: Session, story: Story) -> list[dict[str, Any]]:
    """Live entries as JSON for a story document (no database ids)."""
    return [{"name": r.name, "keys": list(r.keys), "text": r.text, "always": r.always, "history": list(r.history),
             "created_at": r.created_at.isoformat(), "updated_at": r.updated_at.isoformat()}
            for r in _rows(session, story.id, False)]


def parse_entries(value: Any) -> list[tuple[EntryInput, list[Any]]]:
    """Check a document's bible before anything is written: entries and their histories."""
    raw = validate.json_list(value if value is not None else [], field="bible")
    if len(raw) > MAX_ENTRIES:
        raise InvalidInput(f"the bible has {len(raw):,} entries; at most {MAX_ENTRIES:,} can be imported")
    out = []
    for number, item in enumerate(raw, start=1):
        if not isinstance(item, Mapping):
            raise InvalidInput(f"bible entry {number} must be an object with name, keys and text")
        try:
            entry = EntryInput.checked(item.get("name"), item.get("keys"), item.get("text"), item.get("always", False))
        except InvalidInput as error:
            raise InvalidInput(f"bible entry {number}: {error}") from None
        history = validate.json_list(item.get("history", []), field=f"history of bible entry {number}")
        out.append((entry, history[-MAX_HISTORY:]))
    return out


def import_entries(session: Session, story: Story, entries: Iterable[tuple[EntryInput, list[Any]]]) -> None:
    """Write checked entries (from `parse_entries`) to a new story."""
    session.add_all(BibleEntry(story_id=story.id, name=e.name, keys=e.keys, text=e.text, always=e.always,
                               history=history) for e, history in entries)
    session.flush()


def _rows(session: Session, story_id: int, include_deleted: bool) -> list[BibleEntry]:
    query = select(BibleEntry).where(BibleEntry.story_id == story_id)
    if not include_deleted:
        query = query.where(BibleEntry.deleted_at.is_(None))
    return list(session.scalars(query.order_by(BibleEntry.id)))


def _live_count(session: Session, story_id: int) -> int:
    return session.scalar(select(func.count()).select_from(BibleEntry).where(
        BibleEntry.story_id == story_id, BibleEntry.deleted_at.is_(None))) or 0


def _entry(session: Session, user_id: int, story_id: int, entry_id: int) -> BibleEntry:
    story = tree.get_story(session, user_id=user_id, story_id=story_id, for_update=True)
    validate.identifier(entry_id, field="entry id")
    row = session.get(BibleEntry, entry_id)
    if row is None or row.story_id != story.id or row.deleted_at is not None:
        raise InvalidInput(f"story {story_id} has no bible entry {entry_id} (it may have been deleted)")
    story.updated_at = utcnow()
    return row


def entry_view(row: BibleEntry) -> EntryView:
    """A stored entry, detached from its session."""
    return EntryView(row.id, row.name, list(row.keys), row.text, row.always, len(row.history) + 1,
                     row.created_at, row.updated_at)
