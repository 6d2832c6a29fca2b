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


@pytest.fixture
def browser():
    """Debian's headless Chromium through Playwright."""
    from playwright.sync_api import sync_playwright

    from tests.app.helpers import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
