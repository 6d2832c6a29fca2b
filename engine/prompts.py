"""Prompt building for the conditional generator.

The prompt is split in two token runs so the story's KV cache can be reused from
one sentence to the next:

    prefix = [chat frame] memory, premise, sentence 1 ... sentence k-d
    suffix = author's note, sentence k-d+1 ... sentence k,
             [chat frame] knowledge sentences, keyword instruction, [assistant header]

Every piece is tokenised on its own and the ids are concatenated, so the prefix
of sentence k+1 is exactly the prefix of sentence k plus the ids of one sentence:
the memory never moves, and the author's note (d = `note_depth` sentences before the
end) rides in the suffix. Without a note the whole story is in the prefix.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache

from engine.paths import asset
from engine.types import StoryContext

_MARK = "\u2063CNTRL_SPLIT\u2063"


@lru_cache(maxsize=1)
def prompt_templates() -> dict:
    return json.loads(asset("prompts.json").read_text(encoding="utf-8"))


def echo_phrase_ids(tokenizer) -> list[list[int]]:
    """Token ids of phrases that only an echo of the instruction would write, as the model
    would spell them mid-sentence (with a leading space) and at the start."""
    phrases = prompt_templates().get("echo_phrases", [])
    return [_encode(tokenizer, prefix + p) for p in phrases for prefix in ("", " ")]


@dataclass
class PromptIds:
    """Token ids of one generator prompt, in pieces."""

    prefix: list[int]
    suffix: list[int]
    notes: list[str] = field(default_factory=list)
    story_suffix: list[int] = field(default_factory=list)  # the suffix's first ids: author's note, later sentences

    @property
    def ids(self) -> list[int]:
        return self.prefix + self.suffix

    @property
    def story_ids(self) -> list[int]:
        """The prompt's first ids up to the instruction, whose 4-grams a sentence must not copy."""
        return self.prefix + self.story_suffix


