"""As a person in headless Chromium: a rater uses the keyboard and resumes; an admin sees results."""

from __future__ import annotations

import os
import socket

import pytest
from sqlalchemy import select

from app.studies.studies import StudySpec, attention_checks, create_study_with_items
from storage import assign_raters
from tests.studies.helpers import stories

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed"),
]


@pytest.fixture
def server(factory, people):
    """The evaluation pages on a free local port with a 7-item Likert study for r1; shut down after."""
    from app.studies.ui import build_eval_demo

    spec = StudySpec(
        name="browser",
        kind="likert",
        criteria=["fluency", "coherence"],
        overlap_k=1,
        attention_rate=0.0,
    )
    with factory.begin() as session:
        study = create_study_with_items(session, spec=spec, stories=stories(premises=4)[:7])
        assign_raters(session, study_id=study.id, rater_ids=[people["r1"]], make_checks=attention_checks,
                      seed=0)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    demo = build_eval_demo(session_factory=factory, secret=b"browser-test")
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser.new_page()
        browser.close()


def _log_in(page, url: str, name: str) -> None:
    page.goto(url)
    page.locator("#login-name textarea, #login-name input").first.fill(name)
    page.locator("#login-password input").fill(f"pw-{name}")
    page.locator("#login-button").click()


def _rate_with_keys(page, done_before: int) -> None:
    from playwright.sync_api import expect

    expect(page.locator("#progress-text")).to_have_text(f"{done_before} of 7 done", timeout=15000)
    page.locator("#item").click()  # focus the page, not a text field
    page.keyboard.press("4")
    page.keyboard.press("3")
    expect(page.locator("#crit-1 input:checked")).to_have_count(1)
    page.keyboard.press("Enter")
    expect(page.locator("#progress-text")).to_have_text(
        f"{done_before + 1} of 7 done", timeout=15000
    )


def test_rater_completes_five_items_with_the_keyboard_and_resumes_after_reload(
    server, page, factory
):
    from playwright.sync_api import expect

    from storage import Rating

    _log_in(page, server, "r1")
    for n in range(2):
        _rate_with_keys(page, n)
    page.reload()  # the signed token in the browser resumes at the third item
    expect(page.locator("#progress-text")).to_have_text("2 of 7 done", timeout=15000)
    for n in range(2, 5):
        _rate_with_keys(page, n)
    with factory.begin() as session:
        rows = list(session.scalars(select(Rating)))
    assert len(rows) == 10 and {(r.criterion, r.value) for r in rows} == {
        ("fluency", 4),
        ("coherence", 3),
    }


def test_admin_sees_the_results_tab_with_a_plot(server, page, factory, people):
    from playwright.sync_api import expect

    from app.studies.service import EvalService

    service = EvalService(factory=factory, secret=b"x")
    token = service.login(name="r1", password="pw-r1")
    while (item := service.current_item(token, study_id=1)) is not None:
        service.submit(
            token, item_id=item.item_id, answers={"fluency": 4, "coherence": 2}, time_spent_ms=3000
        )
    _log_in(page, server, "ada")
    page.locator("#show-results").click()
    expect(page.locator("#results-plot canvas, #results-plot svg").first).to_be_visible(
        timeout=20000
    )
    expect(page.get_by_text("Scores by system")).to_be_visible()
