"""Accounts with argon2 hashes, and the single local user."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from storage import (
    Conflict,
    InvalidInput,
    PermissionDenied,
    User,
    authenticate,
    create_user,
    get_or_create_local_user,
    set_password,
)


def test_password_is_hashed_with_argon2_and_checked(session):
    user = create_user(session, name="ann", password="correct horse", role="admin")
    assert user.password_hash.startswith("$argon2id$")
    assert "correct horse" not in user.password_hash
    assert authenticate(session, name="ann", password="correct horse").id == user.id
    with pytest.raises(PermissionDenied):
        authenticate(session, name="ann", password="wrong")
    with pytest.raises(PermissionDenied):
        authenticate(session, name="nobody", password="correct horse")
    set_password(session, user_id=user.id, password="new one")
    assert authenticate(session, name="ann", password="new one").id == user.id


def test_names_are_unique_and_roles_checked(session):
    create_user(session, name="ann", password="pw")
    with pytest.raises(Conflict):
        create_user(session, name="ann", password="other")
    with pytest.raises(InvalidInput):
        create_user(session, name="bob", password="pw", role="overlord")
    with pytest.raises(InvalidInput):
        create_user(session, name="n" * 101)
    with pytest.raises(InvalidInput):
        create_user(session, name="eve", password="a\x00b")


def test_local_user_is_created_once_and_cannot_log_in(session):
    first = get_or_create_local_user(session)
    again = get_or_create_local_user(session)
    assert first.id == again.id and first.role == "writer" and first.password_hash is None
    assert session.get(User, first.id).name == "local"
    with pytest.raises(PermissionDenied):
        authenticate(session, name="local", password="")


def test_local_user_race_yields_one_account(factory):
    start = threading.Barrier(4)
    ids: list[int] = []

    def make() -> None:
        start.wait()
        with factory.begin() as session:
            ids.append(get_or_create_local_user(session).id)

    threads = [threading.Thread(target=make) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(ids) == 4 and len(set(ids)) == 1
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(User)) == 1


def test_empty_password_is_refused(session):
    with pytest.raises(InvalidInput):
        create_user(session, name="ann", password="")
