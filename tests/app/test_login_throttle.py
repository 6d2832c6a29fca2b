"""Login throttling: slowed after a few failures, locked after ten for one name (even the right
password is refused, and the refusal says so), per client across names, and shared by processes
through the database."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from fastapi import HTTPException

from app.auth import CLIENT, LoginGate, database_checker
from app.studies.service import EvalService
from storage import LockedOut, LoginPolicy, PermissionDenied, create_user, run_in_transaction
from storage.models import utcnow
from storage.throttle import check_allowed, record_failure, record_success


@pytest.fixture
def ann(store):
    store.run(lambda s: create_user(s, name="ann", password="right-pw", role="writer"))
    return store.factory


def test_failures_slow_then_lock_the_name_and_a_lock_ends(ann, caplog):
    caplog.set_level("WARNING", logger="storage.throttle")
    policy, start = LoginPolicy(), utcnow()

    def delay(now):
        return run_in_transaction(ann, lambda s: check_allowed(s, name="ann", client=None, policy=policy, now=now))

    delays = []
    for n in range(9):
        now = start + timedelta(seconds=n)
        delays.append(delay(now))
        run_in_transaction(ann, lambda s, now=now: record_failure(s, name="ann", client=None, policy=policy, now=now))
    assert delays[:4] == [0, 0, 0, 0.5] and delays[8] == 3.0  # 0.5 s more per failure past the third
    run_in_transaction(ann, lambda s: record_failure(s, name="ann", client=None, policy=policy, now=start + timedelta(seconds=9)))
    with pytest.raises(LockedOut, match="too many failed logins for the name 'ann'; logins are refused for 60 more"):
        delay(start + timedelta(seconds=9))
    assert "login locked for name:ann after 10 failed attempts (60 s)" in caplog.text
    with pytest.raises(LockedOut, match="refused for 2 more seconds"):
        delay(start + timedelta(seconds=67.5))
    assert delay(start + timedelta(seconds=70)) == policy.max_delay_s  # unlocked, still slow
    run_in_transaction(ann, lambda s: record_success(s, name="ann"))
    assert delay(start + timedelta(seconds=71)) == 0


def test_one_client_guessing_many_names_is_locked_too(ann):
    policy = LoginPolicy(client_lock_after=5)
    for n in range(5):
        run_in_transaction(ann, lambda s, n=n: record_failure(s, name=f"guess{n}", client="10.0.0.9", policy=policy))
    with pytest.raises(LockedOut, match="this address"):
        run_in_transaction(ann, lambda s: check_allowed(s, name="ann", client="10.0.0.9", policy=policy))
    assert run_in_transaction(ann, lambda s: check_allowed(s, name="ann", client="10.0.0.8", policy=policy)) == 0


def test_the_editor_login_answers_429_with_the_reason_once_locked(ann):
    check = database_checker(ann, policy=LoginPolicy(slow_after=100, lock_after=3))

    async def attempts():
        token = CLIENT.set("127.0.0.1")
        try:
            results = [await check("ann", "wrong") for _ in range(3)]
            with pytest.raises(HTTPException) as refused:
                await check("ann", "right-pw")
            return results, refused.value
        finally:
            CLIENT.reset(token)

    results, refused = asyncio.run(attempts())
    assert results == [False, False, False]
    assert refused.status_code == 429 and "refused for 60 more seconds" in refused.detail
    assert refused.headers["Retry-After"] == "60"


def test_the_evaluation_login_says_it_is_locked_and_another_process_agrees(ann):
    first, second = EvalService(factory=ann, secret=b"a"), EvalService(factory=ann, secret=b"b")
    gate = LoginGate(ann, LoginPolicy(slow_after=100))
    for _ in range(10):
        with pytest.raises(PermissionDenied, match="wrong name or password"):
            gate.login("ann", "wrong")
    for service in (first, second):  # the count lives in the database, not in one process
        with pytest.raises(LockedOut, match="logins are refused for"):
            service.login(name="ann", password="right-pw")
