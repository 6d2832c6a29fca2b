"""As a writer in headless Chromium: keep a story bible in its panel, see an entry in the knowledge of
the sentence its key steers, pin and veto it, have a refusal leave the form as typed, and keep a
10,000-entry bible quick to open and filter."""

from __future__ import annotations

import os
import re
import time

import pytest

import storage
from tests.app.helpers import CHROMIUM, served
from tests.app.test_browser import XSS, open_page, shoot, start, wait_for_rows

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed"),
]
MARA = "Mara keeps the old lighthouse on the northern cliff."
NAME = f"Mara {XSS}"  # markup in an entry's name stays text everywhere it is shown
SANE_S = 20.0  # the page on a busy 2-core machine; measured well under half of this


@pytest.fixture
def server(fake, store):
    fake.chunk_delay_s = 0.01
    with served(fake, store) as running:
        yield running


def box(page, elem_id: str):
    """The text field of a Textbox (an input when it is one line, else a textarea)."""
    return page.locator(f"#{elem_id}").locator("input, textarea").first


def open_bible(page) -> None:
    from playwright.sync_api import expect

    page.locator("#bible-panel").get_by_text("Story bible").first.click()
    expect(box(page, "bible-name")).to_be_visible(timeout=10000)
    expect(page.locator("#bible-count")).to_contain_text("entr", timeout=10000)  # the open story's bible


def add_entry(page, name: str, keys: str, text: str) -> None:
    box(page, "bible-name").fill(name)
    box(page, "bible-keys").fill(keys)
    box(page, "bible-text").fill(text)
    page.locator("#bible-add").click()


def type_filter(page, text: str) -> None:
    """Type into the filter key by key, as a person does (the table follows each keystroke)."""
    field = box(page, "bible-filter")
    field.fill("")
    field.press_sequentially(text)


def open_knowledge(page, index: int):
    from playwright.sync_api import expect

    page.locator("button", has_text="Knowledge and provenance").nth(index - 1).click()
    facts = page.locator(f"#facts-{index}")
    expect(facts).to_be_visible(timeout=10000)
    return facts


def regenerate(page, index: int, keywords: str, version: str) -> None:
    from playwright.sync_api import expect

    page.locator(f"#keywords-{index} textarea").fill(keywords)
    page.locator(f"#regenerate-{index}").click()
    expect(page.locator(f"#version-{index}")).to_contain_text(version, timeout=10000)
    wait_for_rows(page, index)


def test_an_entry_called_up_by_its_key_is_ranked_pinned_and_vetoed(browser, server, fake):
    from playwright.sync_api import expect

    page = open_page(browser, server.url)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    start(page, "Ann drove home.")
    open_bible(page)
    add_entry(page, NAME, "lighthouse, Mara", MARA)
    expect(page.locator("#bible-status")).to_contain_text(f"Added entry #1 “{NAME}”", timeout=10000)
    expect(page.locator("#bible-count")).to_contain_text("1 entry.")
    expect(page.locator("#bible-table")).to_contain_text("lighthouse, Mara")
    expect(page.locator("#bible-table")).to_contain_text(NAME)

    page.locator("#next-keywords textarea").fill("lighthouse")
    page.locator("#write").click()
    wait_for_rows(page, 1)
    facts = open_knowledge(page, 1)
    expect(facts).to_contain_text(f"📖 {NAME}: {MARA}")
    expect(page.locator("#pin-1")).to_contain_text(f"0.95 · 📖 {NAME}: {MARA}")
    expect(facts.locator("tr", has_text="📖 Mara")).to_contain_text("0.95")  # the ranker's score
    expect(facts).to_contain_text("story bible (key 'lighthouse')")
    shoot(page, "bible-in-knowledge")

    # Pinned, it stays in the knowledge although the new keywords do not call it up.
    page.locator("#pin-1").get_by_text("📖 Mara", exact=False).click()
    regenerate(page, 1, "harbor", "version 2 of 2")
    assert fake.calls[-1].pinned == [MARA]
    facts = open_knowledge(page, 1)
    expect(facts.locator("tr", has_text="📖 Mara")).to_contain_text("story bible (pinned)")
    expect(facts.locator("tr", has_text="📖 Mara")).to_contain_text("1.00")

    # Vetoed, it is gone although its key is the keyword again.
    page.locator("#veto-1").get_by_text("📖 Mara", exact=False).click()
    regenerate(page, 1, "lighthouse", "version 3 of 3")
    assert fake.calls[-1].vetoed == [MARA] and fake.calls[-1].keywords == ["lighthouse"]
    facts = open_knowledge(page, 1)
    expect(facts).to_contain_text("A lighthouse can matter in a story.")
    expect(facts).not_to_contain_text("Mara")
    shoot(page, "bible-vetoed")
    assert page.evaluate("window.__xss") is None
    assert page.locator("img[src='x']").count() == 0
    assert dialogs == []


