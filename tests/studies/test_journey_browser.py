"""A whole study in headless Chromium, asserting what each person sees: an admin made by the CLI
creates a pairwise study (told what wrote each system) and three invites in the admin page; three
raters in their own browser contexts answer every item by keyboard (one fails the attention check)
and end on a thank-you page with nothing to submit; a used link opened again shows the rater's
progress or a plain message; a fourth invite is refused until forced, and its invitee is told why
without a login form; the results page shows only the tables of a pairwise study, rounded, raters
by name, and with the flagged rater excluded says why alpha is missing. The CSV export holds every
answer once and each system's provenance, and the CLI computes the same results from the same
database. A second study shows stories with Markdown and HTML characters exactly as stored, and a
system that always wins as a bound, not an estimate."""

from __future__ import annotations

import csv
import io
import os
import re
import socket

import pytest
from sqlalchemy import select

from app.studies.cli import main as eval_cli
from app.studies.report import NOT_ESTIMABLE
from storage import make_engine, make_sessionmaker, upgrade
from tests.app.helpers import CHROMIUM

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed"),
]


@pytest.fixture
def site(tmp_path, monkeypatch):
    """An empty database, an admin account made with the CLI, a small knowledge base, and the
    evaluation pages on a free port."""
    from app.studies.ui import build_eval_demo
    from engine.knowledge.import_conceptnet import import_cn100k

    rows = ["IsA\tdog\tanimal\t3.0", "CapableOf\tdog\tbark\t2.8", "AtLocation\tman\thome\t1.5"]
    (tmp_path / "cn.txt").write_text("".join(r + "\n" for r in rows))
    import_cn100k(path=tmp_path / "cn.txt", kb=tmp_path / "kb.db")
    monkeypatch.setenv("CNTRL_KB", str(tmp_path / "kb.db"))
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
            _expect_finished(page, total)
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


def _expect_finished(page, total: int) -> None:
    """A finished rater sees thanks and what to do next, and nothing to answer or submit."""
    from playwright.sync_api import expect

    expect(page.locator("#item")).to_contain_text(f"You have rated all {total} of your items")
    expect(page.locator("#item")).to_contain_text("you can close this page")
    expect(page.locator("#submit-answer")).to_be_hidden()
    expect(page.locator("#crit-0")).to_be_hidden()
    expect(page.locator("#eval-message")).to_have_text("")
    expect(page.locator("#who")).to_contain_text(re.compile(r"Logged in as \S+ \(rater\)"))


def _log_in(page, address: str, name: str, password: str) -> None:
    page.goto(address)
    page.locator("#login-name textarea, #login-name input").first.fill(name)
    page.locator("#login-password input").fill(password)
    page.locator("#login-button").click()


def _cells(page, table: str) -> str:
    return page.locator(f"#results-{table}").inner_text()


