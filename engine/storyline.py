"""Storyline: the keywords of the next K sentences at once, planned before writing.

Plan-and-Write (Yao et al., AAAI 2019) calls planning the whole storyline before writing the
"static" schema, beside the "dynamic" one that plans one sentence at a time. A storyline is K
slots, one per sentence, each holding that sentence's keywords.

Three ways to plan, chosen by what the loaded model knows:

- `storyline`: an adapter whose manifest lists the "storyline" task answers the storyline prompt
  (`build_keyword_prompt(..., storyline=K)`) in one decode; slots it leaves empty are filled by
  the chain below.
- `chain` (the fallback on any model): the per-sentence predictor K times, each time on the story
  extended with the earlier slots as placeholder sentences (their keywords).
- `rake-spread`: the premise's RAKE keywords, one per slot; slots past them stay empty (they are
  predicted at write time). No model.

Re-planning keeps the sentences written and the slots before a given point, and plans the rest.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from engine.adapters import adapter_knows
from engine.generator import BaseGenerator, collect, resolve_seed
from engine.keyword_predictor import KeywordPredictor, parse_keywords
from engine.keywords import KEYWORDS_PER_SENTENCE, clean_keywords, extract_keywords
from engine.prompts import build_keyword_prompt, parse_storyline
from engine.types import SamplingParams, StoryContext

DEFAULT_SLOTS = 4
MAX_SLOTS = 12  # slots planned at once; a longer story is planned again from a later point
TOKENS_PER_SLOT = 8  # a slot's keywords and the separator, as the answer's budget
STORYLINE_TASK = "storyline"
PARAMS = SamplingParams(temperature=0.7, top_p=0.9, top_k=40, max_new_tokens=TOKENS_PER_SLOT * DEFAULT_SLOTS,
                        keyword_strength=0.0, n_candidates=1, alternatives=0)

Slots = list[list[str]]


@dataclass(frozen=True)
class Storyline:
    """A plan: `slots[i]` are the keywords of sentence `start + i + 1` (1 = first after the premise).

    `source` says how the slots after the kept ones were planned ("storyline", "chain",
    "rake-spread", "writer"); `notes` say what was clipped, refused or left for write time.
    """

    slots: Slots
    source: str
    seed: int
    raw: str = ""
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"slots": [list(s) for s in self.slots], "source": self.source, "seed": self.seed,
                "notes": list(self.notes)}


def check_slots(count: int, context_window: int | None = None) -> int:
    """`count` when it is a number of slots the planner takes; else ValueError saying the limit."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"plan 1 to {MAX_SLOTS} sentences at a time, not {count!r}")
    fits = MAX_SLOTS if context_window is None else min(MAX_SLOTS, context_window // (2 * TOKENS_PER_SLOT))
    if count > fits:
        raise ValueError(f"{count} slots are more than the storyline prompt fits: plan at most {fits} sentences "
                         f"at a time (the answer needs about {TOKENS_PER_SLOT} tokens a slot), then re-plan "
                         "from a later sentence")
    return count


def clean_slots(slots: Sequence[Sequence[str] | str], story: str = "") -> tuple[Slots, list[str]]:
    """Each slot's valid keywords (`clean_keywords`), and a note per slot that lost some or is in
    another script than the story (kept, but the model may not manage to write it)."""
    out: Slots = []
    notes: list[str] = []
    story_scripts = scripts(story) or {"LATIN"}
    for i, slot in enumerate(slots, start=1):
        kept, dropped = clean_keywords(list(slot) if not isinstance(slot, str) else slot, limit=KEYWORDS_PER_SENTENCE)
        if dropped:
            notes.append(f"slot {i}: {', '.join(repr(d) for d in dropped)} dropped (stop words, punctuation, "
                         f"repeats or past {KEYWORDS_PER_SENTENCE} keywords)")
        foreign = [k for k in kept if scripts(k) - story_scripts]
        if foreign:
            notes.append(f"slot {i}: {', '.join(foreign)} in another script than the story "
                         f"({'/'.join(sorted(story_scripts)).lower()}); kept, but the model may not write it")
        out.append(kept)
    return out, notes


def scripts(text: str) -> set[str]:
    """The scripts of the letters in `text` (LATIN, CYRILLIC, CJK, ...), by their Unicode names."""
    return {unicodedata.name(ch, "UNKNOWN").split()[0] for ch in text if ch.isalpha()}


def placeholder(slot: Sequence[str]) -> str:
    """A planned sentence not written yet, as the chain shows it to the per-sentence predictor."""
    return (", ".join(slot) or "...") + "."


def rake_spread(premise: str, count: int) -> Slots:
    """The premise's single-word RAKE keywords, one per slot in order; the rest empty."""
    words = extract_keywords(premise, top_k=count, single_words=True)
    return [[words[i]] if i < len(words) else [] for i in range(count)]


class StorylinePredictor:
    """Plans the keywords of the next K sentences with the generator's model (or RAKE)."""

    def __init__(self, generator: BaseGenerator | None, keywords: Callable | None = None, *,
                 method: str = "auto", params: SamplingParams = PARAMS):
        self.generator = generator
        self.keywords = keywords or (KeywordPredictor(generator) if generator is not None else None)
        self.method = method
        self.params = params

    def chosen_method(self) -> str:
        """"storyline" when the adapter learned the task, else "chain" ("rake-spread" without a model)."""
        if self.method != "auto":
            return self.method
        if self.generator is None or self.keywords is None:
            return "rake-spread"
        adapter = getattr(self.generator, "adapter", None)
        return STORYLINE_TASK if adapter and adapter_knows(adapter, STORYLINE_TASK) else "chain"

    def predict(self, context: StoryContext, count: int = DEFAULT_SLOTS, *, kept: Sequence[Sequence[str]] = (),
                seed: int | None = None) -> Storyline:
        """Slots for the `count` sentences after `context`'s sentences.

        Args:
            context: premise (and title) and the sentences written so far.
            count: slots to return, `kept` included (1 to MAX_SLOTS).
            kept: the first slots, kept as they are (re-plan from a later point).
            seed: fixes the draw; the Storyline records the seed used.
        """
        window = getattr(self.generator, "context_window", None)
        check_slots(count, window)
        seed = resolve_seed(seed)
        context = context.validated()
        start, notes = [list(s) for s in kept][:count], []
        method = self.chosen_method()
        todo = count - len(start)
        if method == "rake-spread":
            planned, raw = rake_spread(context.text(), count)[len(start):], ""
        else:
            planned, raw = self._storyline(context, start, todo, seed) if method == STORYLINE_TASK and todo else ([], "")
            planned = self._chain(context, start, planned, todo, seed)
        if any(not s for s in planned):
            notes.append("empty slots are predicted when their sentence is written")
        return Storyline(start + planned, method if todo else "writer", seed, raw, notes)

    def _storyline(self, context: StoryContext, kept: Slots, todo: int, seed: int) -> tuple[Slots, str]:
        """The adapter's answer to the storyline prompt, parsed into `todo` slots (missing ones empty)."""
        gen = self.generator
        params = replace(self.params, max_new_tokens=TOKENS_PER_SLOT * todo)
        shown = replace(context, sentences=(*context.sentences, *map(placeholder, kept)))
        prompt = build_keyword_prompt(gen.tokenizer, context=shown, storyline=todo,
                                      max_prompt_tokens=gen.context_window - params.max_new_tokens - 1)
        result = collect(gen.decode(prompt, params=params, keywords=[], seed=seed, cache_name="keywords", min_words=1))
        raw = result.candidates[0] if result.candidates else ""
        slots = [parse_keywords(", ".join(part), story=context.text()) for part in parse_storyline(raw)][:todo]
        return slots + [[] for _ in range(todo - len(slots))], raw

    def _chain(self, context: StoryContext, kept: Slots, planned: Slots, todo: int, seed: int) -> Slots:
        """`planned` with its empty or missing slots filled by the per-sentence predictor, slot by slot."""
        out = list(planned) + [[] for _ in range(todo - len(planned))]
        for i in range(todo):
            if out[i]:
                continue
            shown = replace(context, sentences=(*context.sentences, *map(placeholder, kept + out[:i])))
            out[i] = list(self.keywords.predict(shown, seed=seed + i).keywords)
        return out


def replan(predictor: StorylinePredictor, context: StoryContext, slots: Sequence[Sequence[str]], *,
           keep: int, count: int | None = None, seed: int | None = None) -> Storyline:
    """Keep the first `keep` slots of a plan (and every sentence written) and plan the rest again,
    to `count` slots in all (default: as many as the plan has)."""
    count = len(slots) if count is None else count
    if not 0 <= keep <= count:
        raise ValueError(f"re-plan from a slot between 1 and {count + 1}, not {keep + 1}")
    return predictor.predict(context, count, kept=list(slots)[:keep], seed=seed)


def storyline_predictor(generator: BaseGenerator | None, keywords: object = None) -> StorylinePredictor:
    """The planner for a pipeline: its model and per-sentence predictor, or RAKE when that predicts
    without a model (the `rake` predictor)."""
    if generator is None or not isinstance(keywords, KeywordPredictor):
        return StorylinePredictor(None, method="rake-spread")
    return StorylinePredictor(generator, keywords)
