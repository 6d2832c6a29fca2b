"""The systems the harness compares, each a Pipeline configuration over shared stages.

- `plain`: the base model continues the story text; no keywords, no knowledge.
- `prompted`: the product's pipeline on the base model with the chat prompt.
- `trained`: the pipeline with the trained adapter (the "cntrl" prompt it learned).
- ablations: `-no-knowledge`, `-unguided` (keyword guidance off), `-rake` (RAKE predictor).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from engine.generator import Generator, collect
from engine.knowledge.base import NullRanker, NullRetriever
from engine.pipeline import Pipeline
from engine.prompts import PromptIds, build_prompt, story_pieces
from engine.types import SamplingParams, StoryContext


@dataclass(frozen=True)
class SystemSpec:
    name: str
    trained: bool = False  # the adapter's model and prompt
    plain: bool = False  # continue the text; no keywords, no knowledge
    knowledge: bool = True
    guided: bool = True  # keyword-guided decoding in story writing
    predictor: str = "model"


BASE_SYSTEMS = ("plain", "prompted", "trained")
ABLATIONS = ("prompted-no-knowledge", "trained-no-knowledge", "trained-unguided", "trained-rake", "prompted-rake")


def system_spec(name: str) -> SystemSpec:
    """The spec a system name stands for (a base name plus optional ablation suffixes)."""
    if name == "plain":
        return SystemSpec("plain", plain=True, knowledge=False)
    base, _, rest = name.partition("-")
    if base not in ("prompted", "trained"):
        raise ValueError(f"unknown system {name!r}; choose from {', '.join(BASE_SYSTEMS + ABLATIONS)}")
    spec = SystemSpec(name, trained=base == "trained")
    for part in filter(None, rest.replace("no-knowledge", "noknowledge").split("-")):
        if part == "noknowledge":
            spec = replace(spec, knowledge=False)
        elif part == "unguided":
            spec = replace(spec, guided=False)
        elif part == "rake":
            spec = replace(spec, predictor="rake")
        else:
            raise ValueError(f"unknown ablation {part!r} in system {name!r}")
    return spec


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
        budget = gen.context_window - 64
        if self.spec.plain:
            return plain_prompt(gen.tokenizer, context, budget), " "
        prompt = build_prompt(gen.tokenizer, context=context, keywords=keywords, facts=facts if self.spec.knowledge else [],
                              max_prompt_tokens=budget, style=gen.prompt_style)
        return prompt, "" if gen.prompt_style == "chat" else " "

    def write(self, context: StoryContext, keywords: list[str] | None, params: SamplingParams):
        """One sentence and the facts it was given: (sentence, facts, keywords)."""
        if self.spec.plain:
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

    loaded = trained if spec.trained else base
    if loaded is None:
        raise ValueError(f"system {spec.name!r} needs the trained adapter, and none is loaded")
    generator = writer or generator_from_model(loaded)
    pipeline = Pipeline(
        generator=generator, predictor=make_predictor(spec.predictor, generator),
        retriever=retriever if spec.knowledge else NullRetriever(),
        ranker=ranker if spec.knowledge else NullRanker(),
        knowledge_note="harness" if spec.knowledge else "knowledge turned off",
    )
    return System(spec, pipeline, scoring_model=loaded.model)
