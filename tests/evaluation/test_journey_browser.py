"""A whole study in headless Chromium: an admin made by the CLI creates a pairwise study and
three invites in the admin page, three raters in their own browser contexts answer every item
by keyboard (one fails the attention check), and the results page shows win rates,
Bradley-Terry scores with intervals, Krippendorff's alpha and the flagged rater; the CSV export
holds every answer once, and the CLI computes the same results from the same database."""

from __future__ import annotations

import csv
import io
import os
import re
import socket

import pytest

from app.evaluation.cli import main as eval_cli
from storage import make_engine, make_sessionmaker, upgrade
from tests.app.helpers import CHROMIUM

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed"),
]


@pytest.fixture
def site(tmp_path, monkeypatch):
    """An empty database, an admin account made with the CLI, and the evaluation pages on a free port."""
    from app.evaluation.ui import build_eval_demo

    url = f"sqlite:///{tmp_path / 'journey.db'}"
    monkeypatch.setattr("sys.stdin", io.StringIO("boss-password\n"))
    assert eval_cli(["--db", url, "users", "add", "boss", "--role", "admin", "--password-stdin"]) == 0
    engine = make_engine(url)
    upgrade(engine=engine)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    demo = build_eval_demo(session_factory=make_sessionmaker(engine), secret=b"journey")
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield url, f"http://127.0.0.1:{port}/"
    demo.close()
    engine.dispose()


def _fill(page, elem_id: str, value: str) -> None:
    field = page.locator(f"#{elem_id} textarea, #{elem_id} input[type=number], #{elem_id} input[type=text]").first
    field.fill(value)
    field.press("Tab")


def _answer_everything(page, link: str, *, fail_checks: bool) -> int:
    """Open an invite link and answer every item with the keyboard; returns how many."""
    from playwright.sync_api import expect

    page.goto(link)
    expect(page.locator("#progress-text")).to_be_visible(timeout=30000)
    answered = 0
    while True:
        progress = page.locator("#progress-text").inner_text()
        done, total = map(int, re.match(r"(\d+) of (\d+) done", progress).groups())
        if "Thank you" in page.locator("#instructions").inner_text():
            assert done == total
            return answered
        text = page.locator("#item").inner_text()
        if "This is an attention check" in text:
            key = "t" if fail_checks else ("a" if "choose A" in text else "b")
        else:
            key = "a" if answered % 3 else "b"
        page.locator("#item").click()  # focus the page, not a field
        page.keyboard.press(key)
        expect(page.locator("#crit-0 input:checked")).to_have_count(1)
        page.keyboard.press("Enter")
        answered += 1
        expect(page.locator("#progress-text")).not_to_have_text(progress, timeout=20000)


def test_a_pairwise_study_from_admin_page_to_results(site, browser, tmp_path):
    from playwright.sync_api import expect

    url, address = site
    admin = browser.new_page()
    admin.goto(address)
    admin.locator("#login-name textarea, #login-name input").first.fill("boss")
    admin.locator("#login-password input").fill("boss-password")
    admin.locator("#login-button").click()

    admin.get_by_role("tab", name="Create study").click()
    _fill(admin, "create-name", "journey")
    _fill(admin, "create-limit", "4")
    _fill(admin, "create-sentences", "2")
    _fill(admin, "create-k", "2")
    _fill(admin, "create-rate", "0.25")
    _fill(admin, "create-model", "tiny-random")
    admin.locator("#create-study").click()
    expect(admin.locator("#created")).to_contain_text("Created study 1 with 8 stories", timeout=240000)

    admin.get_by_role("tab", name="Invite raters").click()
    _fill(admin, "invite-count", "3")
    admin.locator("#make-invites").click()
    expect(admin.locator("#invite-links textarea")).to_have_value(re.compile(r"invite="), timeout=20000)
    links = admin.locator("#invite-links textarea").input_value().splitlines()
    assert len(links) == 3 and all(link.startswith(address + "?invite=") for link in links)

    answered = []
    for n, link in enumerate(links):  # three people, three separate browser contexts
        context = browser.new_context()
        answered.append(_answer_everything(context.new_page(), link, fail_checks=n == 2))
        context.close()
    assert sum(answered) == 8 + 3  # 4 items x k=2, and one attention check each

    _fill(admin, "invite-count", "1")  # a fourth invitee finds every item with its 2 raters
    admin.locator("#make-invites").click()
    expect(admin.locator("#invite-links textarea")).not_to_have_value("\n".join(links), timeout=20000)
    late = browser.new_context().new_page()
    late.goto(admin.locator("#invite-links textarea").input_value().strip())
    expect(late.locator("#eval-message")).to_contain_text("is full", timeout=30000)

    admin.get_by_role("tab", name="Results").click()
    _fill(admin, "results-study", "1")
    admin.locator("#show-results").click()
    expect(admin.locator("#results-bradley_terry")).to_contain_text("plain", timeout=60000)
    for table, words in {
        "win_rates": ["full", "plain", "rate"],
        "bradley_terry": ["score", "low", "high"],
        "agreement": ["alpha", "nominal"],
        "quality": ["attention checks 0%"],
    }.items():
        for word in words:
            expect(admin.locator(f"#results-{table}")).to_contain_text(word)

    exports = {}
    for name in ("summary.csv", "ratings.csv"):
        href = admin.locator(f"#results-files a[href*='{name}']").first.get_attribute("href")
        exports[name] = admin.request.get(href if href.startswith("http") else address.rstrip("/") + href).text()
    rows = list(csv.DictReader(io.StringIO(exports["ratings.csv"])))
    assert len(rows) == sum(answered) and len({(r["rater_id"], r["item_id"]) for r in rows}) == len(rows)

    cli_summary = tmp_path / "summary.csv"
    assert eval_cli(["--db", url, "results", "--study", "1", "--csv", str(cli_summary)]) == 0
    with open(cli_summary, newline="", encoding="utf-8") as handle:
        from_cli = list(csv.DictReader(handle))
    assert from_cli == list(csv.DictReader(io.StringIO(exports["summary.csv"])))
    assert any(r["table"] == "bradley_terry" for r in from_cli)
