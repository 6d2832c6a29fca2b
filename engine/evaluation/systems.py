"""The systems the harness compares, each a Pipeline configuration over shared stages.

- `plain`: the base model continues the story text; no keywords, no knowledge.
- `prompted`: the product's pipeline on the base model with the chat prompt.
- `trained`: the pipeline with the trained adapter (the "cntrl" prompt it learned).
- ablations: `-no-knowledge`, `-unguided` (keyword guidance off), `-rake` (RAKE predictor).

This is the one vocabulary of systems: human studies name theirs by the names stored in their
database (`STUDY_SYSTEMS`: `full`, `no_knowledge`, `plain`, `antonym`, `model`), each mapped here to
a spec, so a study's `plain` (the pipeline without keywords) and the harness's `plain` (a raw-text
prompt) are two specs with two names, not one word for two things.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from engine.knowledge.base import NullRanker, NullRetriever
from engine.prompts import PromptIds, build_prompt, story_pieces
from engine.types import SamplingParams, StoryContext

if TYPE_CHECKING:  # the generator and pipeline import torch; the vocabulary of systems does not
    from engine.generator import Generator
    from engine.pipeline import Pipeline


@dataclass(frozen=True)
class SystemSpec:
    name: str
    trained: bool = False  # the adapter's model and prompt
    plain: bool = False  # continue the text; no keywords, no knowledge
    knowledge: bool = True
    guided: bool = True  # keyword-guided decoding in story writing
    predictor: str = "model"
    static: bool = False  # plan the storyline first, then write to it
    keywords: str = "predicted"  # how keywords are chosen: predicted, none, antonym (of the predicted ones)
    model: str = "main"  # which model writes: the one the run is given ("main") or the second one ("other")


BASE_SYSTEMS = ("plain", "prompted", "trained")
ABLATIONS = ("prompted-no-knowledge", "trained-no-knowledge", "trained-unguided", "trained-rake", "prompted-rake")
SCHEMAS = ("trained-static", "prompted-static")  # plan first, then write (beside the dynamic base systems)
# The names human studies store, and the spec each stands for. `full` is the pipeline on the model a
# study is given (with the adapter its load preset brings); `other` the same on the second model.
STUDY_SYSTEMS = {
    "full": "full",
    "no_knowledge": "full-no-knowledge",
    "plain": "full-no-keywords-no-knowledge",
    "antonym": "full-antonym",
    "model": "other",
}


def system_spec(name: str) -> SystemSpec:
    """The spec a system name stands for (a base name plus optional ablation suffixes)."""
    if name == "plain":
        return SystemSpec("plain", plain=True, knowledge=False)
    base, _, rest = name.partition("-")
    if base not in ("prompted", "trained", "full", "other"):
        raise ValueError(f"unknown system {name!r}; choose from {', '.join(BASE_SYSTEMS + ABLATIONS + SCHEMAS)}")
    spec = SystemSpec(name, trained=base == "trained", model="other" if base == "other" else "main")
    for part in filter(None, rest.replace("no-knowledge", "noknowledge").replace("no-keywords", "nokeywords")
                       .split("-")):
        if part == "noknowledge":
            spec = replace(spec, knowledge=False)
        elif part == "nokeywords":
            spec = replace(spec, keywords="none", guided=False)
        elif part == "antonym":
            spec = replace(spec, keywords="antonym")
        elif part == "unguided":
            spec = replace(spec, guided=False)
        elif part == "rake":
            spec = replace(spec, predictor="rake")
        elif part == "static":
            spec = replace(spec, static=True)
        else:
            raise ValueError(f"unknown ablation {part!r} in system {name!r}")
    return spec


def study_spec(name: str) -> SystemSpec:
    """The spec a study's stored system name stands for (`STUDY_SYSTEMS`)."""
    if name not in STUDY_SYSTEMS:
        raise ValueError(f"unknown study system {name!r}; choose from {', '.join(STUDY_SYSTEMS)}")
    return system_spec(STUDY_SYSTEMS[name])


