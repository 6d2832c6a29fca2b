"""CNTRL training examples: (story so far, keywords, ranked facts) -> next sentence.

For sentence i of a story the generator example holds the sentences before it, the
sentence's keyword (the Plan-and-Write storyline keyword where the sentence uses it, else
RAKE), knowledge
retrieved for it and ranked against the story as the product would, and sentence i as
the only target. Facts that share a content lemma with the gold sentence are put in
often, so the generator learns to use knowledge; sometimes every fact is dropped, so it
learns to write without. A keyword example (story so far -> keyword of the next
sentence) trains the predictor in the same adapter. Prompts come from
`engine.prompts` in the "cntrl" style, so training and the product read the same ids.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from engine.keywords import extract_keywords
from engine.knowledge.lemmas import content_lemmas
from engine.prompts import build_keyword_prompt, build_prompt, parse_storyline, storyline_text
from engine.training.text import Story
from engine.types import StoryContext

IGNORE = -100  # label of a prompt token: no loss


@dataclass(frozen=True)
class DataConfig:
    """How examples are drawn from stories."""

    max_facts: int = 5  # facts shown at most (the ranker's top ones; the product shows 5)
    no_facts_share: float = 0.2  # examples with every fact dropped
    gold_fact_share: float = 0.7  # when a retrieved fact shares a lemma with the target, put it in this often
    keyword_share: float = 0.25  # keyword-prediction examples per generator example
    retrieve_limit: int = 30  # facts ranked per example
    max_tokens: int = 192  # prompt + target, longer examples are clipped from the story's middle
    seed: int = 0

    @classmethod
    def from_name(cls, name: str) -> DataConfig:
        presets = {"default": {}, "tiny": {"max_facts": 2, "retrieve_limit": 10, "max_tokens": 96}}
        if name not in presets:
            raise ValueError(f"unknown data preset {name!r}; choose from {', '.join(presets)}")
        return cls(**presets[name])


@dataclass(frozen=True)
class Example:
    """One training example as text; `task` is "sentence" or "keywords"."""

    task: str  # "sentence", "keywords" or "storyline"
    premise: str
    sentences: tuple[str, ...]
    keywords: tuple[str, ...]
    facts: tuple[str, ...]
    target: str
    story: int = -1  # index of the story the example was drawn from (packing groups by it)

    @property
    def context(self) -> StoryContext:
        return StoryContext(self.premise, self.sentences)

    @property
    def storyline_length(self) -> int:
        """Sentences a storyline example plans (0 for the other tasks)."""
        return len(parse_storyline(self.target)) if self.task == "storyline" else 0

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str) -> Example:
        raw = json.loads(line)
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})


@dataclass(frozen=True)
class Encoded:
    """Token ids of one example; labels are IGNORE on prompt tokens.

    `weights` (one per token, or None for all 1.0) scales each target token's loss: the
    tokens that spell a keyword can count more, so the generator learns to carry its
    keywords without decoding-time guidance.
    """

    input_ids: list[int]
    labels: list[int]
    weights: list[float] | None = None
    segments: list[int] | None = None  # packed stories: 0 for the story, k for the k-th branch
    limits: list[int] | None = None  # packed stories: how many story tokens each token may see
    positions: list[int] | None = None  # packed stories: position ids (a branch continues from its cut)


def sentence_keywords(story: Story, index: int, most: int = 2) -> list[str]:
    """The keywords sentence `index` is trained to carry: ones the sentence itself uses.

    Stories of the training file carry several storyline phrases per sentence: the first
    `most` that the sentence mentions are kept. The single Plan-and-Write storyline keyword
    is kept when the sentence mentions it (or an inflection of it); about three in ten do
    not (the storyline was extracted before the text was edited), and a generator trained
    on those learns that a keyword is optional. Those sentences, and stories without a
    storyline, get RAKE's best word of the sentence.
    """
    from engine.inflect import mentions

    sentence = story.sentences[index]
    if story.phrases and index < len(story.phrases):
        used = [p for p in story.phrases[index] if mentions(sentence, p)]
        if used:
            return used[:most]
    if story.keywords and index < len(story.keywords) and mentions(sentence, story.keywords[index]):
        return [story.keywords[index]]
    return extract_keywords(sentence, top_k=1, single_words=True) or []


def choose_facts(target: str, ranked: list[str], retrieved: list[str], rng: random.Random, config: DataConfig) -> list[str]:
    """The facts shown for one example: the ranker's best, plus a gold-sharing one often, or none."""
    if rng.random() < config.no_facts_share:
        return []
    gold = content_lemmas(target)
    sharing = [f for f in retrieved if content_lemmas(f) & gold]
    k = rng.randint(1, config.max_facts)
    shown = ranked[:k]
    if sharing and rng.random() < config.gold_fact_share and not any(f in sharing for f in shown):
        shown = shown[: k - 1] + [rng.choice(sharing[:5])]
        rng.shuffle(shown)
    return shown


