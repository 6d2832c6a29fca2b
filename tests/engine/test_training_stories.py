"""All the training stories: the ROCStories training sample's reader, no test story in training,
the coherence reranker's pairs and negatives, and the reranker's choice in the pipeline."""

from __future__ import annotations

import random
import re
import zipfile

import pytest
import torch

from engine.coherence import CoherenceConfig, CoherenceReranker, CoherenceScorer, choose, text_features
from engine.names import name_drift, names_in, new_names
from engine.training.coherence_data import cloze_pairs, read_cloze_cases, story_pairs, swap_name
from engine.training.data import sentence_keywords
from engine.training.text import (
    CLOZE_HELD_OUT,
    ROC_TRAIN,
    Story,
    default_truecaser,
    parse_train_line,
    read_cloze_train,
    read_cloze_val,
    read_rocstories_train,
)


def first_lines(n: int) -> list[str]:
    from engine.paths import shared_file

    with zipfile.ZipFile(shared_file(*ROC_TRAIN)) as archive, archive.open(archive.namelist()[0]) as raw:
        return [next(raw).decode("utf-8") for _ in range(n)]


def test_train_line_gives_phrases_per_sentence():
    title, groups, sentences = parse_train_line(first_lines(1)[0])
    assert title == "camping trip"
    assert len(groups) == 5 and len(sentences) == 5
    assert groups[0] == ["tobias planned", "camping trip", "weekend"] and groups[4] == ["delighted"]
    assert sentences[0].startswith("tobias planned a big camping trip") and not sentences[-1].endswith("@")


def test_train_stories_are_detokenised_truecased_and_keep_their_phrases():
    stories = read_rocstories_train(truecaser=default_truecaser(), limit=3)
    first = stories[0]
    assert first.sentences[0] == "Tobias planned a big camping trip for the weekend."
    assert first.phrases[0] == ("Tobias planned", "camping trip", "weekend")  # the name's casing restored
    assert "ca n't" not in " ".join(s for story in stories for s in story.sentences)
    # Each sentence is trained to carry the phrases it uses, at most two.
    assert sentence_keywords(first, 1) == ["asked", "wanted"]
    assert all(len(sentence_keywords(s, i)) <= 2 for s in stories for i in range(1, 5))


def test_no_training_story_is_a_plan_and_write_test_story():
    from engine.training.run import load_stories
    from engine.training.text import parse_plan_write_line, plan_write_path

    def letters(sentences) -> str:
        return re.sub(r"[^a-z]", "", " ".join(sentences).lower())

    with plan_write_path("test").open(encoding="utf-8") as handle:
        test = {letters(parse_plan_write_line(line)[2]) for line in handle}
    training = load_stories(train_stories=-1, plan_write_stories=-1, cloze_stories=-1)
    assert len(training) > 34_000
    assert not [s for s in training if letters(s.sentences) in test]


def test_the_held_out_story_cloze_slice_is_never_trained_on():
    trained = {s.sentences[:4] for s in read_cloze_train()}
    held = read_cloze_cases(held_out=True)
    assert len(held) == CLOZE_HELD_OUT and len(trained) == len(read_cloze_val()) - CLOZE_HELD_OUT
    assert not [c for c in held if c.sentences in trained]
    assert all(c.right != c.wrong for c in held)


# --------------------------------------------------------------------------- names


def test_names_and_new_names():
    assert names_in("Tom let his friend borrow his phone. Suddenly Jane called on Monday.") == {"tom", "jane"}
    assert new_names("Tony called Jane.", ["Tom let Jane borrow his phone."]) == {"tony"}
    assert new_names("He called Mom on Christmas.", ["Tom was sad."]) == set()
    assert name_drift([("Tom had a flat tire.", ["He called Mike.", "Mike came over.", "Tom thanked him."])]) == (1, 3)


# --------------------------------------------------------------------------- coherence pairs

STORIES = [
    Story(("Tom had a flat tire.", "He called Mike for help.", "Mike brought a spare.", "They fixed the car.",
           "Tom thanked Mike."), phrases=(("flat tire",), ("called",), ("spare",), ("fixed",), ("thanked",))),
    Story(("Gina wanted a dog.", "She asked her mom.", "Her mom said no.", "Gina cried all night.",
           "In the morning her mom called the shelter."), phrases=(("dog",), ("asked",), ("said",), ("cried",), ("called",))),
    Story(("Sam lost his keys.", "He looked everywhere.", "He called his wife.", "She had them in her purse.",
           "Sam was relieved."), phrases=(("keys",), ("looked",), ("called",), ("purse",), ("relieved",))),
]


def test_every_real_sentence_gets_one_negative_of_a_named_kind():
    pairs = story_pairs(STORIES, seed=1)
    real = [p for p in pairs if p.label == 1]
    fake = [p for p in pairs if p.label == 0]
    assert len(real) == len(fake) == 12
    for positive, negative in zip(real, fake, strict=True):
        story = next(s for s in STORIES if s.sentences[0] == positive.premise)
        i = len(positive.sentences) + 1
        assert positive.candidate == story.sentences[i] and negative.sentences == positive.sentences
        assert negative.candidate != positive.candidate
        if negative.kind == "repeated":
            assert negative.candidate == story.sentences[i - 1]
        elif negative.kind == "out_of_order":
            assert negative.candidate in story.sentences and negative.candidate != story.sentences[i]
        elif negative.kind == "other_story":
            assert negative.candidate not in story.sentences
        else:
            assert negative.kind == "name_swap" and new_names(negative.candidate, story.sentences)


