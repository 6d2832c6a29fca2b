"""Reading the revision tree: paths, membership and siblings (no writes here)."""

from __future__ import annotations

from sqlalchemy import literal, or_, select
from sqlalchemy.orm import Session, aliased

from storage import validate
from storage.errors import InvalidInput, NotFound, PermissionDenied
from storage.models import Node, Story


def get_story(
    session: Session,
    *,
    user_id: int,
    story_id: int,
    include_deleted: bool = False,
    for_update: bool = False,
) -> Story:
    """Return a story the user owns; locks its row when `for_update`."""
    query = select(Story).where(Story.id == validate.identifier(story_id, field="story_id"))
    if for_update:
        query = query.with_for_update()
    story = session.scalar(query)
    if story is None or (story.deleted_at is not None and not include_deleted):
        raise NotFound(f"no story {story_id}")
    if story.owner_id != validate.identifier(user_id, field="user_id"):
        raise PermissionDenied(f"story {story_id} belongs to another user")
    return story


def path_to(session: Session, node_id: int | None) -> list[Node]:
    """Nodes from the root down to `node_id` (empty for `None`), in one query."""
    if node_id is None:
        return []
    ancestors = (
        select(Node.id, Node.parent_id, literal(0).label("depth"))
        .where(Node.id == node_id)
        .cte("ancestors", recursive=True)
    )
    parent = aliased(Node)
    ancestors = ancestors.union_all(
        select(parent.id, parent.parent_id, ancestors.c.depth + 1).where(
            parent.id == ancestors.c.parent_id
        )
    )
    query = (
        select(Node).join(ancestors, Node.id == ancestors.c.id).order_by(ancestors.c.depth.desc())
    )
    return list(session.scalars(query))


def shared_ids(session: Session, story: Story) -> set[int]:
    """Ids of the nodes a fork shares with its source (root to fork point)."""
    return {node.id for node in path_to(session, story.base_node_id)}


def node_in_story(session: Session, story: Story, node_id: int) -> Node:
    """Return the node if it belongs to the story (its own, or shared by a fork).

    Raises:
        NotFound: No node has this id.
        InvalidInput: The node is part of another story.
    """
    node = session.get(Node, validate.identifier(node_id, field="node_id"))
    if node is None:
        raise NotFound(f"no node {node_id}")
    if node.story_id != story.id and node.id not in shared_ids(session, story):
        raise InvalidInput(f"node {node_id} is not part of story {story.id}")
    return node


def visible_nodes(session: Session, story: Story) -> list[Node]:
    """Every node of the story, shared ones included, oldest first."""
    own = list(session.scalars(select(Node).where(Node.story_id == story.id)))
    shared = path_to(session, story.base_node_id)
    return sorted({node.id: node for node in [*shared, *own]}.values(), key=lambda n: n.id)


def sibling_ids(session: Session, story: Story, path: list[Node]) -> dict[int, list[int]]:
    """For each node on `path`, the ids of its versions visible in this story."""
    parents = {node.parent_id for node in path if node.parent_id is not None}
    same_parent = Node.parent_id.in_(parents) if parents else literal(False)
    rows = session.execute(
        select(Node.id, Node.parent_id).where(
            Node.story_id == story.id, or_(same_parent, Node.parent_id.is_(None))
        )
    ).all()
    groups: dict[int | None, set[int]] = {}
    for node_id, parent_id in [*rows, *((n.id, n.parent_id) for n in path)]:
        groups.setdefault(parent_id, set()).add(node_id)
    return {node.id: sorted(groups[node.parent_id]) for node in path}


def children(session: Session, *, user_id: int, story_id: int, node_id: int | None) -> list[Node]:
    """The story's continuations of a node (`None`: its first sentences), oldest first.

    Args:
        session: Open session.
        user_id: Acting user; must own the story.
        story_id: The story.
        node_id: Parent node, or `None` for the story's root sentences.

    Returns:
        Child nodes visible in this story.
    """
    story = get_story(session, user_id=user_id, story_id=story_id)
    if node_id is not None:
        node_in_story(session, story, node_id)
    return [n for n in visible_nodes(session, story) if n.parent_id == node_id]
