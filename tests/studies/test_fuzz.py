"""Every public API name of the evaluation pages, fuzzed over HTTP with hostile values.

Rater r1 and admin ada call `login`, `submit_answer`, `study_status` and `results` with
hostile values and each other's, forged or no tokens; rater r2 never calls. Each call must
answer without internals; admin results never reach a rater's or a forged token; and r2's
share of the study is untouched afterwards.
"""

from __future__ import annotations

import functools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.fake_engine import FakeEngine
from app.store import Store
from storage import create_user
from tests.app.api_fuzz import anything, assert_clean, call, indexes, serve_like_the_cli, texts
from tests.studies.helpers import make_study

EVAL_NAMES = ("login", "submit_answer", "study_status", "results")
ADMIN_NAMES = ("study_status", "results")
FUZZ = settings(max_examples=30, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    import httpx

    import app.studies.service
    from app.auth import LoginGate
    from storage.throttle import LoginPolicy

    store = Store.open(f"sqlite:///{tmp_path_factory.mktemp('eval-fuzz') / 'eval.db'}")
    people = {}
    for name, role in (("ada", "admin"), ("r1", "rater"), ("r2", "rater")):
        people[name] = store.run(lambda s, n=name, r=role: create_user(s, name=n, password=f"pw-{n}", role=r).id)
    study = make_study(store.factory, people, raters=("r1", "r2"))
    # Failed logins are throttled (tests/app/test_login_throttle.py); without the delay the fuzz stays quick.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(app.studies.service, "LoginGate", functools.partial(LoginGate, policy=LoginPolicy(
            delay_s=0.0, lock_after=10**6, client_lock_after=10**6)))
        with serve_like_the_cli(store, FakeEngine()) as running:
            running.http = httpx.Client(base_url=running.url, timeout=60)
            running.study, running.people = study, people
            running.tokens = {n: call(running.http, "/eval", "login", [n, f"pw-{n}"]).data[0] for n in ("ada", "r1")}
            running.r2_before = r2_share(running)
            yield running
            running.http.close()


def r2_share(site) -> list:
    """Rater r2's assignments and ratings, as stored."""
    from sqlalchemy import select

    from storage.study_models import Assignment, Rating

    def read(session):
        rater = site.people["r2"]
        assigned = session.execute(select(Assignment.item_id).where(Assignment.rater_id == rater)).all()
        rated = session.execute(select(Rating.item_id, Rating.criterion, Rating.value).where(Rating.rater_id == rater)).all()
        return sorted(map(tuple, assigned)), sorted(map(str, rated))
    return site.store.run(read)


def tokens(site):
    """The caller's identity: a real token, one with a flipped character, none, or any value."""
    real = st.sampled_from(sorted(site.tokens.values()))
    forged = real.map(lambda t: t[:-3] + ("A" if t[-3] != "A" else "B") + t[-2:])
    return st.one_of(real, real, forged, texts, anything)


def values_for(site, name: str):
    aimed = {"current": tokens(site), "study": st.one_of(st.just(site.study), indexes),
             "user": st.one_of(st.sampled_from(["ada", "r1", "r2", " ada", "ADA"]), texts), "secret_word": texts}
    return st.one_of(aimed.get(name, anything), anything)


def parameters(site, api_name: str) -> list[dict]:
    info = site.http.get("/eval/gradio_api/info").json()
    return info["named_endpoints"][f"/{api_name}"]["parameters"]


def test_the_fuzz_covers_every_public_name(site):
    info = site.http.get("/eval/gradio_api/info").json()
    assert not info["unnamed_endpoints"]
    assert {name.lstrip("/") for name in info["named_endpoints"]} == set(EVAL_NAMES)


@pytest.mark.parametrize("api_name", EVAL_NAMES)
@FUZZ
@given(data=st.data())
def test_every_name_refuses_hostile_values_cleanly(site, api_name, data):
    values = [data.draw(values_for(site, p["parameter_name"]), label=p["parameter_name"])
              for p in parameters(site, api_name)]
    site.errors.clear()
    answer = call(site.http, "/eval", api_name, values)
    assert_clean(answer, site.errors)
    if api_name in ADMIN_NAMES and answer.event == "complete" and values[0] != site.tokens["ada"]:
        note, *tables = answer.data  # anyone but the admin gets a refusal and no table
        assert note.startswith("**") and not any(map(has_rows, tables)), answer.body[:400]


def has_rows(output) -> bool:
    """An output that carries study data: a table with rows, a plot, a file (an update that only hides carries none)."""
    if isinstance(output, dict) and output.get("__type__") == "update":
        return has_rows(output.get("value"))
    return output is not None and not (isinstance(output, dict) and output.get("data") == [])


def test_the_silent_raters_share_is_untouched(site):
    """Runs last: r2 never called, so r2's assignments and ratings are as before."""
    assert r2_share(site) == site.r2_before