def test_a_pairwise_study_from_admin_page_to_results(site, browser, tmp_path):
    from playwright.sync_api import expect

    url, address = site
    admin = browser.new_page()
    _log_in(admin, address, "boss", "boss-password")
    expect(admin.locator("#who")).to_contain_text("Logged in as boss (admin)")
    expect(admin.locator("#log-out")).to_be_visible()
    for table in ("systems", "quality", "means", "win_rates", "bradley_terry", "agreement"):  # no placeholders
        expect(admin.locator(f"#results-{table}")).to_be_hidden()

    admin.get_by_role("tab", name="Create study").click()
    _fill(admin, "create-name", "journey")
    _fill(admin, "create-limit", "4")
    _fill(admin, "create-sentences", "2")
    _fill(admin, "create-k", "2")
    _fill(admin, "create-rate", "0.25")
    _fill(admin, "create-model", "tiny-random")
    admin.locator("#create-study").click()
    expect(admin.locator("#created")).to_contain_text("Created study 1 with 8 stories", timeout=240000)
    expect(admin.locator("#created")).to_contain_text("full: model tiny-random, adapter none, backend torch, "
                                                      "knowledge base")
    expect(admin.locator("#created")).to_contain_text("plain: model tiny-random, adapter none, backend torch, "
                                                      "no knowledge, keywords none")

    admin.get_by_role("tab", name="Invite raters").click()
    _fill(admin, "invite-count", "3")
    admin.locator("#make-invites").click()
    expect(admin.locator("#invite-links textarea")).to_have_value(re.compile(r"invite="), timeout=20000)
    links = admin.locator("#invite-links textarea").input_value().splitlines()
    assert len(links) == 3 and all(link.startswith(address + "?invite=") for link in links)

    answered = []
    for n, link in enumerate(links):  # three people, three separate browser contexts
        context = browser.new_context()
        page = context.new_page()
        answered.append(_answer_everything(page, link, fail_checks=n == 2))
        if n == 0:  # the same person opens their used link again: their progress, no error, no item
            page.goto(link)
            expect(page.locator("#instructions")).to_contain_text("Thank you!", timeout=30000)
            expect(page.locator("#progress-text")).to_have_text(f"{answered[0]} of {answered[0]} done")
            _expect_finished(page, answered[0])
        context.close()
    assert sum(answered) == 8 + 3  # 4 items x k=2, and one attention check each

    stranger = browser.new_context().new_page()  # someone else opens a used link: a plain message only
    stranger.goto(links[1])
    expect(stranger.locator("#eval-message")).to_contain_text("This invite link has already been used",
                                                              timeout=30000)
    for hidden in ("#login-button", "#item", "#submit-answer"):
        expect(stranger.locator(hidden)).to_be_hidden()

    _fill(admin, "invite-count", "1")  # a fourth invite finds every item with its 2 raters: refused
    admin.locator("#make-invites").click()
    expect(admin.locator("#invite-note")).to_contain_text(
        "0 open rater slots and 0 unused invites: room for 0 more invites", timeout=20000)
    expect(admin.locator("#invite-links textarea")).to_have_value("")
    admin.locator("#invite-force input").check()
    admin.locator("#make-invites").click()
    expect(admin.locator("#invite-links textarea")).to_have_value(re.compile(r"invite="), timeout=20000)
    late = browser.new_context().new_page()
    late.goto(admin.locator("#invite-links textarea").input_value().strip())
    expect(late.locator("#eval-message")).to_contain_text("nothing left for you to rate", timeout=30000)
    expect(late.locator("#login-button")).to_be_hidden()
    expect(late.locator("#login-name")).to_be_hidden()

    admin.get_by_role("tab", name="Results").click()
    _fill(admin, "results-study", "1")
    admin.locator("#show-results").click()
    expect(admin.locator("#results-bradley_terry")).to_contain_text("plain", timeout=180000)
    expect(admin.locator("#results-bradley_terry")).to_contain_text("Bradley-Terry scores with 95% intervals")
    expect(admin.locator("#results-means")).to_be_hidden()  # a pairwise study has no means
    for table, words in {
        "systems": ["full", "plain", "tiny-random", "kb.db", "none"],
        "win_rates": ["full", "plain", "% (", " won, "],
        "bradley_terry": ["Score", "95% interval"],
        "agreement": ["Alpha", "nominal"],
        "quality": ["rater-1-1", "rater-1-3", "attention checks 0%", "1 of 1 right (100%)"],
    }.items():
        for word in words:
            expect(admin.locator(f"#results-{table}")).to_contain_text(word)
    for table in ("win_rates", "bradley_terry", "agreement", "quality"):
        assert not re.search(r"\d\.\d{3,}", _cells(admin, table)), _cells(admin, table)  # rounded

    admin.locator("#results-exclude input").check()
    admin.locator("#show-results").click()
    expect(admin.locator("#results-note")).to_contain_text("Excluded raters: rater-1-3.", timeout=180000)
    expect(admin.locator("#results-quality")).to_contain_text(re.compile(r"rater-1-3.*attention checks 0% < 80%\s*yes"))
    expect(admin.locator("#results-agreement")).to_contain_text(re.compile(r"coherence\s+(-?\d\.\d\d|— \(too few)"))
    scores = _cells(admin, "bradley_terry")
    assert not re.search(r"\d\.\d{3,}", scores) and ("5.0" not in scores or NOT_ESTIMABLE in scores), scores
    admin.locator("#results-exclude input").uncheck()
    admin.locator("#show-results").click()
    expect(admin.locator("#results-note")).to_contain_text("No rater excluded.", timeout=180000)

    exports = {}
    for name in ("summary.csv", "ratings.csv"):
        href = admin.locator(f"#results-files a[href*='{name}']").first.get_attribute("href")
        exports[name] = admin.request.get(href if href.startswith("http") else address.rstrip("/") + href).text()
    rows = list(csv.DictReader(io.StringIO(exports["ratings.csv"])))
    assert len(rows) == sum(answered) and len({(r["rater_id"], r["item_id"]) for r in rows}) == len(rows)

    assert eval_cli(["--db", url, "results", "--study", "1", "--out", str(tmp_path / "cli")]) == 0
    with open(tmp_path / "cli" / "study-1-summary.csv", newline="", encoding="utf-8") as handle:
        from_cli = list(csv.DictReader(handle))
    assert from_cli == list(csv.DictReader(io.StringIO(exports["summary.csv"])))
    assert any(r["table"] == "bradley_terry" for r in from_cli)
    systems = {r["system"]: r for r in from_cli if r["table"] == "systems"}
    assert systems["full"]["knowledge_base"].endswith("kb.db") and systems["full"]["knowledge_edges"] == "3"
    assert systems["plain"]["knowledge_base"] == "none" and systems["plain"]["keywords"] == "none"


