"""As a writer in headless Chromium: keyboard shortcuts, and the story read as prose."""

from __future__ import annotations

import os
import re

import pytest

from tests.app.helpers import CHROMIUM, served
from tests.app.test_browser import XSS, open_page, sentence, shoot, start, wait_for_rows

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed"),
]
SLOW = ["Slowly", " the", " rain", " came", " down", " on", " the", " tin", " roof."]


@pytest.fixture
def server(fake, store):
    fake.chunk_delay_s = 0.01
    with served(fake, store) as running:
        yield running


def reading(page):
    return page.locator("#reading-view")


def test_keys_start_write_regenerate_the_focused_row_undo_and_redo(browser, server):
    from playwright.sync_api import expect

    page = open_page(browser, server.url)
    page.locator("#premise textarea").fill("Tom let his friend borrow his phone.")
    page.locator("#premise textarea").press("Control+Enter")  # in the premise box: New story
    expect(page.locator("#no-rows")).to_be_visible(timeout=10000)
    page.keyboard.press("Escape")
    page.keyboard.press("Control+Enter")
    wait_for_rows(page, 1)
    page.locator("#next-keywords textarea").fill("store")
    page.locator("#next-keywords textarea").press("Control+Enter")  # typed keywords, then the key
    wait_for_rows(page, 2)
    assert "store" in sentence(page, 2).input_value()
    old = sentence(page, 1).input_value()

    page.locator("#keywords-1 textarea").fill("umbrella")
    page.keyboard.press("Alt+r")  # the focused row is 1, not the last one
    expect(page.locator("#version-1")).to_contain_text("version 2 of 2", timeout=10000)
    wait_for_rows(page, 1)  # a regenerate ends the story at the new version
    assert "umbrella" in sentence(page, 1).input_value()

    keywords = page.locator("#next-keywords textarea")
    keywords.click()
    page.keyboard.type("ghost")
    page.keyboard.press("Control+z")  # in a text box: the typing is undone, the story stays
    expect(keywords).not_to_have_value("ghost", timeout=5000)
    assert "umbrella" in sentence(page, 1).input_value()

    page.keyboard.press("Escape")  # out of the box: Ctrl+Z undoes the story
    page.keyboard.press("Control+z")
    expect(sentence(page, 1)).to_have_value(old, timeout=10000)
    wait_for_rows(page, 2)
    page.keyboard.press("Control+y")
    expect(sentence(page, 1)).to_have_value(re.compile("umbrella"), timeout=10000)
    wait_for_rows(page, 1)
    shoot(page, "studio-keys")


def test_alt_arrows_switch_among_three_candidates_set_in_the_sampling_panel(browser, server):
    from playwright.sync_api import expect

    page = open_page(browser, server.url)
    start(page, "Ann drove home.")
    page.locator("#sampling").click()
    count = page.locator("#candidates input[type=number]")
    for _ in range(10):  # an update still arriving from opening the story may reset the panel: set it until it holds
        count.fill("3")
        count.press("Enter")
        count.blur()
        page.wait_for_timeout(300)
        if count.input_value() == "3":
            break
    expect(count).to_have_value("3")
    keywords = page.locator("#next-keywords textarea")
    keywords.fill("car")
    keywords.press("Control+Enter")
    wait_for_rows(page, 1)
    label = page.locator("#candidate-1")
    expect(label).to_contain_text("candidate 1 of 3", timeout=10000)
    first = sentence(page, 1).input_value()
    url = page.url

    sentence(page, 1).focus()
    page.keyboard.press("Alt+ArrowRight")
    expect(label).to_contain_text("candidate 2 of 3", timeout=10000)
    expect(sentence(page, 1)).to_have_value(first[:-1] + " again.")
    page.keyboard.press("Alt+ArrowLeft")
    expect(label).to_contain_text("candidate 1 of 3", timeout=10000)
    expect(sentence(page, 1)).to_have_value(first)
    page.keyboard.press("Alt+ArrowLeft")  # round to the last candidate
    expect(label).to_contain_text("candidate 3 of 3", timeout=10000)
    assert page.url == url  # Alt+Left switched a candidate; the browser did not go back a page
    shoot(page, "studio-candidates")


