"""Making a study: one function for the command line and the admin page, reusing a loaded engine."""

from __future__ import annotations

import pytest

import engine.loading
from app.engine_handle import EngineHandle
from app.errors import AppError
from app.fake_engine import FakeEngine
from app.studies.create import Generation, StudySettings, engine_names, make_study, reusable
from app.studies.studies import StudySpec
from app.studies.systems import NoKeywords, build_writers
from engine.knowledge.base import NullRanker, NullRetriever
from storage import NotFound, get_study, item_counts


@pytest.fixture
def no_loading(monkeypatch):
    """Any attempt to load a model fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded although one was handed over")

    monkeypatch.setattr(engine.loading, "load_model", refuse)


@pytest.fixture
def premises(tmp_path) -> str:
    path = tmp_path / "premises.txt"
    path.write_text("Ann drove home.\nBob lost his keys.\nCal found a dog.\n")
    return str(path)


def test_a_handed_over_engine_writes_the_study_and_no_model_is_loaded(factory, people, premises, no_loading):
    settings = StudySettings(
        spec=StudySpec(name="reuse", kind="likert", overlap_k=2, seed=3),
        owner_id=people["ada"],
        generation=Generation(premises=premises, limit=2, systems=("full", "no_knowledge", "plain"),
                              model="default", sentences=2),
        raters=("r1", "r2", "r3"),
    )
    made = make_study(factory, settings=settings, preloaded={"default": FakeEngine()}, progress=False)
    assert (made.stories, made.models_reused, made.models_loaded) == (6, ["default"], [])
    assert made.assignments == 6 * 2 and made.idle_raters == []
    with factory.begin() as session:
        study = get_study(session, made.study_id)
        assert study.owner_id == people["ada"] and study.settings["model"] == "default"
        assert study.settings["systems"] == ["full", "no_knowledge", "plain"]
        assert item_counts(session, study_id=made.study_id).regular == 6


def test_unknown_rater_fails_before_anything_is_generated(factory, people, premises):
    fake = FakeEngine()
    settings = StudySettings(spec=StudySpec(name="x", kind="likert"),
                             generation=Generation(premises=premises, limit=1), raters=("nobody",))
    with pytest.raises(NotFound, match="nobody"):
        make_study(factory, settings=settings, preloaded={"default": fake}, progress=False)
    assert fake.calls == []


def test_variants_of_a_handed_over_pipeline_share_its_model(tiny_generator, no_loading):
    from engine.keyword_predictor import KeywordPredictor
    from engine.pipeline import Pipeline

    app_pipeline = Pipeline(generator=tiny_generator, predictor=KeywordPredictor(tiny_generator))
    full, bare, plain = build_writers(systems=["full", "no_knowledge", "plain"], model="tiny-llama",
                                      preloaded={"tiny-llama": app_pipeline})
    assert full.pipeline is app_pipeline
    assert bare.pipeline.generator is plain.pipeline.generator is tiny_generator
    assert isinstance(bare.pipeline.retriever, NullRetriever) and isinstance(bare.pipeline.ranker, NullRanker)
    assert isinstance(plain.pipeline.predictor, NoKeywords) and plain.plain
    story = plain.write("Tom went home.", n_sentences=1, seed=0)
    assert story.model == "tiny-llama" and story.sentences[0].strip() and story.keywords == [[]]


def test_the_engine_is_reused_only_for_its_own_model_and_never_while_loading():
    ready = EngineHandle(FakeEngine(), description="default")
    assert engine_names(ready) == ["default", "fake-engine"]
    found = reusable(ready, ["default"])
    assert set(found) == {"default", "fake-engine"} and found["default"] is ready.get()
    assert reusable(ready, ["tiny"]) == {} and reusable(None, ["default"]) == {}
    loading = EngineHandle(description="default")  # a model still loading in the background
    with pytest.raises(AppError, match="still loading"):
        reusable(loading, ["default"])
    assert reusable(loading, ["tiny"]) == {}


def test_generation_presets_name_the_models_their_systems_use():
    tiny = Generation.from_name("tiny")
    assert tiny.model == "tiny" and tiny.models() == ["tiny"]
    assert Generation(systems=("model",), other_model="x").models() == ["x"]
    assert Generation(systems=("full", "model"), other_model="x").models() == ["default", "x"]
    with pytest.raises(ValueError, match="no generation preset"):
        Generation.from_name("huge")


def test_the_admin_page_offers_the_loaded_model_and_says_so(factory):
    from app.studies.ui import build_eval_demo
    from app.studies.ui_admin import page_settings

    demo = build_eval_demo(session_factory=factory, engine=EngineHandle(FakeEngine(), description="default"))
    by_id = {getattr(b, "elem_id", None): b for b in demo.blocks.values()}
    assert by_id["create-model"].value == "default"
    assert "already loaded" in by_id["create-model-note"].value
    alone = build_eval_demo(session_factory=factory)
    alone_ids = {getattr(b, "elem_id", None): b for b in alone.blocks.values()}
    assert alone_ids["create-model"].value == "default"
    assert "No model is loaded" in alone_ids["create-model-note"].value
    form = {"name": "p", "kind": "pairwise", "criteria": "coherence, fluency", "systems": ["full", "plain"],
            "premises": "x.txt", "limit": 4, "sentences": 2, "overlap": 2, "rate": 0.25, "model": " ",
            "other": "", "raters": "r1, r2"}
    settings = page_settings(form, owner_id=7)
    assert settings.spec.criteria == ["coherence", "fluency"] and settings.spec.overlap_k == 2
    assert settings.generation.model == "default" and settings.generation.other_model is None
    assert settings.raters == ("r1", "r2") and settings.owner_id == 7