class NoKeywords:
    """A keyword predictor that predicts nothing: the systems whose keywords are "none"."""

    def predict(self, context: object, seed: int | None = None) -> object:
        from engine.generator import resolve_seed
        from engine.keyword_predictor import KeywordPrediction

        return KeywordPrediction([], "", "none", resolve_seed(seed))


def scoring_prompt(gen, context: StoryContext, keywords: list[str], facts: list[str]) -> tuple[PromptIds, str]:
    """The generator's prompt for the next sentence, and how its answer starts ("" or " "): what
    gold perplexity scores the gold sentence after."""
    prompt = build_prompt(gen.tokenizer, context=context, keywords=keywords, facts=facts,
                          max_prompt_tokens=gen.context_window - 64, style=gen.prompt_style)
    return prompt, "" if gen.prompt_style == "chat" else " "


@dataclass
class System:
    """A runnable system: its spec, pipeline and the prompt it scores the gold sentence with."""

    spec: SystemSpec
    pipeline: Pipeline
    scoring_model: object = None  # the torch model that scores gold perplexity (the same weights)

    @property
    def generator(self) -> Generator:
        return self.pipeline.generator

    def prompt(self, context: StoryContext, keywords: list[str], facts: list[str]) -> tuple[PromptIds, str]:
        """The system's own prompt for the next sentence, and how its answer starts ("" or " ")."""
        gen = self.generator
        if self.spec.plain:
            return plain_prompt(gen.tokenizer, context, gen.context_window - 64), " "
        return scoring_prompt(gen, context, keywords, facts if self.spec.knowledge else [])

    def write(self, context: StoryContext, keywords: list[str] | None, params: SamplingParams):
        """One sentence and the facts it was given: (sentence, facts, keywords)."""
        if self.spec.plain:
            from engine.generator import collect

            prompt, _ = self.prompt(context, [], [])
            result = collect(self.generator.decode(prompt, params=replace(params, keyword_strength=0.0), keywords=[],
                                                   seed=params.seed or 0, cache_name="plain"))
            return result.candidates[0], [], []
        step = self.pipeline.next_step(context, keywords=keywords, params=params)
        return step.sentence, [f.fact.sentence for f in step.facts], step.keywords


def plain_prompt(tokenizer, context: StoryContext, budget: int) -> PromptIds:
    """The story text alone; the model continues it."""
    ids = [t for piece in story_pieces(context) for t in tokenizer(piece, add_special_tokens=False)["input_ids"]]
    return PromptIds(prefix=ids[-budget:], suffix=[])


def build_system(spec: SystemSpec, *, base, trained, retriever, ranker, writer=None) -> System:
    """A System over the loaded models (`base`, `trained`: LoadedModel) and shared knowledge stages.

    `writer`, when given, is the generator that writes (another backend on the same weights);
    the loaded torch model still scores the gold sentence's perplexity.
    """
    from engine.build import generator_from_model, make_predictor
    from engine.pipeline import Pipeline

    if spec.model != "main" or spec.keywords == "antonym":
        raise ValueError(f"system {spec.name!r} is a study system (a second model or antonym keywords); "
                         "the harness measures antonym inclusion as a metric of every system instead")
    loaded = trained if spec.trained else base
    if loaded is None:
        raise ValueError(f"system {spec.name!r} needs the trained adapter, and none is loaded")
    generator = writer or generator_from_model(loaded)
    pipeline = Pipeline(
        generator=generator,
        predictor=NoKeywords() if spec.keywords == "none" else make_predictor(spec.predictor, generator),
        retriever=retriever if spec.knowledge else NullRetriever(),
        ranker=ranker if spec.knowledge else NullRanker(),
        knowledge_note="harness" if spec.knowledge else "knowledge turned off",
    )
    return System(spec, pipeline, scoring_model=loaded.model)