def test_the_help_panel_lists_the_keys(browser, server):
    from playwright.sync_api import expect

    page = open_page(browser, server.url)
    panel = page.locator("#shortcuts-list")
    expect(panel).not_to_be_visible()  # collapsed until asked for
    page.locator("#shortcuts").get_by_text("Keyboard shortcuts").click()
    expect(panel).to_be_visible(timeout=5000)
    for keys in ("Ctrl+Enter", "Alt+R", "Ctrl+Z", "Ctrl+Y", "Alt+Left", "Alt+Right", "Esc"):
        expect(panel).to_contain_text(keys)
    shoot(page, "studio-shortcuts")


def test_the_reading_view_shows_premise_and_sentences_as_prose_and_opens_a_row(browser, server):
    from playwright.sync_api import expect

    page = open_page(browser, server.url)
    premise = "Tom let his friend borrow his phone."
    start(page, premise)
    expect(reading(page)).to_have_text(premise, timeout=10000)
    for count in (1, 2, 3):
        page.locator("#write").click()
        wait_for_rows(page, count)
    texts = [sentence(page, i).input_value() for i in (1, 2, 3)]
    spans = reading(page).locator("[data-index]")
    expect(spans).to_have_text(texts, timeout=10000)  # in story order
    expect(reading(page)).to_have_text(" ".join([premise, *texts]))  # one paragraph of prose
    assert reading(page).locator("p").count() == 1

    page.locator("#sentence-3 textarea").fill("Ann typed this by hand.")
    page.locator("#save-3").click()
    expect(spans.nth(2)).to_have_text("Ann typed this by hand.", timeout=10000)  # follows every change

    page.locator("#keywords-3 textarea").focus()
    spans.nth(1).click()
    expect(sentence(page, 2)).to_be_focused()
    expect(page.locator("#facts-2")).not_to_be_visible()  # the row's panels stay closed
    shoot(page, "studio-reading-view")


def test_the_sentence_being_written_streams_into_the_reading_view(browser, server, fake):
    from playwright.sync_api import expect

    page = open_page(browser, server.url)
    start(page, "Ann drove home.")
    fake.chunk_delay_s = 0.3
    fake.enqueue(SLOW)
    page.locator("#write").click()
    streaming = reading(page).locator(".cntrl-streaming")
    expect(streaming).to_contain_text("Slowly the rain", timeout=10000)
    assert sentence(page, 1).count() == 0  # not saved yet
    assert "tin roof." not in reading(page).inner_text()
    shoot(page, "studio-reading-streaming")
    wait_for_rows(page, 1)
    expect(reading(page).locator("[data-index='1']")).to_have_text("Slowly the rain came down on the tin roof.")
    expect(streaming).to_have_count(0)

    fake.enqueue(["Then", " the", " sun", " came", " out", " over", " the", " wet", " fields."])
    page.locator("#regenerate-1").click()  # a sentence written again streams in its own place
    expect(reading(page).locator("[data-index='1'].cntrl-streaming")).to_contain_text("Then the", timeout=10000)
    expect(reading(page).locator("[data-index]")).to_have_count(1)
    expect(reading(page).locator("[data-index='1']")).to_have_text("Then the sun came out over the wet fields.",
                                                                   timeout=10000)
    expect(streaming).to_have_count(0)


def test_html_in_the_reading_view_stays_inert(browser, server, fake):
    from playwright.sync_api import expect

    page = open_page(browser, server.url)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    start(page, f"{XSS} <script>window.__xss=2</script> A premise.")
    expect(reading(page)).to_contain_text("<script>window.__xss=2</script>", timeout=10000)
    fake.chunk_delay_s = 0.2
    fake.enqueue(["She", " wrote", f" {XSS}", " and", " ${window.__xss=3}", " {{constructor}}", " twice."])
    page.locator("#write").click()
    expect(reading(page).locator(".cntrl-streaming")).to_contain_text("<img src=x", timeout=10000)
    wait_for_rows(page, 1)
    expect(reading(page).locator("[data-index='1']")).to_have_text(
        f"She wrote {XSS} and ${{window.__xss=3}} {{{{constructor}}}} twice.")
    page.wait_for_timeout(500)
    shoot(page, "studio-reading-inert")
    assert page.evaluate("window.__xss") is None
    assert page.locator("img[src='x']").count() == 0
    assert dialogs == []
