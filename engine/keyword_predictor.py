"""Next-sentence keyword predictor: a few-shot prompt to the loaded model.

The examples in `assets/keyword_examples.json` were written for this product. The
model's answer is parsed and validated (content words only, at most three); when it
yields nothing usable, the RAKE keywords of the latest sentence are used instead, so
the predictor always returns at least one valid keyword.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache

from engine.generator import Generator, collect, resolve_seed
from engine.inflect import inflections, mentions
from engine.keywords import KEYWORDS_PER_SENTENCE, clean_keywords, extract_keywords
from engine.paths import asset
from engine.prompts import PromptIds, build_keyword_prompt, fit_story
from engine.types import SamplingParams, StoryContext

_MARK = "\u2063CNTRL_STORY\u2063"
# Three answers are drawn in one batch, so one that does not repeat the latest sentence can be chosen.
DEFAULT_PARAMS = SamplingParams(temperature=0.7, top_p=0.9, top_k=40, max_new_tokens=12, keyword_strength=0.0,
                                n_candidates=3)


@lru_cache(maxsize=1)
def keyword_examples() -> dict:
    return json.loads(asset("keyword_examples.json").read_text(encoding="utf-8"))


@dataclass(frozen=True)
class KeywordPrediction:
    keywords: list[str]
    raw: str
    source: str  # "model" or "rake-fallback"
    seed: int


def parse_keywords(raw: str, story: str = "", limit: int = KEYWORDS_PER_SENTENCE) -> list[str]:
    """Valid keywords from the model's answer ("a, b and c" -> [a, b, c]).

    Words are lower-cased unless the story spells them capitalised (names); a keyword
    contained in a longer one ("phone" in "phone battery", "borrow" in "borrowed phone") or
    repeating an earlier one in another form ("borrow", "borrowed") is dropped.
    """
    text = raw.split("\n", 1)[0]
    text = re.sub(r"^\s*(keywords?|words?)\s*:\s*", "", text, flags=re.IGNORECASE)
    parts = [p.strip(" .!?\"'") for p in re.split(r",|;|\band\b|/", text)]
    lower = set(re.findall(r"\b[a-z]+\b", story))
    names = {w for w in re.findall(r"\b[A-Z][a-z]+\b", story) if w.lower() not in lower}
    parts = [" ".join(w if w in names else w.lower() for w in p.split()) for p in parts]
    kept = clean_keywords(parts, limit=2 * limit)[0]
    unique: list[str] = []
    for k in kept:
        longer = any(len(o.split()) > len(k.split()) and _covered(k, o) for o in kept)
        if not longer and not any(_covered(k, o) for o in unique):
            unique.append(k)
    return unique[:limit]


def choose_fresh(answers: list[str], context: StoryContext) -> tuple[str, list[str]]:
    """The first answer with a keyword the latest sentence does not already use, else the first usable one.

    A keyword taken from the sentence just written makes the next sentence say it again.
    """
    latest = context.sentences[-1] if context.sentences else context.premise
    usable = [(raw, kws) for raw in answers if (kws := parse_keywords(raw, story=context.text()))]
    for raw, kws in usable:
        if not all(mentions(latest, k) for k in kws):
            return raw, kws
    return usable[0] if usable else (answers[0] if answers else "", [])


def _covered(keyword: str, other: str) -> bool:
    """Every word of `keyword` is a word of `other` or an inflection of one."""
    words = other.lower().split()
    return all(any(w == x or w in inflections(x) for x in words) for w in keyword.lower().split())


class KeywordPredictor:
    """Predicts 1-3 control keywords for the next sentence with the generator's model."""

    def __init__(self, generator: Generator, params: SamplingParams = DEFAULT_PARAMS):
        self.generator = generator
        self.params = params

    def prompt(self, context: StoryContext) -> PromptIds:
        tok = self.generator.tokenizer
        if self.generator.prompt_style == "cntrl":  # the trained adapter learned this task
            budget = self.generator.context_window - self.params.max_new_tokens - 1
            return build_keyword_prompt(tok, context=context, max_prompt_tokens=budget)
        spec = keyword_examples()
        messages = [{"role": "system", "content": spec["system"]}]
        for ex in spec["examples"]:
            messages += [{"role": "user", "content": ex["story"]}, {"role": "assistant", "content": ex["keywords"]}]
        messages.append({"role": "user", "content": _MARK})
        if getattr(tok, "chat_template", None) is not None:
            text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        else:
            text = "\n\n".join(f"Story: {e['story']}\nKeywords: {e['keywords']}" for e in spec["examples"])
            text += f"\n\nStory: {_MARK}\nKeywords:"
        head, tail = text.split(_MARK)
        enc = lambda s: list(tok(s, add_special_tokens=False)["input_ids"]) if s else []  # noqa: E731
        pieces = [enc(context.premise.strip())] + [enc(" " + s.strip()) for s in context.sentences]
        budget = self.generator.context_window - self.params.max_new_tokens - len(enc(head)) - len(enc(tail)) - 1
        story, notes = fit_story(pieces, budget, ellipsis=enc(" ..."))
        return PromptIds(prefix=enc(head) + story, suffix=enc(tail), notes=notes)

    def predict(self, context: StoryContext, seed: int | None = None) -> KeywordPrediction:
        """Keywords for the sentence after `context`; deterministic for a given seed."""
        seed = resolve_seed(seed)
        result = collect(self.generator.decode(
            self.prompt(context), params=self.params, keywords=[], seed=seed, cache_name="keywords", min_words=1
        ))
        raw, keywords = choose_fresh(result.candidates, context)
        if keywords:
            return KeywordPrediction(keywords, raw, "model", seed)
        last = context.sentences[-1] if context.sentences else context.premise
        fallback = extract_keywords(last, top_k=1, single_words=True) or ["day"]
        return KeywordPrediction(fallback, raw, "rake-fallback", seed)
