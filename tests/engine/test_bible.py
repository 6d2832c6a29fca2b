"""The story bible in the knowledge loop: which entries trigger, how they join the ranked facts,
and pin, veto and always, on the Pipeline with a tiny random model."""

from __future__ import annotations

from engine import bible
from engine.bible import BibleFact, LoreEntry, triggered
from engine.keyword_predictor import KeywordPrediction
from engine.knowledge.base import FixedRetriever, NullRanker
from engine.pipeline import Pipeline
from engine.types import Fact, SamplingParams, ScoredFact, StoryContext

MARA = LoreEntry("Mara", ("Mara", "fisherwoman"), "Mara is blind and reads by touch.", entry_id=1)
HARBOR = LoreEntry("Port Ellis", ("harbor", "Port Ellis"), "Port Ellis is a foggy harbor town.", entry_id=2)
RULE = LoreEntry("Rule", (), "Nobody in the town ever lies.", always=True, entry_id=3)
LI = LoreEntry("Li Wei", ("李伟",), "李伟 bakes bread at dawn.", entry_id=4)
ANNA = LoreEntry("Anna", ("Анна",), "Анна is the baker's sister.", entry_id=5)


def _names(facts) -> list[str]:
    return [f.head for f in facts]


def test_keys_trigger_from_keywords_or_the_latest_sentences_only():
    context = StoryContext("A quiet morning.", ("Mara woke early.", "The sea was calm.", "Gulls flew.", "Wind rose."))
    assert _names(triggered([MARA, HARBOR], ["harbor"], context).matched) == ["Port Ellis"]
    # "Mara" is four sentences back: outside the scanned window of SCAN_SENTENCES.
    assert triggered([MARA], ["boat"], context).matched == []
    near = StoryContext("A quiet morning.", ("Mara woke early.",))
    (fact,) = triggered([MARA], ["boat"], near).matched
    assert isinstance(fact, BibleFact) and (fact.source, fact.tail, fact.entry) == ("bible", "Mara", 1)


def test_keys_match_whole_words_any_case_and_scripts_without_spaces():
    context = StoryContext("The MARAthon began.")
    assert triggered([MARA], ["run"], context).matched == []  # not inside another word
    assert _names(triggered([MARA], ["MARA"], context).matched) == ["Mara"]
    assert _names(triggered([LI, ANNA], ["bread"], StoryContext("今天李伟很早起床。")).matched) == ["Li Wei"]
    assert _names(triggered([LI, ANNA], ["bread"], StoryContext("Анна пришла."), ).matched) == ["Anna"]
    assert triggered([ANNA], ["bread"], StoryContext("Аннаполис.")).matched == []


def test_always_entries_come_without_keys_and_too_many_matches_are_noted():
    lore = triggered([RULE, *[LoreEntry(f"P{i}", ("town",), f"P{i} lives here.") for i in range(70)]],
                     ["town"], StoryContext("X."))
    assert _names(lore.always) == ["Rule"] and lore.always[0].tail == "always"
    assert len(lore.matched) == bible.MAX_TRIGGERED and lore.left_out == 70 - bible.MAX_TRIGGERED
    assert "not ranked" in lore.notes()[0]


def test_a_long_entry_is_clipped_in_the_prompt():
    long = LoreEntry("Saga", ("saga",), "word " * 500)
    assert len(long.fact("saga").sentence) <= bible.PROMPT_CHARS


class _Predictor:
    def predict(self, context, seed=None):
        return KeywordPrediction(["boat"], "", "model", 0)


def _pipeline(tiny_generator) -> Pipeline:
    facts = [Fact("UsedFor", "harbor", "boats", "A harbor is for boats.", 2.0, "conceptnet"),
             Fact("IsA", "fisherwoman", "person", "A fisherwoman is a person.", 1.0, "wordnet")]
    return Pipeline(tiny_generator, _Predictor(), retriever=FixedRetriever(facts), ranker=NullRanker())


def _step(pipeline, context, **kwargs):
    params = SamplingParams(seed=3, max_new_tokens=4, knowledge_top_n=kwargs.pop("top_n", 5), alternatives=0)
    return pipeline.next_step(context, params=params, **kwargs)


def test_the_pipeline_ranks_triggered_entries_beside_retrieved_facts_and_records_them(tiny_generator):
    pipeline = _pipeline(tiny_generator)
    context = StoryContext("Mara walked to the harbor.", bible=(MARA, HARBOR, RULE))
    step = _step(pipeline, context, keywords=["harbor", "fisherwoman"])
    facts = [f.to_dict() for f in step.facts]
    assert facts[0]["head"] == "Rule" and facts[0]["source"] == "bible"  # always: first after pins
    by_source = {f["sentence"]: f["source"] for f in facts}
    assert by_source[MARA.text] == "bible" and by_source[HARBOR.text] == "bible"
    assert by_source["A harbor is for boats."] == "conceptnet"
    assert {f["entry"] for f in facts if f["source"] == "bible"} == {1, 2, 3}
    assert all(isinstance(f["score"], float) for f in facts)


