"""StoryService on the FakeEngine: writing, versions, undo, ownership, locks and errors."""

from __future__ import annotations

import json
import threading
from dataclasses import replace

import pytest

from app.engine_handle import EngineHandle
from app.errors import AppError, StoryBusy, StoryNotFound
from app.fake_engine import FakeEngine
from app.service import StoryService
from app.writing import StepRequest, StreamedText
from engine.types import SamplingParams, Step
from storage import StoryView


def write(service, user, story_id, keywords="", **kw) -> tuple[list[str], StoryView]:
    deltas, view = [], None
    for item in service.stream_write(user_id=user, story_id=story_id, request=StepRequest(keywords=keywords, **kw)):
        if isinstance(item, StreamedText):
            deltas.append(item.text)
        else:
            view = item
    return deltas, view


def regenerate(service, user, story_id, index, keywords, keep_following=False) -> StoryView:
    *_, view = service.stream_regenerate(user_id=user, story_id=story_id, index=index,
                                         request=StepRequest(keywords=keywords), keep_following=keep_following)
    return view


def test_write_streams_word_by_word_and_saves_provenance(service, alice):
    story = service.new_story(user_id=alice, premise="Tom let his friend borrow his phone.")
    deltas, view = write(service, alice, story.id, "battery, charger", params=SamplingParams(seed=7, n_candidates=2))
    assert len(deltas) > 3 and "".join(deltas).strip() == view.nodes[0].text
    prov = view.nodes[0].provenance
    assert prov.keywords == ["battery", "charger"] and prov.keywords_source == "given"
    assert prov.seed == 7 and prov.model == "fake-engine" and len(prov.candidates) == 2
    assert prov.facts[0]["text"] and "score" in prov.facts[0] and "generate" in prov.timings_ms


def test_empty_keywords_are_predicted(service, alice):
    story = service.new_story(user_id=alice, premise="Ann drove home.")
    assert service.suggest_keywords(user_id=alice, story_id=story.id) == ["phone", "battery"]
    _, view = write(service, alice, story.id, " , ")
    assert view.nodes[0].provenance.keywords_source == "predicted"
    assert "phone" in view.nodes[0].text


def test_regenerate_then_undo_returns_the_old_sentence_and_redo_the_new(service, alice):
    story = service.new_story(user_id=alice, premise="Ann drove home.")
    for _ in range(3):
        write(service, alice, story.id)
    old = service.load(user_id=alice, story_id=story.id)
    view = regenerate(service, alice, story.id, 2, "umbrella")
    assert "umbrella" in view.nodes[1].text and len(view.nodes) == 2 and view.nodes[1].versions == 2
    back = service.undo(user_id=alice, story_id=story.id)
    assert [n.text for n in back.nodes] == [n.text for n in old.nodes]
    again = service.redo(user_id=alice, story_id=story.id)
    assert "umbrella" in again.nodes[1].text


def test_regenerate_can_rewrite_later_sentences_with_their_keywords(service, alice, fake):
    story = service.new_story(user_id=alice, premise="Ann drove home.")
    write(service, alice, story.id, "car")
    write(service, alice, story.id, "tire")
    write(service, alice, story.id, "rain")
    view = regenerate(service, alice, story.id, 1, "dog", keep_following=True)
    assert len(view.nodes) == 3
    assert [n.provenance.keywords for n in view.nodes] == [["dog"], ["tire"], ["rain"]]
    assert fake.calls[-1].context.sentences[0] == view.nodes[0].text


def test_edit_and_candidate_switch_keep_later_sentences(service, alice):
    story = service.new_story(user_id=alice, premise="Ann drove home.")
    write(service, alice, story.id, "car", params=SamplingParams(n_candidates=3))
    write(service, alice, story.id, "tire")
    view = service.edit_sentence(user_id=alice, story_id=story.id, index=1, text="Ann saw a <b>fox</b>.")
    assert view.nodes[0].text == "Ann saw a <b>fox</b>." and view.nodes[0].provenance.source == "edited"
    assert len(view.nodes) == 2
    view = service.undo(user_id=alice, story_id=story.id)
    view = service.choose_candidate(user_id=alice, story_id=story.id, index=1, candidate=2)
    assert view.nodes[0].provenance.chosen == 2 and view.nodes[0].text.endswith("again.")
    assert len(view.nodes) == 2


class RerankingFake(FakeEngine):
    """The FakeEngine with a reranker's score of each candidate (shorter scores higher)."""

    def stream_step(self, context, **kwargs):
        for item in super().stream_step(context, **kwargs):
            yield replace(item, coherence=[round(1 / len(c), 4) for c in item.candidates]) if isinstance(item, Step) else item


def test_coherence_scores_are_saved_kept_by_a_candidate_switch_and_dropped_by_an_edit(store, alice):
    service = StoryService(engine=EngineHandle.of(RerankingFake()), store=store)
    story = service.new_story(user_id=alice, premise="Ann drove home.")
    _, view = write(service, alice, story.id, "car", params=SamplingParams(n_candidates=3))
    prov = view.nodes[0].provenance
    assert len(prov.candidates) == 3 and prov.coherence == [round(1 / len(c), 4) for c in prov.candidates]
    view = service.choose_candidate(user_id=alice, story_id=story.id, index=1, candidate=2)
    assert view.nodes[0].provenance.chosen == 2 and view.nodes[0].provenance.coherence == prov.coherence
    view = service.edit_sentence(user_id=alice, story_id=story.id, index=1, text="Ann saw a fox.")
    edited = view.nodes[0].provenance
    assert (view.nodes[0].text, edited.source, edited.candidates, edited.coherence) == ("Ann saw a fox.", "edited", [], [])


