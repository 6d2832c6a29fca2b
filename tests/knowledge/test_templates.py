"""Relation templates: every relation renders a natural sentence."""

from __future__ import annotations

import gzip
import json

import pytest

from engine.knowledge.templates import (
    TemplateRenderer,
    gerund,
    past_participle,
    template_relations,
    with_article,
)
from engine.paths import asset, shared_file

CN100K = shared_file("conceptnet", "cn100k", "train100k.txt.gz")
WORDNET_RELATIONS = {"IsA", "PartOf", "HasA", "MadeOf", "Synonym", "Antonym", "DefinedAs", "Entails", "Causes", "Example"}
CONCEPTNET5_RELATIONS = {
    "RelatedTo", "FormOf", "IsA", "PartOf", "HasA", "UsedFor", "CapableOf", "AtLocation", "Causes",
    "HasSubevent", "HasFirstSubevent", "HasLastSubevent", "HasPrerequisite", "HasProperty",
    "MotivatedByGoal", "ObstructedBy", "Desires", "CreatedBy", "Synonym", "Antonym", "DistinctFrom",
    "DerivedFrom", "SymbolOf", "DefinedAs", "MannerOf", "LocatedNear", "HasContext", "SimilarTo",
    "EtymologicallyRelatedTo", "EtymologicallyDerivedFrom", "CausesDesire", "MadeOf", "ReceivesAction",
    "InstanceOf", "Entails", "NotDesires", "NotUsedFor", "NotCapableOf", "NotHasProperty",
}  # fmt: skip


def test_templates_cover_wordnet_and_conceptnet5_relations():
    relations = set(template_relations())
    assert WORDNET_RELATIONS <= relations
    assert CONCEPTNET5_RELATIONS <= relations


@pytest.mark.skipif(not CN100K.is_file(), reason="shared ConceptNet-100k file not present")
def test_templates_cover_every_cn100k_relation():
    with gzip.open(CN100K, "rt") as handle:
        present = {line.split("\t", 1)[0] for line in handle}
    assert len(present) == 34
    assert present <= set(template_relations())


@pytest.mark.parametrize("relation", sorted(json.loads(asset("relation_templates.json").read_text())["templates"]))
def test_each_relation_renders_a_sentence(relation):
    name, _, pos = relation.partition("/")
    sentence = TemplateRenderer().render(name, "mountain cabin", "quiet lake", pos=pos or None)
    assert sentence[0].isupper() and sentence.endswith(".")
    assert "{" not in sentence and "}" not in sentence
    assert "lake" in sentence.lower()
    if relation.split("/")[0] != "Example":  # an example sentence is the tail itself
        assert "cabin" in sentence.lower()


def test_unknown_relation_uses_the_fallback():
    sentence = TemplateRenderer().render("SomeNewRelation", "cat", "mouse")
    assert sentence.startswith("Cat ") and "mouse" in sentence and "SomeNewRelation" in sentence


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [("apple", "an apple"), ("dog", "a dog"), ("hour", "an hour"), ("unicorn", "a unicorn"),
     ("dogs", "dogs"), ("the park", "the park"), ("something", "something"), ("glass", "a glass")],
)  # fmt: skip
def test_articles(phrase, expected):
    assert with_article(phrase) == expected


def test_uncountable_nouns_take_no_article():
    assert with_article("water", frozenset({"water"})) == "water"


@pytest.mark.parametrize(("verb", "expected"), [("run", "running"), ("make", "making"), ("play", "playing"), ("lie", "lying"), ("be", "being")])
def test_gerund(verb, expected):
    assert gerund(verb) == expected


@pytest.mark.parametrize(("verb", "expected"), [("play", "played"), ("eat", "eaten"), ("stop", "stopped"), ("carry", "carried"), ("bake", "baked")])
def test_past_participle(verb, expected):
    assert past_participle(verb, {"eat": "eaten"}) == expected


def test_sentences_read_naturally_with_wordnet(wordnet):
    render = TemplateRenderer().render
    assert render("ReceivesAction", "hockey", "play on ice") == "Hockey can be played on ice."
    assert render("AtLocation", "restroom", "rest area") == "You are likely to find a restroom in a rest area."
    assert render("HasPrerequisite", "eat breakfast", "make breakfast") == "To eat breakfast, you need to make breakfast."
    assert render("UsedFor", "door", "enter room") == "A door is used for entering room."


def test_part_of_speech_templates_for_wordnet(wordnet):
    render = TemplateRenderer().render
    assert render("DefinedAs", "tire", "exhaust or get tired through overuse", pos="v") == (
        "To tire means to exhaust or get tired through overuse."
    )
    assert render("DefinedAs", "tired", "depleted of strength", pos="s") == "Tired means depleted of strength."
    assert render("IsA", "tire", "hoop", pos="n") == "A tire is a hoop."