def test_veto_removes_an_entry_and_pin_keeps_an_untriggered_one_as_a_bible_fact(tiny_generator):
    pipeline = _pipeline(tiny_generator)
    context = StoryContext("Mara walked to the harbor.", bible=(MARA, HARBOR, RULE))
    vetoed = _step(pipeline, context, keywords=["harbor"], vetoed=[HARBOR.text, RULE.text])
    sentences = [f.fact.sentence for f in vetoed.facts]
    assert HARBOR.text not in sentences and RULE.text not in sentences
    quiet = StoryContext("A calm day.", bible=(MARA, HARBOR))
    pinned = _step(pipeline, quiet, keywords=["boat"], pinned=[HARBOR.text, "Boats float."], top_n=1)
    assert [(f.fact.source, f.fact.head) for f in pinned.facts] == [("bible", "Port Ellis"), ("writer", "")]


def test_given_facts_still_carry_entries_flagged_always(tiny_generator):
    pipeline = _pipeline(tiny_generator)
    step = _step(pipeline, StoryContext("A calm day.", bible=(RULE, MARA)), keywords=["boat"], facts=["Boats float."])
    assert [f.fact.sentence for f in step.facts] == [RULE.text, "Boats float."]


def test_without_a_bible_nothing_changes(tiny_generator):
    pipeline = _pipeline(tiny_generator)
    step = _step(pipeline, StoryContext("Mara walked to the harbor."), keywords=["harbor"])
    assert [f.fact.source for f in step.facts] == ["conceptnet"]


def test_long_entries_never_crowd_the_story_out_of_the_prompt(tiny_model, tiny_generator):
    from engine.prompts import FACTS_SHARE, build_prompt

    _, tokenizer = tiny_model
    entries = [LoreEntry(f"E{i}", (), "the old boat " * 60, always=True) for i in range(8)]
    facts = [e.fact("always").sentence + f" {i}" for i, e in enumerate(entries)]
    context = StoryContext("Tom went to the sea.", ("He found a boat.",))
    prompt = build_prompt(tokenizer, context=context, keywords=["boat"], facts=facts, max_prompt_tokens=240,
                          style="plain")
    assert len(prompt.prefix) + len(prompt.suffix) <= 240
    assert any(n.startswith("knowledge clipped: the last") for n in prompt.notes)
    story_ids = tokenizer(" He found a boat.", add_special_tokens=False)["input_ids"]
    whole = prompt.prefix + prompt.suffix
    assert any(whole[i:i + len(story_ids)] == story_ids for i in range(len(whole)))  # the latest sentence stays
    assert len(whole) - len(prompt.prefix) <= 240 // FACTS_SHARE + len(prompt.story_suffix) + 40
    step = _step(_pipeline(tiny_generator), StoryContext("Tom went to the sea.", bible=tuple(entries)),
                 keywords=["boat"])
    assert any("knowledge clipped" in n for n in step.notes)


def test_keyed_entries_keep_half_the_places_even_when_retrieved_facts_rank_higher(tiny_generator):
    class Favouring(NullRanker):  # ranks every retrieved fact above every bible entry
        def rank(self, context, facts, top_n=5):
            ordered = sorted(facts, key=lambda f: f.source == "bible")
            return [ScoredFact(f, 1.0 / (i + 1)) for i, f in enumerate(ordered[:top_n])]

    facts = [Fact("RelatedTo", "harbor", f"thing{i}", f"A harbor has thing {i}.", 1.0, "wordnet") for i in range(9)]
    pipeline = Pipeline(tiny_generator, _Predictor(), retriever=FixedRetriever(facts), ranker=Favouring())
    entries = tuple(LoreEntry(f"E{i}", ("harbor",), f"Entry {i} lives by the harbor.", entry_id=i) for i in range(4))
    step = _step(pipeline, StoryContext("A calm day.", bible=entries), keywords=["harbor"], top_n=5)
    sources = [f.fact.source for f in step.facts]
    assert len(sources) == 5 and sources.count("bible") == bible.reserved_slots(5) == 2
    assert [f.fact.entry for f in step.facts if f.fact.source == "bible"] == [0, 1]  # the best-ranked entries
    assert bible.reserved_slots(1) == 1 and bible.reserved_slots(0) == 0


def test_a_keyword_naming_an_entry_is_not_looked_up_in_the_knowledge_base(tiny_generator):
    entries = (MARA, LoreEntry("Grandpa Joe", ("Joe",), "Grandpa Joe no longer drives."))
    assert bible.retrievable(entries, ["mara", "Joe", "grandpa", "harbor", "fisherwoman"]) == ["harbor", "fisherwoman"]
    assert bible.retrievable((), ["Mara"]) == ["Mara"]
    seen = []

    class Recording(FixedRetriever):
        def retrieve(self, keywords, limit=50):
            seen.append(list(keywords))
            return super().retrieve(keywords, limit)

    rodent = Fact("IsA", "mara", "rodent", "A mara is a rodent.", 3.0, "wordnet")
    pipeline = Pipeline(tiny_generator, _Predictor(), retriever=Recording([rodent]), ranker=NullRanker())
    step = _step(pipeline, StoryContext("A calm day.", bible=(MARA,)), keywords=["Mara", "boat"])
    assert seen == [["boat"]] and "A mara is a rodent." not in [f.fact.sentence for f in step.facts]
    step = _step(pipeline, StoryContext("A calm day."), keywords=["Mara", "boat"])
    assert "A mara is a rodent." in [f.fact.sentence for f in step.facts]
