"""`python -m engine write`: write a story from a premise, sentence by sentence."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.types import SamplingParams, Step, coherence_summary

PRESETS = ("balanced", "precise", "creative", "greedy")


def add_sampling_args(parser: argparse.ArgumentParser) -> None:
    """Sampling flags shared by the CLI and the app."""
    group = parser.add_argument_group("sampling")
    group.add_argument("--preset", default="balanced", choices=PRESETS, help="sampling preset (default: balanced)")
    group.add_argument("--temperature", type=float, help="softmax temperature; 0 = greedy")
    group.add_argument("--top-p", type=float, help="nucleus sampling mass (0-1)")
    group.add_argument("--top-k", type=int, help="sample from the k likeliest tokens (0 = all)")
    group.add_argument("--repetition-penalty", type=float, help="penalty on tokens already used (1 = off)")
    group.add_argument("--max-tokens", type=int, dest="max_new_tokens", help="most tokens per sentence (default 40)")
    group.add_argument("--candidates", type=int, dest="n_candidates", help="candidates per sentence, decoded in one batch (default 1)")
    group.add_argument("--knowledge-top-n", type=int, help="facts kept after ranking (default 5)")
    group.add_argument("--keyword-strength", type=float, help="keyword-guided decoding strength; 0 = off (default 4)")
    group.add_argument("--seed", type=int, help="seed; the same seed and settings give the same story")


def add_reranker_arg(parser: argparse.ArgumentParser) -> None:
    """--reranker, shared by the CLI and the app."""
    parser.add_argument("--reranker", default="none", metavar="none|auto|FOLDER",
                        help="coherence reranker choosing among the --candidates: none (default), auto (the shipped "
                        "one in assets/coherence) or a folder written by `python -m engine train-coherence`; "
                        "it reads the embedding knowledge ranker's sentence vectors")


def check_reranker(args: argparse.Namespace) -> None:
    """Refuse, before any model loads, a --reranker that cannot run: it needs knowledge on with
    the embedding ranker, and a FOLDER must exist."""
    name = args.reranker
    if name == "none":
        return
    if args.no_knowledge or args.ranker != "embedding":
        raise ValueError(f"--reranker {name} reads the embedding knowledge ranker's sentence vectors: "
                         "drop --no-knowledge and keep --ranker embedding, or use --reranker none")
    if name != "auto" and not Path(name).is_dir():
        raise ValueError(f"--reranker {name}: no such folder (give none, auto or a folder written by "
                         "`python -m engine train-coherence`)")


def params_from_args(args: argparse.Namespace) -> SamplingParams:
    fields = ("temperature", "top_p", "top_k", "repetition_penalty", "max_new_tokens", "n_candidates",
              "knowledge_top_n", "keyword_strength", "seed")
    overrides = {f: getattr(args, f) for f in fields if getattr(args, f, None) is not None}
    params = SamplingParams.from_preset(args.preset, **overrides)
    if params.n_candidates < 1 or params.n_candidates > 16:
        raise ValueError("--candidates must be between 1 and 16")
    if params.max_new_tokens < 4 or params.max_new_tokens > 256:
        raise ValueError("--max-tokens must be between 4 and 256")
    return params


def parse_keyword_slots(text: str | None) -> list[list[str] | None]:
    """'battery;;died,phone' -> [['battery'], None, ['died', 'phone']]."""
    if not text:
        return []
    return [[k.strip() for k in slot.split(",") if k.strip()] or None for slot in text.split(";")]


def register(subparsers) -> None:
    from engine.loading import add_loading_args

    p = subparsers.add_parser("write", help="write a story from a premise", description=__doc__)
    p.add_argument("premise", help="title or first sentence of the story")
    p.add_argument("--sentences", type=int, default=4, help="sentences to write (default 4)")
    p.add_argument("--keywords", help="keywords per sentence: ';' separates sentences, ',' keywords "
                   "within one, an empty slot means predict (e.g. 'battery;;died')")
    p.add_argument("--plan", action="store_true", help="plan the whole storyline (each sentence's keywords) "
                   "from the premise first, then write to it; --keywords slots that are not empty replace planned ones")
    p.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    p.add_argument("--data-dir", help="data directory (default: $CNTRL_DATA_DIR or <repo>/data)")
    p.add_argument("--kb", help="knowledge store file (default: $CNTRL_KB or <data dir>/knowledge.db)")
    p.add_argument("--no-knowledge", action="store_true", help="write without retrieving knowledge")
    p.add_argument("--ranker", default="embedding", help="knowledge ranker: embedding (default) or null")
    p.add_argument("--predictor", default="model", choices=("model", "rake"), help="keyword predictor (default model)")
    add_reranker_arg(p)
    add_sampling_args(p)
    add_loading_args(p)
    p.set_defaults(func=run_write)


def run_write(args: argparse.Namespace) -> int:
    if not args.premise.strip():
        raise ValueError("the premise is empty: give a title or a first sentence")
    if not 1 <= args.sentences <= 50:
        raise ValueError("--sentences must be between 1 and 50")
    params = params_from_args(args)
    check_reranker(args)
    # Imported after the checks above, so bad flags fail at once instead of after loading torch.
    from engine.build import KnowledgeOptions, build_pipeline
    from engine.loading import load_config_from_args

    knowledge = KnowledgeOptions(kb_path=args.kb, ranker=args.ranker, enabled=not args.no_knowledge)
    pipeline = build_pipeline(load_config_from_args(args), knowledge=knowledge, predictor=args.predictor,
                              reranker=args.reranker)
    storyline = plan_slots(pipeline, args, params)
    steps = write_with_output(pipeline, args, params, storyline.slots if storyline else None)
    if args.json:
        adapter = getattr(pipeline.generator, "adapter", None)
        print(json.dumps({"model": pipeline.model_id, "adapter": adapter, "backend": pipeline.generator.provenance(),
                          "premise": args.premise, "knowledge": pipeline.knowledge_note,
                          "storyline": storyline.to_dict() if storyline else None,
                          "steps": [s.to_dict() for s in steps]}, indent=2))
    return 0


def plan_slots(pipeline, args, params: SamplingParams):
    """With --plan, the storyline planned from the premise (hand-given --keywords slots replacing
    planned ones); printed unless --json. None without --plan."""
    if not args.plan:
        return None
    from dataclasses import replace

    from engine.storyline import check_slots
    from engine.types import StoryContext

    check_slots(args.sentences, pipeline.generator.context_window)
    plan = pipeline.plan_storyline(StoryContext(args.premise), args.sentences, seed=params.seed)
    given = parse_keyword_slots(args.keywords)
    slots = [given[i] if i < len(given) and given[i] else slot for i, slot in enumerate(plan.slots)]
    plan = replace(plan, slots=slots)
    if not args.json:
        print(f"storyline ({plan.source}): " + " | ".join(", ".join(s) or "(predicted)" for s in plan.slots))
        for note in plan.notes:
            print(f"    note: {note}")
    return plan


def write_with_output(pipeline, args, params: SamplingParams, planned: list[list[str]] | None = None) -> list[Step]:
    """Write the story, streaming each sentence to stdout unless --json; `planned` slots steer it."""
    from dataclasses import replace

    from engine.types import StoryContext

    slots = [s or None for s in planned] if planned is not None else parse_keyword_slots(args.keywords)
    context = StoryContext(args.premise)
    out = sys.stdout
    if not args.json:
        print(f"model: {pipeline.model_id} on {pipeline.generator.backend} | {pipeline.knowledge_note}\n\n{args.premise.strip()}\n", file=out)
    steps: list[Step] = []
    base_seed = params.seed if params.seed is not None else __import__("random").randrange(2**31)
    for i in range(args.sentences):
        kws = slots[i] if i < len(slots) else None
        step = None
        for item in pipeline.stream_step(context, keywords=kws, params=replace(params, seed=base_seed + i)):
            if isinstance(item, Step):
                step = item
        steps.append(step)
        context = pipeline.validate_context(context).extend(step.sentence)
        if not args.json:
            print_step(i + 1, step, out)
    return steps


def print_step(index: int, step: Step, out) -> None:
    print(f"[{index}] {step.sentence}", file=out)
    print(f"    keywords ({step.keywords_source}): {', '.join(step.keywords)}", file=out)
    for f in step.facts:
        print(f"    fact {f.score:.2f}: {f.fact.sentence}", file=out)
    timing = ", ".join(f"{k} {v:.0f} ms" for k, v in step.timings_ms.items() if "." not in k)
    print(f"    seed {step.seed}; {timing}", file=out)
    if step.coherence:
        print(f"    coherence: {coherence_summary(step.coherence, step.chosen)}", file=out)
    for note in step.notes:
        print(f"    note: {note}", file=out)
    out.flush()
