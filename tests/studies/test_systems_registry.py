"""One vocabulary of systems: the harness and human studies build from the same specs."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from app.studies.systems import SYSTEM_NAMES, build_writers
from engine.evaluation.systems import (
    STUDY_SYSTEMS,
    NoKeywords,
    SystemSpec,
    build_system,
    study_spec,
    system_spec,
)
from engine.knowledge.base import NullRanker, NullRetriever


def test_every_stored_study_name_is_a_spec_of_the_one_registry():
    assert SYSTEM_NAMES == ("full", "no_knowledge", "plain", "antonym", "model")
    for stored, name in STUDY_SYSTEMS.items():
        assert study_spec(stored) == system_spec(name)
    assert study_spec("full") == SystemSpec("full")
    assert study_spec("no_knowledge").knowledge is False and study_spec("no_knowledge").keywords == "predicted"
    assert study_spec("antonym").keywords == "antonym" and study_spec("antonym").knowledge
    assert study_spec("model").model == "other"


def test_the_two_plains_are_two_specs():
    harness, study = system_spec("plain"), study_spec("plain")
    assert harness.plain and not study.plain  # a raw-text prompt; the chat pipeline without keywords
    assert (study.keywords, study.knowledge, study.guided) == ("none", False, False)
    with pytest.raises(ValueError, match="unknown study system"):
        study_spec("prompted")


def test_harness_names_keep_their_meaning():
    assert system_spec("trained-rake") == SystemSpec("trained-rake", trained=True, predictor="rake")
    assert system_spec("prompted-no-knowledge") == SystemSpec("prompted-no-knowledge", knowledge=False)
    assert system_spec("trained-unguided") == SystemSpec("trained-unguided", trained=True, guided=False)


def test_harness_and_study_build_the_same_plain_from_one_spec(tiny_generator):
    from engine.keyword_predictor import KeywordPredictor
    from engine.pipeline import Pipeline

    system = build_system(study_spec("plain"), base=SimpleNamespace(model=None), trained=None,
                          retriever=object(), ranker=object(), writer=tiny_generator)
    app_pipeline = Pipeline(generator=tiny_generator, predictor=KeywordPredictor(tiny_generator))
    [writer] = build_writers(systems=["plain"], model="tiny", preloaded={"tiny": app_pipeline})
    for pipeline in (system.pipeline, writer.pipeline):
        assert isinstance(pipeline.predictor, NoKeywords)
        assert isinstance(pipeline.retriever, NullRetriever) and isinstance(pipeline.ranker, NullRanker)
        assert pipeline.generator is tiny_generator
    assert writer.plain and writer.system == "plain"


@pytest.mark.parametrize("name", ["antonym", "model"])
def test_the_harness_refuses_what_only_a_study_can_run(name):
    with pytest.raises(ValueError, match="study system"):
        build_system(study_spec(name), base=SimpleNamespace(model=None), trained=None, retriever=None,
                     ranker=None, writer=object())
