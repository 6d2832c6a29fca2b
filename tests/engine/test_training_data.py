"""Training data: detokenising, truecasing, Plan-and-Write parsing, CNTRL examples and masking."""

from __future__ import annotations

import random

import pytest

from engine.knowledge.base import FixedRetriever, NullRanker
from engine.training.data import (
    IGNORE,
    DataConfig,
    Example,
    choose_facts,
    encode,
    sentence_keywords,
    split_validation,
    story_examples,
)
from engine.training.text import (
    Story,
    Truecaser,
    detokenize,
    parse_plan_write_line,
    plan_write_path,
)
from engine.types import Fact

LINE = ("drained battery <EOT> phone friend battery back phone <EOL> </s> tom let his friend borrow his phone . "
        "</s> the friend kept using it . </s> he kept draining the battery . </s> tom asked for it back . "
        "</s> i did n't want to say no , so tom let him keep the phone .")


def test_detokenize_undoes_treebank_tokens():
    assert detokenize("he did n't go to tom 's house .") == "he didn't go to tom's house."
    assert detokenize("i ca n't , he said ( quietly ) !") == "i can't, he said (quietly)!"
    assert detokenize("she wo n't be `` late '' .") == 'she won\'t be "late".'


def test_truecaser_learns_majority_forms_and_story_names():
    caser = Truecaser.learn(["We went to Paris in May.", "They love Paris a lot.", "I saw the may tree.",
                             "The dog ran home.", "A dog barked at Paris."])
    assert caser.restore("we saw paris. i think") == "We saw Paris. I think"
    # "oliver" starts a sentence and is never written lower-case: a name everywhere in the story.
    assert caser.restore_story(["oliver ran home.", "the dog saw oliver."]) == ("Oliver ran home.", "The dog saw Oliver.")
    # "the" is a known lower-case word: only the sentence start is capitalised.
    assert caser.restore_story(["the dog ran.", "he saw the dog."]) == ("The dog ran.", "He saw the dog.")


def test_truecaser_word_accuracy_counts_casing_errors():
    caser = Truecaser.learn(["We went to Paris today.", "They saw Paris."])
    assert caser.word_accuracy(["He saw Paris."]) == 1.0
    assert caser.word_accuracy(["He saw London."]) == pytest.approx(2 / 3)


def test_parse_plan_write_line():
    title, keywords, sentences = parse_plan_write_line(LINE)
    assert title == "drained battery"
    assert keywords == ["phone", "friend", "battery", "back", "phone"]
    assert len(sentences) == 5 and sentences[2] == "he kept draining the battery ."


def _story() -> Story:
    caser = Truecaser.learn(["Tom ran.", "We saw Tom."])
    _, keywords, sentences = parse_plan_write_line(LINE)
    return Story(caser.restore_story(detokenize(s) for s in sentences), tuple(keywords), "t", "test")


def test_story_examples_carry_keywords_context_and_facts():
    story = _story()
    assert story.sentences[0] == "Tom let his friend borrow his phone."
    assert story.sentences[4].startswith("I didn't want to say no, so Tom")
    facts = [Fact("RelatedTo", "battery", "power", "A battery stores power.", 1.0, "test"),
             Fact("IsA", "battery", "cell", "A battery is a kind of cell.", 1.0, "test")]
    config = DataConfig(no_facts_share=0.0, keyword_share=1.0, max_facts=2)
    examples = list(story_examples([story], retriever=FixedRetriever(facts), ranker=NullRanker(),
                                   rng=random.Random(0), config=config))
    sentence_ex = [e for e in examples if e.task == "sentence"]
    keyword_ex = [e for e in examples if e.task == "keywords"]
    assert [e.keywords for e in sentence_ex] == [("friend",), ("battery",), ("back",), ("phone",)]
    assert sentence_ex[1].sentences == ("The friend kept using it.",)
    assert sentence_ex[1].target == "He kept draining the battery."
    # Only "battery" retrieves anything here; its facts are the ranker's, at most max_facts of them.
    assert 1 <= len(sentence_ex[1].facts) <= 2 and set(sentence_ex[1].facts) <= {f.sentence for f in facts}
    assert [e.facts for e in sentence_ex if e is not sentence_ex[1]] == [(), (), ()]
    assert [e.target for e in keyword_ex] == ["friend", "battery", "back", "phone"]


def test_a_storyline_keyword_the_sentence_does_not_use_is_replaced_by_one_it_does():
    story = Story(("Ann wanted cookies.", "She burned the chocolate cookies badly.", "Her dog barked."),
                  ("cookies", "oven", "bark"), "t", "test")
    replaced = sentence_keywords(story, 1)
    assert replaced and replaced != ["oven"] and replaced[0].lower() in story.sentences[1].lower()
    assert sentence_keywords(story, 2) == ["bark"]  # an inflection of a word the sentence uses counts
    bare = Story(story.sentences, (), "t", "test")
    assert sentence_keywords(bare, 1)[0].lower() in story.sentences[1].lower()


