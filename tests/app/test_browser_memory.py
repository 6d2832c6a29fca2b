"""As a writer in headless Chromium: set a memory and an author's note, reload, write, and see
in the sentence's provenance what steered it."""

from __future__ import annotations

import os

import pytest

from tests.app.helpers import CHROMIUM, served
from tests.app.test_browser import open_page, shoot, start, wait_for_rows

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed"),
]


def open_memory_panel(page):
    from playwright.sync_api import expect

    page.locator("button", has_text="Memory and author's note").first.click()
    expect(page.locator("#memory textarea")).to_be_visible(timeout=10000)


def test_memory_and_note_survive_a_reload_and_steer_the_next_sentence(browser, fake, store):
    from playwright.sync_api import expect

    with served(fake, store) as server:
        page = open_page(browser, server.url)
        start(page, "Tom let his friend borrow his phone.")
        open_memory_panel(page)
        page.locator("#memory textarea").fill("Tom is a retired sailor.")
        page.locator("#authors-note textarea").fill("Keep it calm and rainy.")
        depth = page.locator("#note-depth input[type=number]")
        depth.fill("2")
        depth.press("Enter")
        page.locator("#save-memory").click()
        expect(page.locator("#memory-saved")).to_contain_text("2 sentence(s) from the end", timeout=10000)

        page.reload()
        page.wait_for_selector("#page-ready", state="attached", timeout=15000)
        open_memory_panel(page)
        expect(page.locator("#memory textarea")).to_have_value("Tom is a retired sailor.", timeout=10000)
        expect(page.locator("#authors-note textarea")).to_have_value("Keep it calm and rainy.", timeout=10000)
        expect(depth).to_have_value("2", timeout=10000)

        page.locator("#write").click()
        wait_for_rows(page, 1)
        page.locator("button", has_text="Knowledge and provenance").first.click()
        provenance = page.locator("#provenance-1")
        expect(provenance).to_contain_text("memory: Tom is a retired sailor. (24 characters)", timeout=10000)
        expect(provenance).to_contain_text("author's note: Keep it calm and rainy. (23 characters, 2 sentence(s) "
                                           "from the end)", timeout=10000)
        shoot(page, "editor-memory-and-note")
    assert fake.calls[-1].context.memory == "Tom is a retired sailor." and fake.calls[-1].context.note_depth == 2
