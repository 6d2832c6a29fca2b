"""Every harness metric on hand-made texts with known answers."""

from __future__ import annotations

import math

import pytest

from engine.evaluation import metrics as M
from engine.evaluation.systems import system_spec


def test_repeat4_is_the_share_of_stories_with_a_repeated_word_4gram():
    looped = "I'm a bit i'm a bit i'm a bit."
    fine = "I'm a bit tired. I'm a bit sad."  # 3-word overlap only
    assert M.has_repeat(looped) and not M.has_repeat(fine)
    assert M.repeat_n([looped, fine, fine, fine]) == 0.25
    assert M.repeat_n([]) is None


def test_distinct4_pools_ngrams_over_all_stories():
    # "a b c d e": 2 four-grams; twice: 4 four-grams, 2 distinct.
    assert M.distinct_n(["a b c d e", "a b c d e"]) == 0.5
    assert M.distinct_n(["a b c d e", "v w x y z"]) == 1.0
    assert M.distinct_n(["too short"]) is None


def test_words_per_sentence():
    assert M.words_per_sentence(["Tom ran home.", "He didn't stop at all."]) == 4.0


@pytest.mark.parametrize(("sentence", "kind"), [
    ("A loan is a kind of debt.", "definition"),
    ("Borrowing is defined as taking something.", "definition"),
    ("To spot means the same as to espy.", "definition"),
    ("A bathroom is a fixture in a bathroom.", "definition"),
    ("Tom is driving a car, which means he has the motorcar part.", "definition"),
    ("A man came to the door.", None),
    ("The next sentence uses the words battery and phone.", "instruction_echo"),
    ("Let's write: struggling, difficult.", "instruction_echo"),
    ("Sure, here is the next part of the story.", "chat"),
    ("Sounds good, a loan is to borrow.", "chat"),
    ("I hope this helps!", "chat"),
    ("...", "empty"),
    ("Tom kept draining the battery.", None),
    ("She was sure she had locked the door.", None),
    ("The dog is a good boy who loves the park.", None),
])
def test_odd_sentences_by_kind(sentence, kind):
    assert M.odd_reason(sentence) == kind


def test_odd_rate():
    assert M.odd_rate(["Sure, here it is.", "Tom ran.", "He fell.", "A dog is a kind of animal."]) == 0.5


def test_keyword_inclusion_accepts_inflections_and_needs_every_keyword():
    assert M.includes_all("He kept draining the battery.", ["drain", "battery"])
    assert not M.includes_all("He kept draining the phone.", ["drain", "battery"])
    assert not M.includes_all("Anything.", [])


def test_knowledge_use_needs_a_shared_content_word_beyond_the_keyword():
    facts = ["A battery stores power.", "A phone is a device."]
    assert M.uses_knowledge("The phone had no power left.", facts, ["phone"])
    assert not M.uses_knowledge("The phone was new.", facts, ["phone"])  # only the keyword itself
    assert not M.uses_knowledge("Tom went home.", [], [])


def test_perplexity_is_exp_of_mean_nll():
    assert M.perplexity(2 * math.log(4.0), 2) == pytest.approx(4.0)
    assert M.perplexity(0.0, 0) is None


def test_system_names_and_ablations():
    assert system_spec("plain").plain and not system_spec("plain").knowledge
    trained = system_spec("trained-no-knowledge")
    assert trained.trained and not trained.knowledge and trained.guided
    assert not system_spec("trained-unguided").guided
    assert system_spec("prompted-rake").predictor == "rake" and not system_spec("prompted-rake").trained
    with pytest.raises(ValueError):
        system_spec("trained-magic")
    with pytest.raises(ValueError):
        system_spec("oracle")
