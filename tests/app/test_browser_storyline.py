"""As a writer in headless Chromium: plan the story, put a word of one's own into slot 3, write to
the plan, change slot 3 again and write (only sentence 3 changes), undo, and reload: the plan stays."""

from __future__ import annotations

import os

import pytest

from tests.app.helpers import CHROMIUM, served
from tests.app.test_browser import open_page, sentence, shoot, start, wait_for_rows

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed"),
]


def slot(page, index: int):
    return page.locator(f"#slot-{index} textarea, #slot-{index} input").first


def test_plan_edit_slot_three_write_to_plan_undo_and_reload(browser, fake, store):
    from playwright.sync_api import expect

    fake.chunk_delay_s = 0.01
    with served(fake, store) as server:
        journey(expect, open_page(browser, server.url))


def journey(expect, page) -> None:
    """Plan, slot 3 to a word of the tester's, write, slot 3 again, write, undo, reload."""
    start(page, "Tom let his friend borrow his phone.")
    page.locator("#plan-story").click()
    expect(slot(page, 4)).to_have_value("home, happy", timeout=10000)
    expect(slot(page, 1)).to_have_value("phone, battery")
    expect(page.locator("#slot-5")).to_be_hidden()
    slot(page, 3).fill("lighthouse")
    page.locator("#write-to-plan").click()
    wait_for_rows(page, 4)
    assert "lighthouse" in sentence(page, 3).input_value()
    for index, words in ((1, ("phone", "battery")), (2, ("store", "charger")), (4, ("home", "happy"))):
        assert all(w in sentence(page, index).input_value() for w in words)
    shoot(page, "editor-storyline-written")

    before = [sentence(page, i).input_value() for i in range(1, 5)]
    slot(page, 3).fill("umbrella")
    page.locator("#write-to-plan").click()
    expect(page.locator("#version-3")).to_contain_text("version 2 of 2", timeout=10000)
    wait_for_rows(page, 4)
    assert "umbrella" in sentence(page, 3).input_value()
    assert [sentence(page, i).input_value() for i in (1, 2, 4)] == [before[0], before[1], before[3]]

    page.locator("#undo").click()
    expect(sentence(page, 3)).to_have_value(before[2], timeout=10000)
    wait_for_rows(page, 4)

    page.reload()
    page.wait_for_selector("#page-ready", state="attached", timeout=15000)
    expect(slot(page, 3)).to_have_value("umbrella", timeout=10000)
    expect(slot(page, 1)).to_have_value("phone, battery")
    expect(sentence(page, 3)).to_have_value(before[2], timeout=10000)
    shoot(page, "editor-storyline-after-reload")
