"""Memory and author's note in the generator prompt: where they sit in each style, the note's
depth, clipping with a note when the prompt would overflow, a prefix that still grows by one
sentence at a time (so its KV cache is reused), and the record each Step keeps."""

from __future__ import annotations

import copy

import pytest

from engine.prompts import MEMORY_SHARE, NOTE_SHARE, build_prompt
from engine.types import RECORDED_CHARS, StoryContext

STYLES = ("chat", "plain", "cntrl")
NOTE_OPENING = {"chat": "[Author's note:", "plain": "[Author's note:", "cntrl": "[Note:"}
MEMORY_OPENING = {"chat": "Keep in mind:", "plain": "Keep in mind:", "cntrl": "Memory:"}
CHAT_TEMPLATE = ("{% for m in messages %}<s>{{ m['role'] }}: {{ m['content'] }}</s>{% endfor %}"
                 "{% if add_generation_prompt %}<s>assistant: {% endif %}")
STORY = StoryContext("Tom walked to the store.", ("Mary found a charger.", "It rained.", "The dog ran home."),
                     memory="Tom is a sailor.", authors_note="Keep it calm.")


@pytest.fixture
def tokenizers(tiny_model) -> dict:
    """The tiny tokenizer per style; the chat one with a small chat template."""
    plain = tiny_model[1]
    chat = copy.deepcopy(plain)
    chat.chat_template = CHAT_TEMPLATE
    return {"chat": chat, "plain": plain, "cntrl": plain}


def prompt(tokenizers, style, context, budget=1_000, keywords=("battery",)):
    return build_prompt(tokenizers[style], context=context, keywords=list(keywords), facts=["A dog is an animal."],
                        max_prompt_tokens=budget, style=style)


def text(tokenizers, style, ids) -> str:
    """Decoded ids; the tiny tokenizer spells spaces and new lines as <unk>: read them as a space."""
    return tokenizers[style].decode(ids).replace("<unk>", " ")


@pytest.mark.parametrize("style", STYLES)
def test_memory_opens_the_story_and_the_note_sits_a_sentence_before_its_end(tokenizers, style):
    built = prompt(tokenizers, style, STORY)
    before, after = text(tokenizers, style, built.prefix), text(tokenizers, style, built.suffix)
    assert f"{MEMORY_OPENING[style]} Tom is a sailor." in before
    assert before.index("Tom is a sailor.") < before.index("Tom walked to the store.")
    assert before.rstrip().endswith("It rained.")  # all but the last sentence stay in the prefix
    assert after.lstrip().startswith(f"{NOTE_OPENING[style]} Keep it calm.]")
    assert after.index("Keep it calm.") < after.index("The dog ran home.") < after.index("battery")
    assert built.story_ids == built.prefix + built.story_suffix
    assert text(tokenizers, style, built.story_suffix).strip().endswith("The dog ran home.")
    assert built.notes == []


@pytest.mark.parametrize(("depth", "after_note"), [
    (0, ""), (2, "It rained. The dog ran home."), (3, "Mary found a charger. It rained. The dog ran home."),
    (20, "Mary found a charger. It rained. The dog ran home."),  # never before the premise
])
def test_depth_counts_sentences_from_the_end(tokenizers, depth, after_note):
    built = prompt(tokenizers, "plain", StoryContext(**{**STORY.__dict__, "note_depth": depth}))
    story_after = text(tokenizers, "plain", built.story_suffix)
    assert story_after.split("]", 1)[1].strip() == after_note
    assert text(tokenizers, "plain", built.prefix).strip().startswith("Keep in mind: Tom is a sailor.  Tom walked")


def test_without_a_note_the_whole_story_is_the_prefix_as_before(tokenizers):
    bare = StoryContext(STORY.premise, STORY.sentences)
    for style in STYLES:
        plain, with_memory = prompt(tokenizers, style, bare), prompt(tokenizers, style, StoryContext(
            STORY.premise, STORY.sentences, memory="Tom is a sailor."))
        assert plain.story_suffix == [] and with_memory.story_suffix == []
        assert with_memory.suffix == plain.suffix
        assert text(tokenizers, style, plain.prefix).rstrip().endswith("The dog ran home.")


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("depth", [0, 1, 2])
def test_the_prefix_grows_by_one_sentence_so_its_cache_is_reused(tokenizers, style, depth):
    context = StoryContext("Tom walked to the store.", memory="Tom is a sailor.", authors_note="Keep it calm.",
                           note_depth=depth)
    sentences = ["Mary found a charger.", "It rained.", "The dog ran home.", "He was happy."]
    previous = None
    for written, sentence in enumerate(sentences):
        built = prompt(tokenizers, style, context, keywords=["rain"] if previous is None else ["dog", "home"])
        if previous is not None:  # the same ids, plus the sentence that left the note's window
            assert built.prefix[: len(previous.prefix)] == previous.prefix
            grown = text(tokenizers, style, built.prefix[len(previous.prefix):]).strip()
            assert grown == (sentences[written - depth - 1] if written > depth else "")
        previous, context = built, context.extend(sentence)


@pytest.mark.parametrize("style", STYLES)
def test_a_huge_memory_and_note_are_clipped_to_their_shares_with_notes(tokenizers, style):
    budget = 600
    context = StoryContext("Tom walked to the store.", ("Mary found a charger.",),
                           memory="Tom is a sailor. " + "tom went home . " * 25_000,
                           authors_note="Keep it calm. " + "rain " * 20_000)
    built = prompt(tokenizers, style, context, budget=budget)
    assert len(built.ids) <= budget
    memory_note, note_note = built.notes[:2]
    assert memory_note.startswith("memory clipped to ") and "to fit the prompt" in memory_note
    assert note_note.startswith("author's note clipped to ")
    kept = int(memory_note.split()[3])
    assert 0 < kept < budget // MEMORY_SHARE and int(note_note.split()[4]) < budget // NOTE_SHARE
    before, after = text(tokenizers, style, built.prefix), text(tokenizers, style, built.suffix)
    assert "Tom is a sailor." in before and "..." in before  # memory keeps its start
    assert before.rstrip().endswith("Tom walked to the store.")  # the story itself is whole
    assert "Keep it calm." in after and after.index("]") < after.index("Mary found a charger.")


def test_a_memory_that_fits_is_never_clipped(tokenizers):
    context = StoryContext("Tom walked.", memory="tom went home . " * 10)  # 160 tokens: over a quarter of 400
    built = prompt(tokenizers, "plain", context, budget=400)
    assert len(built.prefix) > 400 // MEMORY_SHARE
    assert built.notes == [] and text(tokenizers, "plain", built.prefix).count("tom went home") == 10


def test_the_context_cleans_memory_and_note_and_records_them():
    long = "x" * (RECORDED_CHARS + 1)
    context = StoryContext("Tom walked.", (), memory=" Tom is\x00 a sailor. ", authors_note=long,
                           note_depth=-3).validated()
    assert (context.memory, context.note_depth) == ("Tom is a sailor.", 0)
    assert context.extend("He ran.").memory == "Tom is a sailor."
    record = context.steering()
    assert record["memory"] == {"text": "Tom is a sailor.", "chars": 16}
    assert record["authors_note"]["chars"] == RECORDED_CHARS + 1 and len(record["authors_note"]["sha256"]) == 64
    assert record["authors_note"]["text"] == "x" * RECORDED_CHARS + "…" and record["note_depth"] == 0
    assert StoryContext("Tom walked.").steering() == {}
    assert len(StoryContext("T", memory="y" * 200_000).validated().memory) == 100_000
