"""Invites hand out work: fair shares as raters arrive, a full study, leases that run out,
closed studies, a second invite in the same browser, and simultaneous answers."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.studies.service import EvalService
from app.studies.status import format_status
from app.studies.studies import StudySpec, create_study_with_items
from storage import (
    Assignment,
    Conflict,
    Invite,
    PermissionDenied,
    StudyFull,
    StudyItem,
    create_invite,
    study_ratings,
)
from tests.studies.helpers import stories


@pytest.fixture
def service(factory) -> EvalService:
    return EvalService(factory=factory, secret=b"test-secret")


def _study(factory, people, *, premises=4, k=2, rate=0.25) -> int:
    """A pairwise study of `premises` items (systems full and plain), no raters yet."""
    spec = StudySpec(name="pilot", kind="pairwise", overlap_k=k, attention_rate=rate, seed=3)
    with factory.begin() as session:
        return create_study_with_items(
            session, spec=spec, stories=stories(premises=premises), owner_id=people["ada"]
        ).id


def _invites(factory, study_id, count) -> list[str]:
    with factory.begin() as session:
        return [create_invite(session, study_id=study_id)[1] for _ in range(count)]


def _holdings(factory, study_id) -> dict[int, Counter]:
    """rater id -> Counter of regular / check items held now."""
    with factory.begin() as session:
        rows = session.execute(
            select(Assignment.rater_id, StudyItem.is_attention_check)
            .join(StudyItem, StudyItem.id == Assignment.item_id)
            .where(Assignment.study_id == study_id, Assignment.released_at.is_(None))
        ).all()
    out: dict[int, Counter] = {}
    for rater, is_check in rows:
        out.setdefault(rater, Counter())["check" if is_check else "regular"] += 1
    return out


def _answer_all(service, token, study_id, value="A") -> int:
    """Answer every item this rater has; returns how many."""
    done = 0
    while (item := service.current_item(token, study_id=study_id)) is not None:
        service.submit(token, item_id=item.item_id, answers={c: value for c in item.criteria},
                       time_spent_ms=4000)
        done += 1
    return done


def test_invites_share_the_open_items_fairly_then_say_the_study_is_full(factory, people, service):
    study = _study(factory, people)  # 4 items x k=2 = 8 rater slots
    links = _invites(factory, study, 3)
    raters = [service.identify(service.redeem(invite=link)[0]).user_id for link in links]
    held = _holdings(factory, study)
    # 8 slots over 3 invitees: ceil(8/3)=3, ceil(5/2)=3, then the last 2; one check each at rate 0.25.
    assert [held[r]["regular"] for r in raters] == [3, 3, 2]
    assert all(held[r]["check"] == 1 for r in raters)
    with factory.begin() as session:
        per_item = Counter(session.scalars(
            select(Assignment.item_id).join(StudyItem, StudyItem.id == Assignment.item_id)
            .where(Assignment.study_id == study, StudyItem.is_attention_check.is_(False))
        ))
    assert sorted(per_item.values()) == [2, 2, 2, 2]  # every item exactly k raters
    (late,) = _invites(factory, study, 1)
    with pytest.raises(StudyFull, match="full"):
        service.redeem(invite=late)
    with factory.begin() as session:  # the refused invite stays unused for a later study round
        assert session.scalar(select(Invite.used_at).where(Invite.id == 4)) is None


def test_an_item_held_past_its_lease_goes_back_and_a_late_answer_still_counts_once(factory, people, service):
    study = _study(factory, people, premises=2, k=1, rate=0.0)  # 2 slots
    first, second, third = _invites(factory, study, 3)
    slow = service.redeem(invite=first)[0]
    fast = service.redeem(invite=second)[0]
    assert _answer_all(service, fast, study) == 1
    slow_item = service.current_item(slow, study_id=study)
    with factory.begin() as session:  # the slow rater opened the link 25 hours ago
        for row in session.scalars(select(Assignment).where(Assignment.rater_id == service.identify(slow).user_id)):
            row.assigned_at -= timedelta(hours=25)
    newcomer = service.redeem(invite=third)[0]  # the overdue item is released and handed on
    assert service.current_item(newcomer, study_id=study).item_id == slow_item.item_id
    assert service.current_item(slow, study_id=study) is None
    service.submit(slow, item_id=slow_item.item_id, answers={"coherence": "B"}, time_spent_ms=9000)
    assert _answer_all(service, newcomer, study) == 1
    with factory.begin() as session:
        records = study_ratings(session, study_id=study)
    status = service.status(service.login(name="ada", password="pw-ada"), study_id=study)
    assert Counter((r.rater_id, r.item_id) for r in records).most_common(1)[0][1] == 1  # nothing twice
    assert len(records) == 3 and status.complete == 2 and status.under_k == []
    assert [r.done for r in status.raters] == [1, 1, 1]


def test_a_closed_study_takes_no_invite_or_answer_and_reopens(factory, people, service):
    study = _study(factory, people, premises=2, k=1, rate=0.0)
    one, two = _invites(factory, study, 2)
    token = service.redeem(invite=one)[0]
    admin = service.login(name="ada", password="pw-ada")
    assert service.set_closed(admin, study_id=study, closed=True).closed
    with pytest.raises(PermissionDenied, match="closed"):
        service.redeem(invite=two)
    with pytest.raises(PermissionDenied, match="closed"):
        service.current_item(token, study_id=study)
    with pytest.raises(PermissionDenied, match="only admins"):
        service.set_closed(token, study_id=study, closed=False)
    assert not service.set_closed(admin, study_id=study, closed=False).closed
    assert _answer_all(service, token, study) == 1
    assert service.redeem(invite=two)[1] == study


def test_a_second_invite_of_the_same_study_in_one_browser_is_refused_and_left_unused(factory, people, service):
    study = _study(factory, people, premises=3, k=2, rate=0.0)
    other = _study(factory, people, premises=1, k=1, rate=0.0)
    one, two = _invites(factory, study, 2)
    (elsewhere,) = _invites(factory, other, 1)
    token = service.redeem(invite=one)[0]
    with pytest.raises(Conflict, match="already have items in this study"):
        service.redeem(invite=two, current=token)
    again, study_id = service.redeem(invite=elsewhere, current=token)  # another study: same account
    assert study_id == other and service.identify(again) == service.identify(token)
    assert service.redeem(invite=two)[1] == study  # the refused link still works for someone else


def test_used_expired_and_tampered_invites_are_refused(factory, people, service):
    study = _study(factory, people, premises=2, k=1, rate=0.0)
    with factory.begin() as session:
        invite, expired = create_invite(session, study_id=study, expires_in=timedelta(seconds=1))
        invite.expires_at -= timedelta(days=1)
    (fresh,) = _invites(factory, study, 1)
    with pytest.raises(PermissionDenied, match="expired"):
        service.redeem(invite=expired)
    with pytest.raises(PermissionDenied, match="unknown"):
        service.redeem(invite=fresh[:-2] + ("AA" if not fresh.endswith("AA") else "BB"))
    service.redeem(invite=fresh)
    with pytest.raises(PermissionDenied, match="already used"):
        service.redeem(invite=fresh)


def test_two_raters_submitting_the_same_item_at_once_both_count(factory, people, service):
    study = _study(factory, people, premises=1, k=2, rate=0.0)
    tokens = [service.redeem(invite=link)[0] for link in _invites(factory, study, 2)]
    items = [service.current_item(t, study_id=study) for t in tokens]
    assert items[0].item_id == items[1].item_id
    barrier, errors = threading.Barrier(2), []

    def answer(token, value):
        barrier.wait()
        try:
            service.submit(token, item_id=items[0].item_id, answers={"coherence": value}, time_spent_ms=3000)
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=answer, args=(t, v)) for t, v in zip(tokens, "AB", strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    with factory.begin() as session:
        assert sorted(r.value for r in study_ratings(session, study_id=study)) == ["A", "B"]


def test_status_shows_progress_pace_flags_and_agreement(factory, people, service):
    study = _study(factory, people, premises=4, k=2, rate=0.25)
    tokens = [service.redeem(invite=link)[0] for link in _invites(factory, study, 3)]
    for n, token in enumerate(tokens):  # the third rater fails the attention check
        while (item := service.current_item(token, study_id=study)) is not None:
            check = item.payload.get("story_a", "").startswith("This is an attention check")
            right = "A" if "choose A" in item.payload.get("story_a", "") else "B"
            value = ("tie" if n == 2 else right) if check else "A"
            service.submit(token, item_id=item.item_id, answers={"coherence": value}, time_spent_ms=5000)
    admin = service.login(name="ada", password="pw-ada")
    status = service.status(admin, study_id=study)
    assert status.complete == status.items == 4 and status.under_k == []
    assert [r.done for r in status.raters] == [4, 4, 3]
    assert [bool(r.flagged) for r in status.raters] == [False, False, True]
    assert all(r.median_seconds == 5.0 for r in status.raters)
    assert status.agreement and status.agreement[0]["raters"] == 3
    text = format_status(status)
    assert "4 of 4 have 2 answers" in text and "attention checks 0%" in text and "Krippendorff" in text


def test_rater_tokens_are_signed_expire_and_die_with_a_disabled_account(factory, people, service, monkeypatch):
    import time as clock

    from storage import User, set_disabled

    study = _study(factory, people, premises=2, k=1, rate=0.0)
    token = service.redeem(invite=_invites(factory, study, 1)[0])[0]
    assert service.current_item(token, study_id=study) is not None
    with pytest.raises(PermissionDenied, match="log in again"):  # signed with another server's key
        EvalService(factory=factory, secret=b"another-key").identify(token)
    with pytest.raises(PermissionDenied, match="log in again"):
        service.identify(token + "x")
    now = clock.time()
    monkeypatch.setattr(clock, "time", lambda: now + 31 * 86400)
    with pytest.raises(PermissionDenied, match="expired"):
        service.identify(token)
    monkeypatch.setattr(clock, "time", lambda: now)
    rater = service.identify(token).user_id
    with factory.begin() as session:
        name = session.get(User, rater).name
        set_disabled(session, name=name)
    with pytest.raises(PermissionDenied, match="disabled"):
        service.current_item(token, study_id=study)


def test_a_withdrawn_invite_is_refused_even_when_replayed(factory, people, service, db_url, capsys):
    from app.studies.cli import main

    study = _study(factory, people, premises=2, k=1, rate=0.0)  # 2 rater slots
    assert main(["--db", db_url, "invite", "--study", str(study), "--count", "3"]) == 2
    assert "room for 2 more invites; pass --force" in capsys.readouterr().err
    assert main(["--db", db_url, "invite", "--study", str(study), "--count", "3", "--force"]) == 0
    links = [line for line in capsys.readouterr().out.splitlines() if "?invite=" in line]
    tokens = [line.split("invite=")[1].split()[0] for line in links]
    ids = [line.rsplit("invite ", 1)[1] for line in links]
    assert main(["--db", db_url, "revoke", "--study", str(study), "--invite", ids[0]]) == 0
    assert "withdrew 1 unused invites" in capsys.readouterr().out
    with pytest.raises(PermissionDenied, match="withdrawn"):
        service.redeem(invite=tokens[0])
    service.redeem(invite=tokens[1])
    assert main(["--db", db_url, "revoke", "--study", str(study)]) == 0  # every unused one left
    assert "withdrew 1 unused invites" in capsys.readouterr().out
    for token in tokens[1:]:
        with pytest.raises(PermissionDenied, match="already used|withdrawn"):
            service.redeem(invite=token)


def test_opening_a_link_again_or_on_a_full_study_gives_a_plain_reason(factory, people, service):
    study = _study(factory, people, premises=1, k=1, rate=0.0)  # 1 rater slot
    first, second = _invites(factory, study, 2)
    arrival = service.arrive(invite=first)
    assert arrival.notice == "" and service.current_item(arrival.token, study_id=study) is not None
    again = service.arrive(invite=first, current=arrival.token)  # the same browser: go on, no complaint
    assert again == type(again)(arrival.token, "")
    elsewhere = service.arrive(invite=first)  # another browser
    assert elsewhere.token is None and elsewhere.notice.startswith("This invite link has already been used")
    full = service.arrive(invite=second)
    assert full.token is None and "nothing left for you to rate" in full.notice
    assert service.arrive(invite="x" * 40).notice == "This invite link is unknown; please check it was copied whole."
    with pytest.raises(PermissionDenied, match="no item to answer"):
        service.submit(arrival.token, item_id=None, answers={}, time_spent_ms=0)