def test_other_story_negatives_share_a_keyword_when_one_does():
    pairs = story_pairs(STORIES * 1, seed=0)
    called = [p for p in pairs if p.kind == "other_story" and p.premise == "Tom had a flat tire." and len(p.sentences) == 0]
    for p in called:  # sentence 2 of the tire story has keyword "called": the partner's sentence 2
        assert p.candidate in {"She asked her mom.", "He looked everywhere."}


def test_name_swap_puts_in_a_name_the_story_does_not_have():
    swapped = swap_name("Mike brought a spare.", STORIES[0], ["Gina", "Mike", "Tom"], random.Random(0))
    assert swapped == "Gina brought a spare."
    assert swap_name("He brought a spare.", STORIES[0], ["Gina"], random.Random(0)) is None


def test_cloze_pairs_hold_the_right_and_the_wrong_ending():
    cases = read_cloze_cases(held_out=False)[:2]
    pairs = cloze_pairs(cases)
    assert [p.label for p in pairs] == [1, 0, 1, 0] and pairs[1].kind == "cloze_wrong"
    assert pairs[0].candidate == cases[0].right and pairs[1].candidate == cases[0].wrong


def test_text_features_see_new_names_copies_and_repeats():
    new_name, copied, repeats, _ = text_features("Tom had a flat tire.", ["He called Mike for help."], "Tony had a flat tire.")
    assert new_name == 1.0 and copied == 0.5 and repeats == 0.0  # "had a flat tire" of 2 four-grams
    assert text_features("Tom had a flat tire.", [], "Tom had a flat tire.")[2] == 1.0


# --------------------------------------------------------------------------- the reranker's choice


def bag_encoder(dim: int = 16):
    def encode(texts):
        out = torch.zeros(len(texts), dim)  # (N, D)
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z]+", text.lower()):
                out[row, sum(map(ord, word)) % dim] += 1.0
        return torch.nn.functional.normalize(out + 1e-6, dim=-1)

    return encode


class NewNameHater(CoherenceScorer):
    """A scripted scorer: a candidate that brings in a new name scores low, others by length."""

    def forward(self, features):
        dim = self.config.embed_dim
        hand = features[:, 4 * dim : 4 * dim + 4]  # (N, 4): new_name, copied, repeats, length
        return -5.0 * hand[:, 0] + hand[:, 3]


def test_choose_prefers_candidates_with_every_keyword():
    assert choose(["a dog ran.", "the cat sat on a mat.", "the cat ran."], [0.2, 0.9, 0.5], ["ran"]) == 2
    assert choose(["a dog ran.", "the cat sat."], [0.2, 0.9], ["tire"]) == 1  # none carries it: best of all


def test_pipeline_takes_the_rerankers_choice_and_records_every_score():
    from engine.generator import GenerationResult
    from engine.pipeline import Pipeline
    from engine.types import SamplingParams, StoryContext

    candidates = ["Tony took the phone home.", "Tom asked for the phone back the next day.", "He took it."]

    class Scripted:
        model_id, adapter = "scripted", None

        def provenance(self):
            return {"name": "scripted"}

        def stream(self, **_):
            yield GenerationResult(candidates=list(candidates), seed=1)

    reranker = CoherenceReranker(NewNameHater(CoherenceConfig(embed_dim=16, hidden=4)), bag_encoder())
    pipeline = Pipeline(generator=Scripted(), predictor=None, reranker=reranker)
    step = pipeline.next_step(StoryContext("Tom let his friend borrow his phone."), keywords=["phone"],
                              params=SamplingParams(n_candidates=3, seed=1))
    assert step.sentence == candidates[1]  # no new name, longest
    assert len(step.coherence) == 3 and step.coherence[0] < step.coherence[1]
    assert step.to_dict()["coherence"] == step.coherence and "rerank" in step.timings_ms
    plain = Pipeline(generator=Scripted(), predictor=None).next_step(
        StoryContext("Tom let his friend borrow his phone."), keywords=["phone"], params=SamplingParams(seed=1))
    assert plain.chosen == 0 and plain.coherence == []


def test_a_tiny_scorer_learns_to_tell_real_from_swapped_names():
    from engine.training.coherence_train import CoherenceTrainConfig, pair_accuracy, pair_features, train_scorer

    pairs = story_pairs(STORIES * 8, seed=0)
    features = pair_features(pairs, bag_encoder())
    labels = torch.tensor([p.label for p in pairs])
    scorer, losses = train_scorer(features, labels, model_config=CoherenceConfig(embed_dim=16, hidden=16),
                                  config=CoherenceTrainConfig(epochs=40, batch_size=16, lr=1e-2))
    assert losses[-1] < losses[0]
    assert pair_accuracy(scorer, features, labels) > 0.75


@pytest.mark.parametrize("held_out", [True, False])
def test_cloze_cases_have_four_sentences(held_out):
    assert all(len(c.sentences) == 4 for c in read_cloze_cases(held_out=held_out)[:50])


def test_a_saved_reranker_loads_by_folder_and_none_means_none(tmp_path):
    from engine.build import load_reranker
    from engine.coherence import save_scorer

    class BagRanker:
        def _encode(self, texts):
            return bag_encoder()(texts)

    save_scorer(NewNameHater(CoherenceConfig(embed_dim=16, hidden=4)), tmp_path / "coherence", {"pairs": 0})
    reranker = load_reranker(str(tmp_path / "coherence"), BagRanker())
    scores = reranker.score("Tom had a dog.", [], ["Tom walked the dog.", "Zed walked the dog."])
    assert scores[0] != scores[1]
    assert load_reranker("none", BagRanker()) is None
    with pytest.raises(FileNotFoundError, match="train-coherence"):
        load_reranker(str(tmp_path / "missing"), BagRanker())
    with pytest.raises(ValueError, match="embedding ranker"):
        load_reranker(str(tmp_path / "coherence"), object())
