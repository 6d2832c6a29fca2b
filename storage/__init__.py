"""Storage for CNTRL Studio: stories as revision trees, users, and human ratings.

Every function takes a SQLAlchemy `Session` and leaves the transaction to the
caller::

    from storage import make_engine, make_sessionmaker, upgrade, create_story
    engine = make_engine()            # --db URL > CNTRL_DATABASE_URL > data/stories.db
    upgrade(engine=engine)            # migrations to head
    Session = make_sessionmaker(engine)
    with Session.begin() as session:
        story = create_story(session, user_id=1, title="The flat tire")
"""

from storage.assignment import Pool, StudyFull, assign_items, give_share, pool, release_overdue
from storage.config import data_dir, database_url
from storage.db import make_engine, make_sessionmaker, run_in_transaction
from storage.errors import Conflict, InvalidInput, NotFound, PermissionDenied, StorageError
from storage.exchange import export_json, export_markdown, import_json
from storage.migrate import current_revision, downgrade, head_revision, upgrade
from storage.models import Base, Node, Story, User
from storage.records import NodeView, Provenance, StorySummary, StoryView
from storage.stories import (
    add_sibling,
    append_node,
    choose_node,
    count_nodes,
    create_story,
    delete_story,
    fork_story,
    list_stories,
    load_story,
    redo,
    restore_story,
    undo,
)
from storage.studies import (
    ItemInput,
    RaterItem,
    add_items,
    create_study,
    get_study,
    next_item,
    set_closed,
    submit_rating,
)
from storage.study_admin import (
    RatingRecord,
    create_invite,
    open_invites,
    rating_history,
    redeem_invite,
    revoke_invites,
    study_ratings,
)
from storage.study_models import Assignment, Invite, Rating, RatingRevision, Study, StudyItem
from storage.throttle import LockedOut, LoginPolicy
from storage.tree import children
from storage.users import (
    authenticate,
    create_user,
    get_or_create_local_user,
    get_user,
    get_user_by_name,
    import_password_hashes,
    list_users,
    set_disabled,
    set_password,
)

__all__ = [
    "LockedOut",
    "LoginPolicy",
    "Assignment",
    "Base",
    "Conflict",
    "InvalidInput",
    "Invite",
    "ItemInput",
    "Node",
    "NodeView",
    "NotFound",
    "PermissionDenied",
    "Pool",
    "Provenance",
    "RaterItem",
    "Rating",
    "RatingRecord",
    "RatingRevision",
    "StorageError",
    "Story",
    "StorySummary",
    "StoryView",
    "Study",
    "StudyFull",
    "StudyItem",
    "User",
    "add_items",
    "add_sibling",
    "append_node",
    "assign_items",
    "authenticate",
    "children",
    "choose_node",
    "count_nodes",
    "create_invite",
    "create_story",
    "create_study",
    "create_user",
    "current_revision",
    "data_dir",
    "database_url",
    "delete_story",
    "downgrade",
    "export_json",
    "export_markdown",
    "fork_story",
    "get_or_create_local_user",
    "get_study",
    "get_user",
    "get_user_by_name",
    "give_share",
    "head_revision",
    "import_json",
    "import_password_hashes",
    "list_stories",
    "list_users",
    "load_story",
    "make_engine",
    "make_sessionmaker",
    "next_item",
    "open_invites",
    "pool",
    "rating_history",
    "redeem_invite",
    "redo",
    "release_overdue",
    "revoke_invites",
    "restore_story",
    "run_in_transaction",
    "set_closed",
    "set_disabled",
    "set_password",
    "study_ratings",
    "submit_rating",
    "undo",
    "upgrade",
]
