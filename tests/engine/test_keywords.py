"""RAKE extraction, keyword validation, inflections, and agreement with Plan-and-Write's gold keywords."""

from __future__ import annotations

import re

import pytest

from engine.inflect import inflections, mentions
from engine.keywords import clean_keywords, extract_keywords, is_content_word, rake, stop_words
from engine.paths import shared_file

PLAN_WRITE_DEV = shared_file("rocstories", "plan_and_write", "ROCStories_all_merge_tokenize.titlesepkeysepstory.dev")


def test_stop_list_is_loaded_from_assets():
    words = stop_words()
    assert {"the", "and", "was", "his"} <= words
    assert "battery" not in words


def test_rake_prefers_multiword_content_phrases():
    ranked = rake("Suddenly he spotted a very cool beetle and caught it.")
    assert ranked[0].phrase == "cool beetle"
    assert ranked[0].score > ranked[-1].score
    assert all(not set(k.phrase.split()) & stop_words() for k in ranked)


def test_extract_keywords_single_words():
    # "noon" stands alone between stop words, so it comes before the words of "phone battery".
    assert extract_keywords("His phone battery died at noon.", top_k=3, single_words=True) == ["noon", "phone", "battery"]
    assert extract_keywords("His phone battery died at noon.", top_k=1) == ["phone battery died"]


@pytest.mark.parametrize(
    "raw, kept",
    [
        ("battery, died", ["battery", "died"]),
        (["the", "and", "of"], []),
        (["!!!", "...", "   "], []),
        (["x" * 500, "phone"], ["phone"]),
        ([f"word{i}" for i in range(1000)], []),  # digits are not words
        (["lake"] * 1000, ["lake"]),
        (["🚀 rocket", "Zürich", "café"], ["Zürich", "café"]),  # letters of any script, no emoji
        ("red bike, Battery, battery", ["red bike", "Battery"]),
    ],
)
def test_clean_keywords_keeps_only_valid_content_words(raw, kept):
    got, dropped = clean_keywords(raw)
    assert got == kept
    assert all(is_content_word(w) for k in got for w in k.split() if w.lower() not in stop_words())
    assert len(got) <= 3


def test_inflections_and_mentions():
    assert {"died", "dies", "dying", "die"} <= inflections("died")
    assert mentions("His phone battery was dying fast.", "died")
    assert mentions("The dogs barked at night.", "dog")
    assert mentions("She bought a red bike.", "red bike")
    assert not mentions("A cat slept.", "dog")
    assert mentions("They met at a café in Zürich.", "café")


def _gold_pairs(limit: int) -> list[tuple[str, str]]:
    """(sentence, gold keyword) pairs: Plan-and-Write lists one RAKE keyword per sentence."""
    pairs: list[tuple[str, str]] = []
    for line in PLAN_WRITE_DEV.read_text(encoding="utf-8").splitlines():
        _, _, rest = line.partition("<EOT>")
        keys, _, story = rest.partition("<EOL>")
        sentences = [s.strip() for s in story.split("</s>") if s.strip()]
        keywords = keys.split()
        if len(keywords) == len(sentences) == 5:
            pairs += list(zip(sentences, keywords, strict=True))
        if len(pairs) >= limit:
            break
    return pairs[:limit]


@pytest.mark.skipif(not PLAN_WRITE_DEV.exists(), reason="Plan-and-Write dev file not found in ../shared/data")
def test_rake_agreement_with_plan_and_write_dev(capsys):
    pairs = _gold_pairs(2000)
    top1 = sum(extract_keywords(s, top_k=1, single_words=True) == [g] for s, g in pairs)
    top3 = sum(g in extract_keywords(s, top_k=3, single_words=True) for s, g in pairs)
    with capsys.disabled():
        print(f"\nRAKE vs Plan-and-Write dev gold ({len(pairs)} sentences): top-1 {top1 / len(pairs):.1%}, gold in top-3 {top3 / len(pairs):.1%}")
    # Plan-and-Write's annotation used another stop list and tokeniser, so agreement is partial;
    # the floors sit just under the measured 34.5% / 63.7% and guard against regressions.
    assert top1 / len(pairs) > 0.32
    assert top3 / len(pairs) > 0.60
    assert all(re.match(r"^[a-z'-]+$", g) for _, g in pairs[:50])


@pytest.mark.parametrize(
    "answer, story, expected",
    [
        ("Keywords: phone, phone battery", "", ["phone battery"]),
        ("borrow, borrowed phone", "", ["borrowed phone"]),
        ("borrow, borrowed, lake", "", ["borrow", "lake"]),
        ("Tom, beach and sand.", "Tom went out.", ["Tom", "beach", "sand"]),
        ("the, of, !!!", "", []),
        ("Dog, cat\nsecond line, ignored", "", ["dog", "cat"]),
    ],
)
def test_parse_keywords_from_a_model_answer(answer, story, expected):
    from engine.keyword_predictor import parse_keywords

    assert parse_keywords(answer, story) == expected


def test_keyword_answer_that_repeats_the_latest_sentence_is_passed_over():
    from engine.keyword_predictor import choose_fresh
    from engine.types import StoryContext

    context = StoryContext("Jen had an exam.", ("She went to study all night.",))
    assert choose_fresh(["studying", "tired", "grade"], context) == ("tired", ["tired"])
    assert choose_fresh(["study", "studied"], context) == ("study", ["study"])  # nothing fresh: the first usable
    assert choose_fresh(["", "!!"], context) == ("", [])
