"""Ratings while writing: thumbs up or down on any version of any sentence, and preference pairs.

A writer's rating of a version replaces their earlier rating of it. Versions of the same
sentence share a parent (the same story before them), so one writer's up- and down-rated
siblings make preference pairs: the chosen and the rejected sentence in the same context.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage import tree, validate
from storage.errors import InvalidInput, NotFound
from storage.models import RATINGS, Node, SentenceRating, Story, User, utcnow

MAX_REASON = 500


@dataclass(frozen=True)
class RatingView:
    """One rating, detached from any session."""

    node_id: int
    user: str
    rating: str
    reason: str
    updated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"node": self.node_id, "user": self.user, "rating": self.rating, "reason": self.reason,
                "at": self.updated_at.isoformat()}


def rate_node(session: Session, *, user_id: int, story_id: int, node_id: int, rating: str,
              reason: str = "") -> SentenceRating:
    """Rate one version of a sentence of the story; a version not in the story, or of a deleted story,
    is refused (`InvalidInput`, `NotFound`)."""
    rating = validate.choice((rating or "").strip().lower(), field="rating", options=RATINGS)
    reason = " ".join(validate.text(reason or "", field="reason", limit=MAX_REASON, allow_empty=True).split())
    story = tree.get_story(session, user_id=user_id, story_id=story_id)
    try:
        node = tree.node_in_story(session, story, node_id)
    except (NotFound, InvalidInput):
        raise InvalidInput(f"version {node_id} is not part of story {story_id} (it may have been deleted); "
                           "nothing was rated") from None
    row = session.scalar(select(SentenceRating).where(SentenceRating.node_id == node.id,
                                                      SentenceRating.user_id == user_id))
    if row is None:
        row = SentenceRating(node_id=node.id, story_id=story.id, user_id=user_id, rating=rating, reason=reason)
        session.add(row)
    row.rating, row.reason, row.updated_at = rating, reason, utcnow()
    row.provenance = snapshot(node)
    session.flush()
    return row


def snapshot(node: Node) -> dict[str, Any]:
    """What made a version, as rated: who wrote it, its keywords, facts, model and sampling."""
    return {"source": node.source, "keywords": list(node.keywords), "keywords_source": node.keywords_source,
            "facts": [{k: f.get(k) for k in ("text", "source", "score", "entry") if k in f} for f in node.facts],
            "model": node.model, "seed": node.seed, "params": dict(node.params), "steering": dict(node.steering)}


def story_ratings(session: Session, story: Story) -> dict[int, list[RatingView]]:
    """Every rating given in the story, by node id."""
    rows = session.execute(select(SentenceRating, User.name).join(User, User.id == SentenceRating.user_id)
                           .where(SentenceRating.story_id == story.id).order_by(SentenceRating.id))
    out: dict[int, list[RatingView]] = defaultdict(list)
    for row, name in rows:
        out[row.node_id].append(RatingView(row.node_id, name, row.rating, row.reason, row.updated_at))
    return dict(out)


def preference_pairs(session: Session, *, user_id: int | None = None) -> Iterator[dict[str, Any]]:
    """Chosen and rejected versions of the same sentence in the same context, one dict per pair.

    Each pair is one writer's: a version they rated up and a sibling they rated down.
    `prompt` is the story before the sentence (premise and sentences, joined by spaces);
    `chosen` and `rejected` are the two sentences; `meta` holds ids, keywords, facts and reasons.
    """
    query = (select(SentenceRating, Node, User.name).join(Node, Node.id == SentenceRating.node_id)
             .join(User, User.id == SentenceRating.user_id).join(Story, Story.id == SentenceRating.story_id)
             .where(Story.deleted_at.is_(None)).order_by(SentenceRating.id))
    if user_id is not None:
        query = query.where(SentenceRating.user_id == user_id)
    groups: dict[tuple, dict[str, list]] = defaultdict(lambda: {"up": [], "down": []})
    for rating, node, name in session.execute(query):
        groups[(rating.user_id, rating.story_id, node.parent_id, node.position)][rating.rating].append(
            (rating, node, name))
    for (_, story_id, parent_id, position), sides in groups.items():
        if not sides["up"] or not sides["down"]:
            continue
        story = session.get(Story, story_id)
        before = [n.text.strip() for n in tree.path_to(session, parent_id)] if parent_id else []
        prompt = " ".join([story.premise.strip(), *before]).strip()
        for good, chosen, name in sides["up"]:
            for bad, rejected, _ in sides["down"]:
                yield {"prompt": prompt, "chosen": chosen.text, "rejected": rejected.text,
                       "meta": {"story": story_id, "sentence": position + 1, "writer": name,
                                "chosen": {"node": chosen.id, "reason": good.reason, **good.provenance},
                                "rejected": {"node": rejected.id, "reason": bad.reason, **bad.provenance}}}


def export_ratings(session: Session, story: Story, refs: dict[int, int]) -> list[dict[str, Any]]:
    """The story's ratings for its JSON document, naming nodes by their `ref`."""
    return [{"ref": refs[view.node_id], "user": view.user, "rating": view.rating, "reason": view.reason,
             "at": view.updated_at.isoformat()}
            for views in story_ratings(session, story).values() for view in views if view.node_id in refs]
