"""End to end in headless Chromium with the real default model and knowledge base."""

from __future__ import annotations

import os

import pytest

from tests.app.helpers import CHROMIUM, served
from tests.app.test_browser import open_page, sentence, shoot, start, wait_for_rows

pytestmark = [
    pytest.mark.integration,
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed"),
]


def test_the_default_model_writes_a_steered_sentence_with_provenance(browser, default_pipeline, store):
    from playwright.sync_api import expect

    with served(default_pipeline, store) as server:
        page = open_page(browser, server.url)
        expect(page.locator("#model-status")).to_contain_text("is ready")
        start(page, "Tom let his friend borrow his phone.")
        page.locator("#next-keywords textarea").fill("battery")
        page.locator("#write").click()
        expect(page.locator("#live textarea")).not_to_have_value("", timeout=240_000)  # it streams
        expect(sentence(page, 1)).to_be_visible(timeout=240_000)
        wait_for_rows(page, 1)
        assert sentence(page, 1).input_value().strip()
        expect(page.locator("#keywords-1 textarea")).to_have_value("battery")
        page.locator("button", has_text="Knowledge and provenance").first.click()
        expect(page.locator("#provenance-1")).to_contain_text(default_pipeline.model_id)
        expect(page.locator("#provenance-1")).to_contain_text("generate")
        shoot(page, "editor-default-model")
