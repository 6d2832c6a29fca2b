"""One contract, two engines: the same StoryService scenarios on the scripted FakeEngine and on
the real Pipeline over a tiny random Llama, so the fake the other app tests use cannot drift
from what the engine gives the app."""

from __future__ import annotations

import pytest

from app.engine_handle import EngineHandle
from app.errors import AppError
from app.fake_engine import FakeEngine
from app.service import StoryService
from app.writing import StepRequest, StreamedText, stream_sentence, suggest
from engine.keywords import KEYWORDS_PER_SENTENCE, clean_keywords
from engine.types import Fact, SamplingParams, StoryContext

PREMISE = "Tom let his friend borrow his phone."
FACTS = [
    Fact("UsedFor", "battery", "power", "A battery is used for power."),
    Fact("PartOf", "battery", "phone", "A battery is part of a phone."),
    Fact("AtLocation", "tire", "car", "You are likely to find a tire on a car."),
    Fact("IsA", "dog", "animal", "A dog is an animal."),
]
FACT_KEYS = {"text", "score", "relation", "head", "tail", "sentence", "weight", "source"}
PREDICTED = {"predicted", "rake", "rake-fallback"}  # where keywords came from when none were given


def params(**overrides) -> SamplingParams:
    return SamplingParams(**{"seed": 5, "max_new_tokens": 10, **overrides})


@pytest.fixture(params=["fake", "tiny-pipeline"])
def engine(request):
    """The scripted fake, or the real pipeline on the tiny random model (no download)."""
    if request.param == "fake":
        return FakeEngine()
    from engine.keyword_predictor import KeywordPredictor
    from engine.knowledge.base import FixedRetriever, NullRanker
    from engine.pipeline import Pipeline

    generator = request.getfixturevalue("tiny_generator")
    return Pipeline(generator=generator, predictor=KeywordPredictor(generator),
                    retriever=FixedRetriever(FACTS), ranker=NullRanker(), knowledge_note="fixed test facts")


@pytest.fixture
def service(engine, store) -> StoryService:
    return StoryService(engine=EngineHandle.of(engine), store=store)


def write(service, user, story_id, keywords="", **kw):
    deltas, view = [], None
    for item in service.stream_write(user_id=user, story_id=story_id, request=StepRequest(keywords=keywords, **kw)):
        if isinstance(item, StreamedText):
            deltas.append(item)
        else:
            view = item
    return deltas, view


def assert_provenance(node, engine, *, seed: int, candidates: int) -> None:
    """What every generated sentence records, whichever engine wrote it."""
    p = node.provenance
    assert p.source == "generated" and node.text.strip() and node.text == p.candidates[p.chosen]
    assert len(p.candidates) == candidates and all(isinstance(c, str) for c in p.candidates)
    assert p.seed == seed and p.params["seed"] == seed and p.params["n_candidates"] == candidates
    assert p.model == engine.model_id and p.backend.get("name")
    assert {"keywords", "generate"} <= set(p.timings_ms) and all(v >= 0 for v in p.timings_ms.values())
    assert 1 <= len(p.keywords) <= KEYWORDS_PER_SENTENCE and clean_keywords(p.keywords)[0] == p.keywords
    for fact in p.facts:
        assert set(fact) == FACT_KEYS and isinstance(fact["score"], float) and fact["text"] == fact["sentence"]


def test_given_keywords_are_kept_by_the_pipelines_rule(service, engine, alice):
    story = service.new_story(user_id=alice, premise=PREMISE)
    raw = "battery, the, !!!, charger, battery"
    deltas, view = write(service, alice, story.id, raw, params=params(seed=7, n_candidates=2))
    node = view.nodes[0]
    assert node.provenance.keywords == clean_keywords(raw)[0] == ["battery", "charger"]
    assert node.provenance.keywords_source == "given"
    assert deltas and all(d.index == 1 and isinstance(d.text, str) for d in deltas)
    assert_provenance(node, engine, seed=7, candidates=2)


def test_empty_or_junk_keywords_are_predicted(service, engine, alice):
    story = service.new_story(user_id=alice, premise=PREMISE)
    suggested = service.suggest_keywords(user_id=alice, story_id=story.id, seed=3)
    assert 1 <= len(suggested) <= KEYWORDS_PER_SENTENCE and clean_keywords(suggested)[0] == suggested
    _, view = write(service, alice, story.id, " , ", params=params())
    _, view = write(service, alice, story.id, "the, !!!", params=params(seed=6))
    for node, seed in zip(view.nodes, (5, 6), strict=True):
        assert node.provenance.keywords_source in PREDICTED
        assert_provenance(node, engine, seed=seed, candidates=1)


def test_regenerate_keeps_the_following_keywords_and_undo_restores(service, engine, alice):
    story = service.new_story(user_id=alice, premise=PREMISE)
    write(service, alice, story.id, "car", params=params())
    _, old = write(service, alice, story.id, "tire", params=params(seed=6))
    *_, view = service.stream_regenerate(user_id=alice, story_id=story.id, index=1,
                                         request=StepRequest(keywords="dog", params=params(seed=9)),
                                         keep_following=True)
    assert [n.provenance.keywords for n in view.nodes] == [["dog"], ["tire"]]
    assert view.nodes[0].versions == 2
    assert_provenance(view.nodes[0], engine, seed=9, candidates=1)
    back = service.undo(user_id=alice, story_id=story.id)
    assert [n.text for n in back.nodes] == [n.text for n in old.nodes]