def test_a_refused_entry_keeps_the_form_then_always_edit_and_delete(browser, server, fake):
    from playwright.sync_api import expect

    page = open_page(browser, server.url)
    start(page, "Ann drove home.")
    open_bible(page)
    add_entry(page, "Harbor rules", " , ", "Boats leave the harbor at dawn.")
    status = page.locator("#bible-status")
    expect(status).to_contain_text("has no keys", timeout=10000)
    assert "Traceback" not in page.content()
    expect(box(page, "bible-name")).to_have_value("Harbor rules")  # what the writer typed stays
    expect(box(page, "bible-text")).to_have_value("Boats leave the harbor at dawn.")
    expect(page.locator("#bible-count")).to_contain_text("No entries yet")

    page.locator("#bible-always").get_by_text("Always include").click()
    page.locator("#bible-add").click()
    expect(status).to_contain_text("always included", timeout=10000)
    expect(page.locator("#bible-table")).to_contain_text("always")

    page.locator("#next-keywords textarea").fill("car")  # no key at all: the entry is in every prompt
    page.locator("#write").click()
    wait_for_rows(page, 1)
    row = open_knowledge(page, 1).locator("tr", has_text="📖 Harbor rules")
    expect(row).to_contain_text("story bible (always included)")
    expect(row).to_contain_text("1.00")

    page.locator("#bible-table").get_by_text("Harbor rules").filter(visible=True).first.click()  # pick the row
    expect(box(page, "bible-text")).to_have_value("Boats leave the harbor at dawn.", timeout=10000)
    expect(page.locator("#bible-entry-id input")).not_to_have_value("")
    box(page, "bible-text").fill("Boats leave the harbor at noon.")
    page.locator("#bible-save").click()
    expect(status).to_contain_text("(version 2)", timeout=10000)
    expect(page.locator("#bible-table")).to_contain_text("Boats leave the harbor at noon.")
    page.locator("#bible-delete").click()
    expect(status).to_contain_text("Deleted entry", timeout=10000)
    expect(page.locator("#bible-count")).to_contain_text("No entries yet")
    expect(box(page, "bible-name")).to_have_value("")

    page.locator("#write").click()
    wait_for_rows(page, 2)
    assert fake.calls[-1].context.bible == ()
    shoot(page, "bible-edit-delete")


def test_ten_thousand_entries_open_filter_and_steer_in_sane_time(browser, server, fake, store, service):
    from playwright.sync_api import expect

    user = store.user_id("local")  # the page's single local user
    story = service.new_story(user_id=user, premise="The pier had ten thousand lamps.")
    entries = [(storage.EntryInput(f"Keeper {i:05d}", [_word(i)], f"Keeper {i} minds lamp {i} on the long pier."), [])
               for i in range(1, 10_001)]
    store.run(lambda s: storage.bible.import_entries(
        s, storage.get_story(s, user_id=user, story_id=story.id), entries))

    began = time.monotonic()
    page = open_page(browser, f"{server.url}?story={story.id}")
    open_bible(page)
    count = page.locator("#bible-count")
    expect(count).to_contain_text("10,000 entries; showing the first 200", timeout=SANE_S * 1000)
    opened = time.monotonic() - began
    expect(page.locator("#bible-table")).to_contain_text("Keeper 00001")

    began = time.monotonic()
    type_filter(page, "keeper 04321")
    expect(count).to_contain_text("1 of 10,000 entries match", timeout=SANE_S * 1000)
    filtered = time.monotonic() - began
    expect(page.locator("#bible-table")).to_contain_text(_word(4321))
    type_filter(page, "lamp 43")  # lamp 43, 430-439 and 4300-4399
    expect(count).to_contain_text(re.compile(r"111 of 10,000 entries match"), timeout=SANE_S * 1000)

    began = time.monotonic()
    page.locator("#next-keywords textarea").fill(_word(4321))
    page.locator("#write").click()
    wait_for_rows(page, 1)
    written = time.monotonic() - began
    expect(open_knowledge(page, 1)).to_contain_text("📖 Keeper 04321: Keeper 4321 minds lamp 4321")
    shoot(page, "bible-ten-thousand")
    print(f"10,000 entries: panel {opened:.1f} s, filter {filtered:.1f} s, write {written:.1f} s")
    assert opened < SANE_S and filtered < SANE_S and written < SANE_S


def _word(i: int) -> str:
    """A distinct key made of letters only (keywords are words), e.g. 'lampbaa'."""
    letters = ""
    for _ in range(3):
        letters += chr(ord("a") + i % 26)
        i //= 26
    return "lamp" + letters