VERBATIM = ("Ann *really* liked_this_one ~~old~~ `code` <b>bold</b> # not a heading "
            "https://example.com/a_b?x=1&y=2 and 2 * 3 = 6.")


def test_stories_are_shown_verbatim_and_a_system_that_always_wins_reads_as_a_bound(site, browser):
    from playwright.sync_api import expect

    from app.studies.service import EvalService
    from app.studies.studies import StudySpec, attention_checks, create_study_with_items
    from app.studies.systems import WrittenStory
    from storage import StudyItem, assign_raters, create_user

    url, address = site
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    premise = "Premise with _under_ and **stars**"
    written = [WrittenStory(f"{premise} {p}.", [VERBATIM if system == "full" else f"A plain story {p}."], [[]],
                            system, "m") for p in range(3) for system in ("full", "plain")]
    with factory.begin() as session:
        raters = [create_user(session, name=n, password=f"pw-{n}", role="rater").id for n in ("r1", "r2")]
        study = create_study_with_items(session, spec=StudySpec(name="verbatim", kind="pairwise", overlap_k=2,
                                                                attention_rate=0.0, seed=5), stories=written)
        assign_raters(session, study_id=study.id, rater_ids=raters, make_checks=attention_checks, seed=1)
        sides = {i.id: ("A" if i.hidden["systems"]["A"] == "full" else "B")
                 for i in session.scalars(select(StudyItem).where(StudyItem.study_id == study.id))}

    page = browser.new_context().new_page()
    _log_in(page, address, "r1", "pw-r1")
    expect(page.locator("#item")).to_contain_text("Story A", timeout=30000)
    stories = [page.locator("#item-story-a").inner_text(), page.locator("#item-story-b").inner_text()]
    assert VERBATIM in stories  # read back as a person sees it: nothing became bold, code or a link
    assert page.locator("#item-premise").inner_text().startswith(premise)
    assert page.locator("#item b, #item code, #item em, #item del, #item h1, #item a").count() == 0
    page.locator("#item").click()
    page.keyboard.press("x")
    expect(page.locator("#crit-0 input:checked")).to_have_count(1)
    expect(page.locator("#crit-0")).to_contain_text("both bad")
    assert "both_bad" not in page.locator("#crit-0").inner_text()

    service = EvalService(factory=factory, secret=b"other")
    for name, ms in (("r1", 4000), ("r2", 1000)):  # both raters always prefer the full system; r2 is quick
        token = service.login(name=name, password=f"pw-{name}")
        while (item := service.current_item(token, study_id=1)) is not None:
            service.submit(token, item_id=item.item_id, answers={"coherence": sides[item.item_id]},
                           time_spent_ms=ms)
    page.reload()
    expect(page.locator("#instructions")).to_contain_text("Thank you!", timeout=30000)
    _expect_finished(page, 3)

    admin = browser.new_context().new_page()
    _log_in(admin, address, "boss", "boss-password")
    admin.locator("#show-results").click()
    bt = admin.locator("#results-bradley_terry")
    expect(bt).to_contain_text(f"> 4.9, {NOT_ESTIMABLE}", timeout=180000)
    expect(bt).to_contain_text(f"< -4.9, {NOT_ESTIMABLE}")
    expect(admin.locator("#results-win_rates")).to_contain_text("100% (6 won, 0 lost, 0 tied of 6)")
    agreement = _cells(admin, "agreement")  # the two raters agree on every item: alpha is 1 or, if all
    assert "1.00" in agreement or "every answer is the same: alpha needs some variation" in agreement  # answers match

    _fill(admin, "results-seconds", "2")  # flag r2 (1 s per item) and leave r2 out
    admin.locator("#results-exclude input").check()
    admin.locator("#show-results").click()
    expect(admin.locator("#results-note")).to_contain_text("Excluded raters: r2.", timeout=180000)
    expect(admin.locator("#results-quality")).to_contain_text(re.compile(r"r2.*median 1\.0 s per item < 2 s\s*yes"))
    expect(admin.locator("#results-agreement")).to_contain_text(
        "— (too few raters per item: alpha needs an item answered by 2 raters)")
    expect(admin.locator("#results-win_rates")).to_contain_text("100% (3 won, 0 lost, 0 tied of 3)")
    expect(bt).to_contain_text(f"> 4.9, {NOT_ESTIMABLE}")
    engine.dispose()
