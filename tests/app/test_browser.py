"""As a writer in headless Chromium: write, steer, undo, reload, stay private, stay inert."""

from __future__ import annotations

import os
import re

import pytest

from app.auth import add_user, checker, read_auth_file
from tests.app.helpers import ARTIFACTS, CHROMIUM, served

XSS = '<img src=x onerror="window.__xss=1">'
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed"),
]


@pytest.fixture
def server(fake, store):
    fake.chunk_delay_s = 0.01
    with served(fake, store) as running:
        yield running


def open_page(browser, url: str):
    page = browser.new_page(viewport={"width": 1280, "height": 1200})
    page.goto(url)
    page.wait_for_selector("#page-ready", state="attached", timeout=15000)
    return page


def start(page, premise: str) -> None:
    from playwright.sync_api import expect

    page.locator("#premise textarea").fill(premise)
    page.locator("#new-story").click()
    expect(page.locator("#no-rows")).to_be_visible(timeout=10000)


def sentence(page, index: int):
    return page.locator(f"#sentence-{index} textarea")


def wait_for_rows(page, count: int) -> None:
    from playwright.sync_api import expect

    expect(sentence(page, count)).to_be_visible(timeout=10000)
    expect(sentence(page, count + 1)).to_have_count(0)
    expect(page.locator("#live textarea")).to_have_value("", timeout=10000)


def shoot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_write_four_sentences_steer_sentence_two_undo_and_reload(browser, server):
    from playwright.sync_api import expect

    page = open_page(browser, server.url)
    start(page, "Tom let his friend borrow his phone.")
    page.locator("#write").click()
    wait_for_rows(page, 1)
    page.locator("#suggest").click()
    expect(page.locator("#next-keywords textarea")).to_have_value("store, charger", timeout=10000)
    page.locator("#write").click()
    wait_for_rows(page, 2)
    page.locator("#continue").click()
    wait_for_rows(page, 3)
    page.locator("#next-keywords textarea").fill("home")
    page.locator("#write").click()
    wait_for_rows(page, 4)
    assert "home" in sentence(page, 4).input_value()
    expect(page.locator("#next-keywords textarea")).to_have_value("", timeout=10000)  # cleared for the next one
    shoot(page, "editor-four-sentences")

    old = sentence(page, 2).input_value()
    page.locator("#keywords-2 textarea").fill("umbrella")
    page.locator("#regenerate-2").click()
    expect(page.locator("#version-2")).to_contain_text("version 2 of 2", timeout=10000)
    new = sentence(page, 2).input_value()
    assert "umbrella" in new and new != old
    shoot(page, "editor-regenerated")

    page.locator("#undo").click()
    expect(sentence(page, 2)).to_have_value(old, timeout=10000)
    wait_for_rows(page, 4)

    page.reload()
    page.wait_for_selector("#page-ready", state="attached", timeout=15000)
    assert "story=" in page.url
    expect(sentence(page, 2)).to_have_value(old, timeout=10000)
    wait_for_rows(page, 4)
    page.locator("button", has_text="Knowledge and provenance").first.click()
    expect(page.locator("#facts-1")).to_contain_text("A phone can matter in a story.")
    expect(page.locator("#provenance-1")).to_contain_text("fake-engine")
    shoot(page, "editor-after-reload")


def test_double_click_on_write_adds_one_sentence(browser, server, fake):
    fake.chunk_delay_s = 0.05
    page = open_page(browser, server.url)
    start(page, "Ann drove home.")
    page.locator("#write").dblclick()
    wait_for_rows(page, 1)
    page.wait_for_timeout(1000)
    wait_for_rows(page, 1)


def test_html_in_premise_keywords_and_sentences_never_runs(browser, server):
    from playwright.sync_api import expect

    page = open_page(browser, server.url)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    start(page, f"{XSS} <script>window.__xss=2</script> A premise.")
    page.locator("#next-keywords textarea").fill(f"{XSS}, ghost")
    page.locator("#write").click()
    wait_for_rows(page, 1)
    sentence(page, 1).fill(f"She typed {XSS} here.")
    page.locator("#save-1").click()
    expect(page.locator("#version-1")).to_contain_text("version 2 of 2", timeout=10000)
    page.locator("button", has_text="Knowledge and provenance").first.click()
    page.get_by_role("tab", name="Stories").click()
    expect(page.locator("#story-list")).to_contain_text("<img src=x", timeout=10000)
    page.get_by_role("tab", name="History").click()
    page.wait_for_timeout(500)
    shoot(page, "editor-inert-html")
    assert page.evaluate("window.__xss") is None
    assert page.locator("img[src='x']").count() == 0
    assert dialogs == []


def test_an_engine_error_shows_a_readable_message(browser, server, fake):
    from playwright.sync_api import expect

    page = open_page(browser, server.url)
    start(page, "Ann drove home.")
    fake.fail_next(RuntimeError("the model ran out of memory"))
    page.locator("#write").click()
    toast = page.get_by_text("the engine failed on this sentence, nothing was saved", exact=False)
    expect(toast.first).to_be_visible(timeout=10000)
    assert "Traceback" not in page.content()
    expect(sentence(page, 1)).to_have_count(0)


