"""Every public API name of the editor, fuzzed over HTTP with hostile values.

Alice and Bob call every name, each with a scratch story they may change, aiming at each
other's stories and at Carol's, who never calls anything. Each call must answer without
internals, with a one-line refusal or a result, and never with another writer's text.
Afterwards Carol's story is exactly as it was, Alice's and Bob's still hold every sentence
they were acknowledged, and no story changed hands.
"""

from __future__ import annotations

import json

import pytest
from gradio_client import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.fake_engine import FakeEngine
from app.store import Store
from storage import create_user
from tests.app.api_fuzz import (
    HUGE,
    ID_FORMS,
    STORY_OWNERS,
    Answer,
    anything,
    assert_clean,
    call,
    indexes,
    logged_in,
    serve_like_the_cli,
    texts,
)

# The names the fuzz knows; test_the_fuzz_covers_every_public_name fails when the app gains one.
EDITOR_NAMES = (
    "open_last_story", "start_story", "suggest_next_keywords", "write_sentence", "continue_story", "undo_change",
    "redo_change", "list_stories", "open_story", "rename_story", "fork_story", "delete_story", "restore_story",
    "export_json_file", "export_markdown_file", "import_story", "make_version_current", "fork_from_version",
    "new_story", "suggest_keywords", "write_next", "regenerate", "undo", "export_story", "status",
    "token_alternatives", "continue_from_token", "set_memory", "save_memory", "add_bible_entry", "rate_sentence",
    "export_text_file", "export_epub_file", "export_preference_pairs",
    "plan_story", "replan_story", "set_storyline", "write_to_plan", "plan_sentences", "replan_from_slot",
    "write_planned_sentences",
)
WRITERS = {"alice": "zorbalice", "bob": "quixbobby", "carol": "vexcarolyn"}  # name -> a word only theirs contain
CALLERS = ("alice", "bob")
FUZZ = settings(max_examples=30, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])


class Writer:
    """A logged-in writer with an attacked story, a scratch story, and the sentences acknowledged."""

    def __init__(self, world, name: str) -> None:
        self.name, self.mark = name, WRITERS[name]
        self.http = logged_in(world.url, name, f"pw-{name}")
        self.kept = self.api("new_story", [f"The {self.mark} premise of {name}."])
        self.sentences = [self.api("write_next", [self.kept, f"{self.mark}, {word}"]) for word in ("sea", "ship", "sky")]
        self.api("regenerate", [self.kept, 2, f"{self.mark}, storm"])  # a second version of sentence 2
        self.api("undo", [self.kept])  # back to the first version, which stays acknowledged
        self.scratch = self.api("new_story", [f"A scratch story of {name}, {self.mark}."])
        self.api("write_next", [self.scratch, ""])
        self.node_ids = snapshot(world, self)["node_ids"]

    def api(self, name: str, data: list):
        answer = call(self.http, "", name, data)
        assert answer.event == "complete", answer.body[:400]
        return answer.data[0]


def snapshot(world, writer: Writer) -> dict:
    """The attacked story as stored: the export of its whole tree, node ids and deletion mark."""
    from storage import export_json, get_user_by_name
    from storage.tree import get_story, visible_nodes

    def read(session) -> dict:
        user = get_user_by_name(session, writer.name).id
        story = get_story(session, user_id=user, story_id=int(writer.kept), include_deleted=True)
        return {**export_json(session, user_id=user, story_id=story.id), "deleted_at": story.deleted_at,
                "owner": story.owner_id, "node_ids": [n.id for n in visible_nodes(session, story)]}
    return world.store.run(read)


def owners(world) -> dict[int, int]:
    """Every story's owner, by story id (deleted stories too)."""
    from sqlalchemy import select

    from storage.models import Story

    return world.store.run(lambda s: dict(s.execute(select(Story.id, Story.owner_id)).all()))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "stories.db"
    store = Store.open(f"sqlite:///{path}")
    for name in WRITERS:
        store.run(lambda s, name=name: create_user(s, name=name, password=f"pw-{name}", role="writer"))
    with serve_like_the_cli(store, FakeEngine()) as running:
        running.database_path = str(path)
        running.writers = {name: Writer(running, name) for name in WRITERS}
        running.before = {name: snapshot(running, w) for name, w in running.writers.items()}
        running.owners = owners(running)
        running.api_info = running.writers["alice"].http.get("/gradio_api/info").json()
        yield running
        for writer in running.writers.values():
            writer.http.close()


