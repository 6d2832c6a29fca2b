"""Fixtures for app tests: a migrated database per test, a FakeEngine and a StoryService."""

from __future__ import annotations

import pytest

from app.engine_handle import EngineHandle
from app.fake_engine import FakeEngine
from app.service import StoryService
from app.store import Store


@pytest.fixture
def store() -> Store:
    return Store.open()  # CNTRL_DATABASE_URL points at this test's own SQLite file


@pytest.fixture
def fake() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def service(fake, store) -> StoryService:
    return StoryService(engine=EngineHandle.of(fake), store=store)


@pytest.fixture
def alice(store) -> int:
    return store.user_id("alice")


@pytest.fixture
def bob(store) -> int:
    return store.user_id("bob")