def test_another_users_story_reads_as_missing(service, alice, bob):
    story = service.new_story(user_id=alice, premise="Private premise.")
    for call in (
        lambda: service.load(user_id=bob, story_id=story.id),
        lambda: service.undo(user_id=bob, story_id=story.id),
        lambda: service.export_json(user_id=bob, story_id=story.id),
        lambda: list(service.stream_write(user_id=bob, story_id=story.id, request=StepRequest())),
    ):
        with pytest.raises(StoryNotFound, match="no such story for this account"):
            call()
    with pytest.raises(StoryNotFound):
        service.load(user_id=bob, story_id=story.id + 100)
    assert service.list(user_id=bob) == []


def test_a_second_concurrent_write_is_refused_and_one_sentence_is_saved(service, alice, fake):
    fake.chunk_delay_s = 0.05
    story = service.new_story(user_id=alice, premise="Ann drove home.")
    errors: list[Exception] = []

    def click():
        try:
            write(service, alice, story.id)
        except StoryBusy as error:
            errors.append(error)

    threads = [threading.Thread(target=click) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(errors) == 1
    assert len(service.load(user_id=alice, story_id=story.id).nodes) == 1


def test_a_stale_view_does_not_fork_the_tree(service, alice):
    story = service.new_story(user_id=alice, premise="Ann drove home.")
    write(service, alice, story.id)
    stale = service.load(user_id=alice, story_id=story.id)
    write(service, alice, story.id)
    with pytest.raises(AppError, match="another window"):
        service.writing._save(alice, stale, lambda s: None)


def test_bad_premises_and_engine_errors_read_as_messages(service, alice, fake):
    with pytest.raises(AppError, match="premise is empty"):
        service.new_story(user_id=alice, premise="   ")
    with pytest.raises(AppError, match="at most 100,000"):
        service.new_story(user_id=alice, premise="x" * 100_001)
    story = service.new_story(user_id=alice, premise="y" * 100_000)
    assert len(story.premise) == 100_000 and len(story.title) <= 80
    fake.fail_next(RuntimeError("CUDA out of memory"))
    with pytest.raises(AppError, match="engine failed on this sentence, nothing was saved.*out of memory"):
        write(service, alice, story.id)
    assert service.load(user_id=alice, story_id=story.id).nodes == []


def test_story_list_rename_fork_delete_restore_export_import(service, alice):
    story = service.new_story(user_id=alice, premise="Ann drove home.")
    write(service, alice, story.id)
    service.rename(user_id=alice, story_id=story.id, title="The drive")
    fork = service.fork(user_id=alice, story_id=story.id)
    source = service.load(user_id=alice, story_id=story.id)
    assert fork.title == "The drive (fork)" and [n.id for n in fork.nodes] == [n.id for n in source.nodes]
    service.delete(user_id=alice, story_id=story.id)
    assert [s.id for s in service.list(user_id=alice)] == [fork.id]
    service.restore(user_id=alice, story_id=story.id)
    document = service.export_json(user_id=alice, story_id=story.id)
    assert json.loads(document)["title"] == "The drive"
    copy = service.import_json(user_id=alice, text=document)
    assert copy.text == service.load(user_id=alice, story_id=story.id).text
    assert "# The drive" in service.export_markdown(user_id=alice, story_id=story.id)
    with pytest.raises(AppError, match="not a JSON document"):
        service.import_json(user_id=alice, text="{nope")


def test_history_lists_every_version_and_any_can_be_made_current(service, alice):
    story = service.new_story(user_id=alice, premise="Ann drove home.")
    write(service, alice, story.id, "car")
    first = service.load(user_id=alice, story_id=story.id).nodes[0]
    regenerate(service, alice, story.id, 1, "boat")
    entries = service.history(user_id=alice, story_id=story.id)
    assert len(entries) == 2 and sum(e.is_head for e in entries) == 1
    view = service.make_current(user_id=alice, story_id=story.id, node_id=first.id)
    assert view.nodes[0].id == first.id
    fork = service.fork(user_id=alice, story_id=story.id, node_id=first.id)
    assert fork.nodes[0].id == first.id and fork.id != story.id


def test_pinned_and_vetoed_facts_reach_the_engine_and_are_saved(service, alice, fake):
    story = service.new_story(user_id=alice, premise="Ann drove home.")
    write(service, alice, story.id, "phone, car")
    request = StepRequest(keywords="phone, car", pinned=("Ann loves her car.",),
                          vetoed=("A phone can matter in a story.",))
    *_, view = service.stream_regenerate(user_id=alice, story_id=story.id, index=1, request=request)
    assert fake.calls[-1].pinned == ["Ann loves her car."]
    assert fake.calls[-1].vetoed == ["A phone can matter in a story."]
    texts = [f["text"] for f in view.nodes[0].provenance.facts]
    assert texts[0] == "Ann loves her car." and "A phone can matter in a story." not in texts