def test_choose_facts_drops_all_or_adds_a_gold_sharing_fact():
    ranked = ["A cat is an animal.", "A dog is a pet."]
    retrieved = ranked + ["A battery stores power."]
    target = "The battery died."
    none = choose_facts(target, ranked, retrieved, random.Random(0), DataConfig(no_facts_share=1.0))
    assert none == []
    always = DataConfig(no_facts_share=0.0, gold_fact_share=1.0, max_facts=1)
    picks = [choose_facts(target, ranked, retrieved, random.Random(s), always) for s in range(5)]
    assert all(p == ["A battery stores power."] for p in picks)


def test_encode_masks_the_prompt_and_learns_the_sentence_and_its_end(tiny_model):
    _, tokenizer = tiny_model
    ex = Example("sentence", "Tom had a phone.", (), ("battery",), ("A battery died.",), "The battery died.")
    enc = encode(tokenizer, ex, max_tokens=128)
    target = tokenizer(" The battery died.", add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    learned = [t for t, lab in zip(enc.input_ids, enc.labels, strict=True) if lab != IGNORE]
    assert learned == target
    assert enc.labels[: len(enc.labels) - len(target)] == [IGNORE] * (len(enc.labels) - len(target))
    prompt_text = tokenizer.decode(enc.input_ids[: len(enc.input_ids) - len(target)]).replace("<unk>", " ")
    assert "Keywords: battery" in prompt_text and "A battery died." in prompt_text


def test_encode_weights_the_tokens_that_spell_the_keyword(tiny_model):
    _, tokenizer = tiny_model
    ex = Example("sentence", "Tom had a phone.", (), ("die",), (), "The battery died.")
    plain = encode(tokenizer, ex, max_tokens=128)
    weighted = encode(tokenizer, ex, max_tokens=128, keyword_weight=3.0)
    assert plain.weights is None and weighted.input_ids == plain.input_ids and weighted.labels == plain.labels
    heavy = [tokenizer.decode([t]) for t, w in zip(weighted.input_ids, weighted.weights, strict=True) if w == 3.0]
    assert "".join(heavy).strip() == "died"  # "died" mentions "die"; "The", "battery", "." and the end do not
    prompt = [w for w, lab in zip(weighted.weights, weighted.labels, strict=True) if lab == IGNORE]
    assert prompt and set(prompt) == {0.0}
    keywords_example = Example("keywords", "Tom had a phone.", (), (), (), "battery")
    assert encode(tokenizer, keywords_example, max_tokens=64, keyword_weight=3.0).weights is None


def test_weighted_loss_counts_a_heavy_token_more():
    import torch

    from engine.training.batches import per_example_loss

    logits = torch.zeros(1, 3, 4)  # (B, T, V): uniform, every target token costs log 4
    labels = torch.tensor([[IGNORE, 1, 2]])
    plain = per_example_loss(logits, labels)
    heavy = per_example_loss(logits, labels, torch.tensor([[0.0, 3.0, 1.0]]))
    torch.testing.assert_close(plain, torch.tensor([torch.log(torch.tensor(4.0))]))
    torch.testing.assert_close(heavy, 2 * plain)  # (3 + 1) / 2 target tokens


def test_encode_keyword_task_asks_for_keywords(tiny_model):
    _, tokenizer = tiny_model
    enc = encode(tokenizer, Example("keywords", "Tom had a phone.", (), (), (), "battery"), max_tokens=64)
    text = tokenizer.decode([t for t, lab in zip(enc.input_ids, enc.labels, strict=True) if lab == IGNORE])
    text = text.replace("<unk>", " ")  # the tiny tokenizer has no space token
    assert text.rstrip().endswith("Keywords of the next sentence:")


def test_split_validation_holds_out_whole_stories():
    examples = [Example("sentence", f"premise {i // 4}", (), ("k",), (), f"s{i}") for i in range(40)]
    train, val = split_validation(examples, 0.2, seed=0)
    assert len(val) == 8 and len(train) == 32
    assert not {e.premise for e in val} & {e.premise for e in train}


@pytest.mark.skipif(not plan_write_path("dev").is_file(), reason="Plan-and-Write dev file not found in shared data")
def test_real_plan_write_dev_lines_are_cased_and_keyed():
    from engine.training.text import default_truecaser, read_plan_write

    stories = read_plan_write("dev", truecaser=default_truecaser(), limit=3)
    first = stories[0]
    assert first.sentences[0] == "Oliver was playing in his yard one day."
    assert first.sentences[4] == "He taught Oliver to release the pet so he could be safe."
    assert first.keywords == ("oliver", "spotted", "jar", "hoped", "safe")
    assert stories[1].sentences[3] == "Joey took along a demo CD like many other people there."