def _encode(tokenizer, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"]) if text else []


def _frame(tokenizer, style: dict) -> tuple[str, str, str]:
    """Template text before the story, between story and instruction, and after it."""
    if "messages" in style:
        messages = [
            {"role": m["role"], "content": m["content"].replace("{story}", _MARK).replace("{instruction}", _MARK)}
            for m in style["messages"]
        ]
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    else:
        text = style["template"].replace("{story}", _MARK).replace("{instruction}", _MARK)
    head, middle, tail = text.split(_MARK)
    return head, middle, tail


PROMPT_STYLES = ("auto", "chat", "plain", "cntrl")


def resolve_style(tokenizer, style: str = "auto") -> str:
    """The prompt style to use: `style`, or for "auto" chat/plain by the tokenizer."""
    if style not in PROMPT_STYLES:
        raise ValueError(f"unknown prompt style {style!r}; choose from {', '.join(PROMPT_STYLES)}")
    if style != "auto":
        return style
    return "chat" if getattr(tokenizer, "chat_template", None) is not None else "plain"


def instruction_text(keywords: list[str], facts: list[str], style: dict) -> str:
    """The part after the story: knowledge lines, then the keyword instruction."""
    parts: list[str] = []
    if facts:
        parts.append(style["facts_header"] + "\n" + "\n".join(f"- {f}" for f in facts))
    if keywords:
        parts.append(style["keywords_line"].format(keywords=", ".join(keywords)))
    else:
        parts.append(style["no_keywords_line"])
    return "\n\n".join(parts)


def story_pieces(context: StoryContext) -> list[str]:
    """Story text in pieces: the premise, then one piece per later sentence."""
    pieces = [context.premise.strip()]
    pieces += [" " + s.strip() for s in context.sentences if s.strip()]
    return pieces


def build_prompt(
    tokenizer,
    *,
    context: StoryContext,
    keywords: list[str],
    facts: list[str],
    max_prompt_tokens: int,
    style: str = "auto",
) -> PromptIds:
    """Token ids for the next-sentence prompt, clipped to `max_prompt_tokens`.

    Args:
        tokenizer: a Hugging Face tokenizer.
        context: premise and sentences so far, with the writer's memory and author's note.
        keywords: the control keywords of the next sentence.
        facts: ranked knowledge sentences (best first).
        max_prompt_tokens: the most prompt tokens; memory and note are clipped to their shares
            and the middle of the story is dropped (the premise's start and the latest
            sentences are kept) to fit, each with a note in `PromptIds.notes`.
        style: a style of `assets/prompts.json` ("chat", "plain", "cntrl": the compact
            format the trained adapter learned), or "auto" (chat when the tokenizer has a
            chat template, else plain).
    """
    spec = prompt_templates()[resolve_style(tokenizer, style)]
    head, middle, tail = _frame(tokenizer, spec)
    head_ids = _encode(tokenizer, head)
    middle_ids, tail_ids = _encode(tokenizer, middle), _encode(tokenizer, tail)
    instruction, fact_notes = _encode(tokenizer, instruction_text(keywords, facts, spec)), []
    if len(instruction) > max_prompt_tokens // FACTS_SHARE:  # facts may not fit beside the story: measure it
        story = sum(len(_encode(tokenizer, t)) for t in (context.text(), context.memory, context.authors_note) if t)
        room = max(max_prompt_tokens - len(head_ids) - len(middle_ids) - len(tail_ids) - story,
                   max_prompt_tokens // FACTS_SHARE)  # all of it when it fits
        instruction, fact_notes = fit_instruction(tokenizer, spec, keywords, facts, room)
    suffix = middle_ids + instruction + tail_ids
    budget = max_prompt_tokens - len(head_ids) - len(suffix)
    before, after, notes = fit_steered_story(tokenizer, spec, context, budget, max_prompt_tokens)
    return PromptIds(prefix=head_ids + before, suffix=after + suffix, notes=fact_notes + notes, story_suffix=after)


FACTS_SHARE = 2  # when the prompt overflows, the knowledge and keyword lines keep at most half of it


def fit_instruction(tokenizer, spec: dict, keywords: list[str], facts: list[str], limit: int) -> tuple[list[int], list[str]]:
    """The instruction's ids with the lowest-ranked facts dropped until it fits `limit` tokens.

    Long knowledge (story-bible entries pinned or flagged always) would otherwise leave no room
    for the story itself; the note says how many facts were left out.
    """
    kept = list(facts)
    ids = _encode(tokenizer, instruction_text(keywords, kept, spec))
    while kept and len(ids) > limit:
        kept.pop()
        ids = _encode(tokenizer, instruction_text(keywords, kept, spec))
    dropped = len(facts) - len(kept)
    return ids, [f"knowledge clipped: the last {dropped} of {len(facts)} facts left out to fit the prompt"] if dropped else []


MEMORY_SHARE, NOTE_SHARE = 4, 8  # on overflow, memory keeps 1/4 of the prompt budget, the note 1/8


def fit_steered_story(
    tokenizer, spec: dict, context: StoryContext, budget: int, max_prompt_tokens: int
) -> tuple[list[int], list[int], list[str]]:
    """The story with memory and author's note, as (ids before the note, note and ids after it, notes).

    Memory comes first and the note `context.note_depth` sentences before the end (never before
    the premise). When everything does not fit `budget`, memory and note keep their beginning,
    at most max_prompt_tokens // MEMORY_SHARE and // NOTE_SHARE tokens, and the story its
    premise's start and latest sentences (`fit_story`) in the rest.
    """
    texts = story_pieces(context)
    split = len(texts) - min(max(context.note_depth, 0), len(texts) - 1) if context.authors_note else len(texts)
    if split < len(texts):
        texts[split] = texts[split].lstrip()  # the note's block ends the line
    pieces = [_encode(tokenizer, t) for t in texts]
    ellipsis = _encode(tokenizer, " ...")
    memory = _block(tokenizer, spec["memory_block"], "{memory}", context.memory)
    note = _block(tokenizer, spec["note_block"], "{note}", context.authors_note)
    notes: list[str] = []
    if sum(map(len, [*memory, *note, *pieces])) > budget:
        memory, memory_note = _clip_block(memory, max_prompt_tokens // MEMORY_SHARE, ellipsis, "memory")
        note, note_note = _clip_block(note, max_prompt_tokens // NOTE_SHARE, ellipsis, "author's note")
        notes += memory_note + note_note
    memory_ids, note_ids = [t for p in memory for t in p], [t for p in note for t in p]
    story, story_notes = fit_story(pieces, budget - len(memory_ids) - len(note_ids), ellipsis=ellipsis)
    after = min(sum(map(len, pieces[split:])), len(story))
    before_ids, after_ids = story[: len(story) - after], story[len(story) - after :]
    return memory_ids + before_ids, note_ids + after_ids, notes + story_notes


def _block(tokenizer, template: str, slot: str, text: str) -> list[list[int]]:
    """[ids before the text, the text's ids, ids after it]; [] when there is no text."""
    if not text:
        return []
    start, end = template.split(slot)
    return [_encode(tokenizer, start), _encode(tokenizer, text), _encode(tokenizer, end)]


def _clip_block(block: list[list[int]], limit: int, ellipsis: list[int], name: str) -> tuple[list[list[int]], list[str]]:
    """The block with its text clipped from the end so the whole is at most `limit` tokens."""
    if not block or sum(map(len, block)) <= limit:
        return block, []
    start, text, end = block
    keep = max(limit - len(start) - len(end) - len(ellipsis), 0)
    return [start, text[:keep] + ellipsis, end], [f"{name} clipped to {keep} tokens of {len(text)} to fit the prompt"]


def fit_story(pieces: list[list[int]], budget: int, ellipsis: list[int]) -> tuple[list[int], list[str]]:
    """Drop tokens from the middle of the story so it fits `budget` tokens.

    The start of the premise and the most recent sentences are kept; the cut is
    marked with an ellipsis. Returns the ids and a note when anything was cut.
    """
    flat = [t for p in pieces for t in p]
    if len(flat) <= budget:
        return flat, []
    budget = max(budget, 2 * len(ellipsis) + 2)
    keep_head = min(len(pieces[0]), (budget - len(ellipsis)) // 2)
    keep_tail = budget - len(ellipsis) - keep_head
    clipped = flat[:keep_head] + ellipsis + flat[len(flat) - keep_tail :]
    dropped = len(flat) - keep_head - keep_tail
    return clipped, [f"context clipped: {dropped} story tokens dropped from the middle to fit {budget}"]


def storyline_text(slots: list[list[str]]) -> str:
    """A storyline as the adapter writes it: each sentence's keywords, comma-separated, then the separator."""
    separator = prompt_templates()["cntrl"]["storyline_separator"]
    return separator.join(", ".join(k for k in slot) for slot in slots)


def parse_storyline(text: str) -> list[list[str]]:
    """Slots of keywords from a storyline answer (the inverse of `storyline_text`)."""
    separator = prompt_templates()["cntrl"]["storyline_separator"].strip()
    return [[k.strip() for k in part.split(",") if k.strip()] for part in text.split(separator)]


def build_keyword_prompt(tokenizer, *, context: StoryContext, max_prompt_tokens: int,
                         storyline: int = 0) -> PromptIds:
    """Token ids asking the trained adapter for the next sentence's keywords (cntrl style), or
    with `storyline` = K for the keywords of each of the next K sentences at once.

    The story comes first, as in `build_prompt`, so both prompts share the story's ids. A
    storyline answer lists each sentence's keywords (comma-separated) with
    `storyline_text` between sentences.
    """
    spec = prompt_templates()["cntrl"]
    head, middle, tail = _frame(tokenizer, spec)
    line = spec["storyline_line"].format(n=storyline) if storyline else spec["predict_line"]
    suffix = _encode(tokenizer, middle) + _encode(tokenizer, line) + _encode(tokenizer, tail)
    head_ids = _encode(tokenizer, head)
    story_ids = [_encode(tokenizer, p) for p in story_pieces(context)]
    story, notes = fit_story(story_ids, max_prompt_tokens - len(head_ids) - len(suffix), ellipsis=_encode(tokenizer, " ..."))
    return PromptIds(prefix=head_ids + story, suffix=suffix, notes=notes)
