"""As a writer in headless Chromium: rate sentences up or down in their rows and any version in the
History tab, each with a reason, and see the ratings in both places."""

from __future__ import annotations

import os
import re

import pytest

from tests.app.helpers import CHROMIUM, served
from tests.app.test_browser import open_page, sentence, shoot, start, wait_for_rows

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed"),
]


@pytest.fixture
def server(fake, store):
    fake.chunk_delay_s = 0.01
    with served(fake, store) as running:
        yield running


def rate_row(page, index: int, rating: str, reason: str = "") -> None:
    page.locator(f"#rate-reason-{index} input, #rate-reason-{index} textarea").first.fill(reason)
    page.locator(f"#rate-{rating}-{index}").click()


def version_option(page, node: int):
    """The history list's option for version `node` (open the list first)."""
    return page.get_by_role("option", name=re.compile(rf"^#{node} · "))


def pick_version(page, node: int) -> None:
    page.locator("#versions input").click()
    version_option(page, node).click()


def test_rate_in_rows_and_in_history_then_both_show_it(browser, server, service, store):
    from playwright.sync_api import expect

    page = open_page(browser, server.url)
    start(page, "Ann drove home.")
    page.locator("#next-keywords textarea").fill("car")
    page.locator("#write").click()
    wait_for_rows(page, 1)
    first = sentence(page, 1).input_value()
    shown = page.locator("#ratings-1")
    expect(shown).to_contain_text("not rated yet")

    rate_row(page, 1, "up", "vivid <b>bold</b>")
    expect(shown).to_contain_text("👍 local: vivid <b>bold</b>", timeout=10000)  # shown as typed, inert
    expect(page.get_by_text("Rated sentence 1 👍 up: vivid <b>bold</b>", exact=False).first).to_be_visible(
        timeout=10000)  # the toast shows the reason as text too
    expect(page.locator("#rate-reason-1 input, #rate-reason-1 textarea").first).to_have_value("")

    too_long = "x" * 501
    rate_row(page, 1, "down", too_long)  # refused: the reason box keeps what was typed
    expect(page.get_by_text("reason is 501 characters", exact=False).first).to_be_visible(timeout=10000)
    expect(page.locator("#rate-reason-1 input, #rate-reason-1 textarea").first).to_have_value(too_long)
    expect(shown).to_contain_text("👍 local: vivid")

    page.locator("#keywords-1 textarea").fill("umbrella")
    page.locator("#regenerate-1").click()
    expect(page.locator("#version-1")).to_contain_text("version 2 of 2", timeout=10000)
    wait_for_rows(page, 1)
    second = sentence(page, 1).input_value()
    expect(shown).to_contain_text("not rated yet")  # the new version has no ratings of its own
    rate_row(page, 1, "down", "flat")
    expect(shown).to_contain_text("👎 local: flat", timeout=10000)
    shoot(page, "ratings-in-row")

    page.get_by_role("tab", name="History").click()
    versions = page.locator("#versions input")
    expect(versions).to_have_value(re.compile(r"^#2 .*current end.*👎 local: flat"), timeout=10000)
    versions.click()
    expect(version_option(page, 1)).to_contain_text("👍 local: vivid <b>bold</b>")
    version_option(page, 1).click()  # the earlier version, no longer in the story
    page.locator("#history-reason input, #history-reason textarea").first.fill("better ending")
    page.locator("#history-rate-down").click()
    expect(versions).to_have_value(re.compile(r"^#1 .*👎 local: better ending"), timeout=10000)
    pick_version(page, 2)
    page.locator("#history-rate-up").click()  # no reason: a plain thumbs up
    expect(versions).to_have_value(re.compile(r"^#2 .*👍 local$"), timeout=10000)
    shoot(page, "ratings-in-history")

    page.get_by_role("tab", name="Write").click()
    expect(shown).to_have_text("👍 local", timeout=10000)  # the row shows the rating given in the history
    assert sentence(page, 1).input_value() == second
    pairs = service.preference_pairs(user_id=store.user_id("local"))
    assert [(p["chosen"], p["rejected"]) for p in pairs] == [(second, first)]
    assert pairs[0]["meta"]["rejected"]["reason"] == "better ending"