def story_ids(world, caller: Writer, others: list[Writer]):
    """A story id: the caller's scratch story, another writer's story, or one that does not exist."""
    stories = {"own": [caller.scratch], "other": [s for w in others for s in (w.kept, w.scratch)],
               "missing": [HUGE - 1, 10**6]}
    picks = st.sampled_from(STORY_OWNERS).flatmap(lambda owner: st.sampled_from(stories[owner]))
    return st.tuples(picks, st.sampled_from(sorted(ID_FORMS))).map(lambda p: ID_FORMS[p[1]](int(p[0])))


def node_ids(caller: Writer, others: list[Writer]):
    return st.one_of(st.sampled_from([n for w in (caller, *others) for n in w.node_ids]), indexes)


def files(world):
    """File payloads: paths outside Gradio's upload folder, the database file itself, or any JSON value."""
    meta = {"_type": "gradio.FileData"}
    paths = ["/etc/passwd", "../../etc/passwd", world.database_path, "", "\x00"]
    return st.one_of(st.sampled_from(paths).map(lambda p: {"path": p, "meta": meta}),
                     st.sampled_from(paths), anything)


def values_for(world, parameter: dict, caller: Writer, others: list[Writer]):
    """Hostile values for one parameter, aimed by its name; any JSON value some of the time."""
    name = parameter["parameter_name"]
    aimed = {"story_id": story_ids(world, caller, others), "index": indexes, "node_id": node_ids(caller, others),
             "path": files(world), "premise": texts, "title": texts, "keywords": texts, "position": indexes,
             "token": texts, "memory": texts, "authors_note": texts}.get(name)
    return anything if aimed is None else st.one_of(aimed, aimed, anything)


def parameters(world, api_name: str) -> list[dict]:
    return world.api_info["named_endpoints"][f"/{api_name}"]["parameters"]


def test_the_fuzz_covers_every_public_name(world):
    """The fuzzed names are exactly the app's public names, as the API page and gradio_client see them."""
    info = world.api_info
    assert not info["unnamed_endpoints"]
    assert {name.lstrip("/") for name in info["named_endpoints"]} == set(EDITOR_NAMES)
    client = Client(world.url, auth=("alice", "pw-alice"), verbose=False)
    seen = client.view_api(print_info=False, return_format="dict")
    assert {name.lstrip("/") for name in seen["named_endpoints"]} == set(EDITOR_NAMES)


@pytest.mark.parametrize("api_name", EDITOR_NAMES)
@FUZZ
@given(data=st.data())
def test_every_name_refuses_hostile_values_cleanly(world, api_name, data):
    caller = world.writers[data.draw(st.sampled_from(CALLERS), label="caller")]
    others = [w for w in world.writers.values() if w is not caller]
    values = [data.draw(values_for(world, p, caller, others), label=p["parameter_name"])
              for p in parameters(world, api_name)]
    if data.draw(st.booleans(), label="wrong arity") and values:
        values = data.draw(st.sampled_from([values[:-1], [*values, None], []]), label="arity")
    world.errors.clear()
    answer = call(caller.http, "", api_name, values)
    assert_clean(answer, world.errors, secrets=secrets_of(others))


def secrets_of(writers: list[Writer]) -> tuple[str, ...]:
    return tuple(text for w in writers for text in (w.mark, *w.sentences))


@pytest.mark.parametrize("api_name", ["new_story", "write_next", "regenerate", "export_story", "undo",
                                      "open_story", "export_json_file"])