def rank_pairs(ranker, pairs: list[tuple[str, list]], top_n: int) -> list[list[str]]:
    """Ranked fact sentences for each (context, facts) pair, batched when the ranker can."""
    many = getattr(ranker, "rank_many", None)
    ranked = many(pairs, top_n=top_n) if many else [ranker.rank(c, f, top_n=top_n) if f else [] for c, f in pairs]
    return [[s.fact.sentence for s in r] for r in ranked]


def story_examples(stories: list[Story], *, retriever, ranker, rng: random.Random, config: DataConfig,
                   first: int = 0, found_cache: dict | None = None) -> Iterator[Example]:
    """Generator examples for sentences 2..5 of each story (and keyword examples for some).

    Retrieval results are kept in `found_cache` by keywords (the same keywords recur across
    stories), and the ranker scores every slot of the chunk in one batch.
    """
    cache = {} if found_cache is None else found_cache
    slots = []  # (story number, story, sentence index, keywords, retrieved facts)
    for number, story in enumerate(stories, start=first):
        for i in range(1, len(story.sentences)):
            keywords = sentence_keywords(story, i)
            if keywords:
                key = tuple(keywords)
                if key not in cache:
                    cache[key] = retriever.retrieve(keywords, limit=config.retrieve_limit)
                slots.append((number, story, i, keywords, cache[key]))
    pairs = [(" ".join(story.sentences[:i]), found) for _, story, i, _, found in slots]
    for (number, story, i, keywords, found), ranked in zip(slots, rank_pairs(ranker, pairs, config.max_facts), strict=True):
        premise, before, target = story.sentences[0], tuple(story.sentences[1:i]), story.sentences[i]
        facts = choose_facts(target, ranked, [f.sentence for f in found], rng, config)
        yield Example("sentence", premise, before, tuple(keywords), tuple(facts), target, number)
        if rng.random() < config.keyword_share:
            yield Example("keywords", premise, before, (), (), ", ".join(keywords), number)


def build_examples(stories: Iterable[Story], *, retriever, ranker, config: DataConfig, progress=None, chunk: int = 256) -> list[Example]:
    """Every example of `stories`, in story order, reproducible from `config.seed`."""
    rng = random.Random(config.seed)
    examples: list[Example] = []
    stories = list(stories)
    found_cache: dict = {}
    for start in range(0, len(stories), chunk):
        part = stories[start : start + chunk]
        examples.extend(story_examples(part, retriever=retriever, ranker=ranker, rng=rng, config=config,
                                       first=start, found_cache=found_cache))
        if progress is not None:
            progress.update(len(part))
    return examples


def keyword_token_flags(tokenizer, ids: list[int], keywords: tuple[str, ...]) -> list[bool]:
    """For each token of `ids`: does it spell (part of) a word that mentions one of `keywords`?

    Character spans come from decoding growing prefixes, so any tokenizer works.
    """
    from engine.inflect import mentions

    text = tokenizer.decode(ids)
    spans = [m.span() for m in re.finditer(r"[^\W\d_]+", text) if any(mentions(m.group(), k) for k in keywords)]
    flags, start = [], 0
    for i in range(len(ids)):
        end = len(tokenizer.decode(ids[: i + 1]))
        flags.append(any(a < end and start < b for a, b in spans))
        start = end
    return flags