def test_pinned_facts_come_first_and_vetoed_ones_never(service, engine, alice):
    story = service.new_story(user_id=alice, premise=PREMISE)
    _, view = write(service, alice, story.id, "battery", params=params())
    found = [f["text"] for f in view.nodes[0].provenance.facts]
    assert found, "both engines find knowledge for 'battery'"
    pin = "Phones need charging every day."
    request = StepRequest(keywords="battery", params=params(), pinned=(pin,), vetoed=(found[0],))
    *_, view = service.stream_regenerate(user_id=alice, story_id=story.id, index=1, request=request)
    facts = view.nodes[0].provenance.facts
    assert facts[0]["text"] == pin and facts[0]["source"] == "writer" and facts[0]["score"] == 1.0
    assert found[0] not in [f["text"] for f in facts]
    assert_provenance(view.nodes[0], engine, seed=5, candidates=1)


def test_candidates_can_be_switched(service, engine, alice):
    story = service.new_story(user_id=alice, premise=PREMISE)
    _, view = write(service, alice, story.id, "phone", params=params(n_candidates=3))
    assert_provenance(view.nodes[0], engine, seed=5, candidates=3)
    candidates = view.nodes[0].provenance.candidates
    switched = service.choose_candidate(user_id=alice, story_id=story.id, index=1, candidate=2)
    assert switched.nodes[0].text == candidates[2] and switched.nodes[0].provenance.chosen == 2


@pytest.mark.parametrize("premise", ["", "   \n\t "])
def test_a_bad_premise_is_refused_with_a_message(engine, service, alice, premise):
    with pytest.raises(AppError):
        service.new_story(user_id=alice, premise=premise)
    with pytest.raises(AppError, match="premise"):
        list(stream_sentence(engine, StoryContext(premise), 1, StepRequest(params=params())))
    with pytest.raises(AppError, match="premise"):
        suggest(engine, StoryContext(premise), seed=1)


def test_a_premise_in_another_script_is_written_on(service, engine, alice):
    story = service.new_story(user_id=alice, premise="Tom 🚗 fuhr nach Hause, 家に帰った。")
    _, view = write(service, alice, story.id, "tire", params=params())
    assert_provenance(view.nodes[0], engine, seed=5, candidates=1)


def test_memory_and_a_100000_character_note_steer_every_sentence_and_are_recorded(service, engine, alice):
    story = service.new_story(user_id=alice, premise=PREMISE)
    note = ("rain " * 20_000)[:99_999] + "."  # 100,000 characters: kept, and clipped in the prompt
    service.set_memory(user_id=alice, story_id=story.id, memory="Tom is a sailor.", authors_note=note, note_depth=0)
    _, view = write(service, alice, story.id, "battery", params=params())
    view = last_view(service.stream_regenerate(user_id=alice, story_id=story.id, index=1,
                                                     request=StepRequest(keywords="charger", params=params())))
    node = view.nodes[0]
    assert_provenance(node, engine, seed=5, candidates=1)
    steering = node.provenance.steering
    assert steering["memory"] == {"text": "Tom is a sailor.", "chars": 16} and steering["note_depth"] == 0
    assert steering["authors_note"]["chars"] == 100_000 and len(steering["authors_note"]["sha256"]) == 64
    assert any(n.startswith("author's note clipped to ") for n in node.provenance.notes)
    assert not any(n.startswith("memory clipped") for n in node.provenance.notes)
    service.set_memory(user_id=alice, story_id=story.id, memory="", authors_note="")
    _, view = write(service, alice, story.id, "", params=params())
    assert view.nodes[1].provenance.steering == {}  # nothing steered this one


def last_view(stream):
    """The saved story a write stream ends with."""
    *_, view = stream
    return view


def test_a_storyline_is_planned_replanned_and_written_to_the_same_way(service, alice):
    story = service.new_story(user_id=alice, premise=PREMISE).id
    planned = service.plan_story(user_id=alice, story_id=story, sentences=3, seed=2)
    assert len(planned.slots) == 3 and all(slot and clean_keywords(slot)[0] == slot for slot in planned.slots)
    again = service.plan_story(user_id=alice, story_id=story, from_slot=2, seed=3)
    assert again.slots[0] == planned.slots[0] and len(again.slots) == 3
    with pytest.raises(AppError, match="plan at most 12 sentences"):
        service.plan_story(user_id=alice, story_id=story, sentences=13)
    *_, view = service.stream_write_to_plan(user_id=alice, story_id=story,
                                            request=StepRequest(params=params(keyword_strength=8.0)))
    assert len(view.nodes) == 3
    assert [n.provenance.keywords for n in view.nodes] == again.slots
    assert all(n.provenance.keywords_source == "given" for n in view.nodes)