def test_the_direct_route_answers_without_internals(world, api_name):
    """`/gradio_api/run/<name>` (no queue) is refused or answers like the queue does."""
    alice, bob = world.writers["alice"], world.writers["bob"]
    for values in ([bob.kept], [bob.kept, "x", "y"], ["\ud800", HUGE, None], [], [{"a": [1]}] * 3):
        world.errors.clear()
        posted = alice.http.post(f"/gradio_api/run/{api_name}", content=json.dumps({"data": values}),
                                 headers={"content-type": "application/json"})
        answer = Answer(posted.status_code, posted.text, queued=False)
        assert_clean(answer, world.errors, secrets=(bob.mark, *bob.sentences))


def test_another_writers_export_cannot_be_imported_by_guessing_its_path(world):
    """Bob's export is written through a temporary folder (removed at once) into Gradio's file cache
    under a hash seeded with the server's secret; every path Alice can name without Bob's link is refused."""
    import hashlib
    from pathlib import Path

    alice, bob = world.writers["alice"], world.writers["bob"]
    exported = Path(bob.api("export_json_file", [int(bob.kept)])["path"])
    unseeded = hashlib.sha256(exported.read_bytes()).hexdigest()
    guesses = [str(exported.parents[1] / exported.name), str(exported.parents[1] / unseeded / exported.name),
               f"{exported.parent}/../{unseeded}/{exported.name}"]
    for path in guesses:
        world.errors.clear()
        answer = call(alice.http, "", "import_story", [{"path": path, "meta": {"_type": "gradio.FileData"}}])
        assert_clean(answer, world.errors, secrets=(bob.mark, *bob.sentences))
        assert answer.event == "error"
    assert bob.mark not in json.dumps(alice.api("list_stories", [True]))


def test_through_gradio_client_as_scripts_call_it(world):
    """The stateless endpoints through gradio_client: empty, NUL, 1 MB, another writer's id."""
    bob = world.writers["bob"]
    client = Client(world.url, auth=("alice", "pw-alice"), verbose=False)
    hostile = ["", " ", "\x00", "a\x00b", "x" * (1 << 20), bob.kept, f" {bob.kept} ", "-1", str(HUGE)]
    calls = [("new_story", lambda v: (v,)), ("suggest_keywords", lambda v: (v,)),
             ("write_next", lambda v: (v, v)), ("write_next", lambda v: (bob.kept, v)),
             ("regenerate", lambda v: (v, 1, v)), ("regenerate", lambda v: (bob.kept, -1, v)),
             ("undo", lambda v: (v,)), ("export_story", lambda v: (v,))]
    for name, args in calls:
        for value in hostile:
            try:
                result = client.predict(*args(value), api_name=f"/{name}")
            except Exception as error:  # gradio_client raises the server's refusal
                message = str(error)
                assert "\n" not in message.strip() and "Traceback" not in message, message[:400]
                continue
            assert bob.mark not in str(result) and not any(s in str(result) for s in bob.sentences)


@pytest.mark.parametrize("name, password", [("\ud800", "pw"), ("alice", "pw-\udfff"), ("a\x00b", "pw"),
                                            ("a" * (1 << 20), "pw")])
def test_the_login_form_refuses_hostile_names_cleanly(world, name, password):
    import httpx

    with httpx.Client(base_url=world.url, timeout=60) as anonymous:
        world.errors.clear()
        answer = anonymous.post("/login", content=f"username={_form(name)}&password={_form(password)}",
                                headers={"content-type": "application/x-www-form-urlencoded"})
    assert_clean(Answer(answer.status_code, answer.text, queued=False), world.errors)
    assert answer.status_code in (400, 401, 413, 422, 429), answer.text[:300]


def _form(value: str) -> str:
    """Form-encode as a browser would, lone surrogates as the UTF-8 bytes a lenient client sends."""
    from urllib.parse import quote

    return quote(value.encode("utf-8", "surrogatepass"))


def test_the_attacked_stories_are_intact(world):
    """Runs last: Carol's story exactly as before; Alice's and Bob's keep every acknowledged sentence."""
    for name, writer in world.writers.items():
        after = snapshot(world, writer)
        before = world.before[name]
        if name not in CALLERS:
            assert after == before
        assert after["owner"] == before["owner"] and after["premise"] == before["premise"]
        assert set(writer.sentences) <= {n["text"] for n in after["nodes"]}
    assert {story: owner for story, owner in owners(world).items() if story in world.owners} == world.owners