def target_ids(tokenizer, example: Example, keyword_weight: float = 1.0) -> tuple[list[int], list[float] | None]:
    """The target's ids with end of text (learned: the sentence stops), and each one's loss
    weight: `keyword_weight` on the tokens that spell a sentence example's keywords (None when
    every weight is 1)."""
    target = list(tokenizer(" " + example.target.strip(), add_special_tokens=False)["input_ids"])
    weights = None
    if keyword_weight != 1.0 and example.task == "sentence" and example.keywords:
        flags = keyword_token_flags(tokenizer, target, example.keywords)
        weights = [keyword_weight if f else 1.0 for f in flags] + [1.0]  # + end of text
    return target + [tokenizer.eos_token_id], weights


def example_prompt(tokenizer, example: Example, budget: int):
    """The product's prompt for the example's task (engine.prompts owns the format)."""
    if example.task in ("keywords", "storyline"):
        return build_keyword_prompt(tokenizer, context=example.context, max_prompt_tokens=budget,
                                    storyline=example.storyline_length)
    return build_prompt(tokenizer, context=example.context, keywords=list(example.keywords),
                        facts=list(example.facts), max_prompt_tokens=budget, style="cntrl")


def encode(tokenizer, example: Example, *, max_tokens: int, keyword_weight: float = 1.0) -> Encoded:
    """Prompt ids (masked) + target ids (learned) + end of text (learned: the sentence stops).

    With `keyword_weight` != 1 the target tokens that spell the example's keyword carry
    that loss weight (sentence examples only).
    """
    target, weights = target_ids(tokenizer, example, keyword_weight)
    ids = example_prompt(tokenizer, example, max(8, max_tokens - len(target))).ids
    return Encoded(ids + target, [IGNORE] * len(ids) + target, None if weights is None else [0.0] * len(ids) + weights)


def storyline_examples(examples: list[Example], *, share: float = 0.5, seed: int = 0) -> list[Example]:
    """Storyline examples: from the premise (and, for some, after sentence 2) to the keywords
    of every later sentence, taken from the stories' sentence examples.

    Every story with all its later sentences planned gives one from the premise; `share`
    of them also give one re-planned from after sentence 2.
    """
    from itertools import groupby

    rng = random.Random(seed)
    out = []
    for _, group in groupby(examples, key=lambda e: (e.story, e.premise)):
        slots = [e for e in group if e.task == "sentence"]
        if len(slots) < 2 or [len(e.sentences) for e in slots] != list(range(len(slots))):
            continue
        starts = [0] + ([1] if len(slots) > 2 and rng.random() < share else [])
        for start in starts:
            plan = storyline_text([list(e.keywords) for e in slots[start:]])
            out.append(Example("storyline", slots[start].premise, slots[start].sentences, (), (), plan, slots[start].story))
    return out


def with_storylines(examples: list[Example], storylines: list[Example]) -> list[Example]:
    """`examples` with each story's storyline examples placed after its own (story order kept)."""
    by_story: dict[tuple[int, str], list[Example]] = {}
    for e in storylines:
        by_story.setdefault((e.story, e.premise), []).append(e)
    out, last = [], None
    for e in examples:
        key = (e.story, e.premise)
        if last is not None and key != last:
            out.extend(by_story.pop(last, []))
        out.append(e)
        last = key
    if last is not None:
        out.extend(by_story.pop(last, []))
    return out


def write_examples(path: Path, examples: list[Example]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(e.to_json() + "\n" for e in examples), encoding="utf-8")


def read_examples(path: Path) -> list[Example]:
    return [Example.from_json(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def split_validation(examples: list[Example], share: float, seed: int) -> tuple[list[Example], list[Example]]:
    """A held-out validation slice of whole stories' examples (by premise), the rest for training."""
    premises = sorted({e.premise for e in examples})
    rng = random.Random(seed)
    rng.shuffle(premises)
    held = set(premises[: max(1, int(len(premises) * share))]) if share > 0 else set()
    return [e for e in examples if e.premise not in held], [e for e in examples if e.premise in held]