def test_a_second_user_cannot_see_the_first_users_story(browser, fake, store, tmp_path):
    from playwright.sync_api import expect

    path = tmp_path / "users.auth"
    add_user(path, "alice", "pw-alice")
    add_user(path, "bob", "pw-bob")
    with served(fake, store, auth=checker(read_auth_file(path))) as server:
        alice = log_in(browser, server.url, "alice")
        start(alice, "Alice's private premise.")
        alice.locator("#write").click()
        wait_for_rows(alice, 1)
        story_url = alice.url
        assert "story=" in story_url

        bob = log_in(browser, server.url, "bob")
        bob.goto(story_url)
        bob.wait_for_selector("#page-ready", state="attached", timeout=15000)
        expect(bob.locator("#no-story")).to_be_visible(timeout=10000)
        assert "Alice's private premise." not in bob.locator("#premise textarea").input_value()
        bob.get_by_role("tab", name="Stories").click()
        bob.locator("button", has_text="Refresh").click()
        bob.wait_for_timeout(500)
        expect(bob.locator("#story-list")).not_to_contain_text("Alice")
        shoot(bob, "second-user")


def log_in(browser, url: str, name: str):
    page = browser.new_context(viewport={"width": 1280, "height": 1200}).new_page()
    page.goto(url)
    page.locator("input[type=text], input:not([type])").first.fill(name)
    page.locator("input[type=password]").fill(f"pw-{name}")
    page.locator("button", has_text="Login").click()
    page.wait_for_selector("#page-ready", state="attached", timeout=15000)
    return page


def test_an_empty_premise_is_refused_and_a_100000_character_paste_is_kept(browser, server):
    from playwright.sync_api import expect

    page = open_page(browser, server.url)
    page.locator("#new-story").click()
    expect(page.get_by_text("the premise is empty", exact=False).first).to_be_visible(timeout=10000)
    expect(page.locator("#no-story")).to_be_visible()
    page.locator("#premise textarea").fill("word " * 20_000)  # 100,000 characters
    page.locator("#new-story").click()
    expect(page.locator("#no-rows")).to_be_visible(timeout=15000)
    assert len(page.locator("#title textarea, #title input").first.input_value()) <= 80
    page.locator("#write").click()
    wait_for_rows(page, 1)


def test_switch_candidates_and_make_an_old_version_current(browser, fake, store):

    from engine.types import SamplingParams

    with served(fake, store, defaults=SamplingParams(n_candidates=2)) as server:
        page = open_page(browser, server.url)
        switch_and_go_back(page)


def switch_and_go_back(page) -> None:
    from playwright.sync_api import expect

    start(page, "Ann drove home.")
    page.locator("#sampling").click()
    expect(page.locator("#candidates input[type=number]")).to_have_value("2")
    page.locator("#next-keywords textarea").fill("car")
    page.locator("#write").click()
    wait_for_rows(page, 1)
    expect(page.locator("#candidate-1")).to_contain_text("candidate 1 of 2", timeout=10000)
    first = sentence(page, 1).input_value()
    page.locator("#next-candidate-1").click()
    expect(page.locator("#candidate-1")).to_contain_text("candidate 2 of 2", timeout=10000)
    assert sentence(page, 1).input_value() == first[:-1] + " again."
    page.get_by_role("tab", name="History").click()
    expect(page.locator("#versions input")).to_have_value(re.compile("current end"), timeout=10000)
    page.locator("#versions input").click()
    page.get_by_role("option", name="#1 · sentence 1", exact=False).click()
    page.locator("#make-current").click()
    page.get_by_role("tab", name="Write").click()
    expect(sentence(page, 1)).to_have_value(first, timeout=10000)
    shoot(page, "editor-history")


def test_click_a_token_then_an_alternative_to_write_a_new_version(browser, server):
    from playwright.sync_api import expect

    page = open_page(browser, server.url)
    start(page, "Tom let his friend borrow his phone.")
    page.locator("#next-keywords textarea").fill("car")
    page.locator("#write").click()
    wait_for_rows(page, 1)
    first = sentence(page, 1).input_value()
    page.locator("#token-view-1").get_by_text("Token alternatives").click()
    tokens = page.locator("#tokens-1")
    expect(tokens).to_contain_text("60%", timeout=10000)  # each token shows its probability
    tokens.get_by_text(" car", exact=False).first.click()
    options = page.locator("#alternatives-1")
    expect(options).to_be_visible(timeout=10000)
    expect(options.locator("label")).to_have_count(5)  # five runners-up for that token
    shoot(page, "editor-token-alternatives")
    options.locator("label").first.click()
    expect(page.locator("#version-1")).to_contain_text("2 of 2", timeout=15000)
    new = sentence(page, 1).input_value()
    assert new != first and new.startswith("Then the ")
