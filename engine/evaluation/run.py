"""`evaluate(...)`: load what the systems need once, run each on the cases, return the report."""

from __future__ import annotations

import json
from pathlib import Path

from engine.evaluation.antonyms import AntonymTable
from engine.evaluation.cases import load_cases
from engine.evaluation.harness import evaluate_system, human_row
from engine.evaluation.systems import SystemSpec, build_system
from engine.types import SamplingParams


def load_models(specs: list[SystemSpec], *, adapter: str, data_dir: str | None, threads: int):
    """The base model (for plain/prompted) and the trained one (for trained), as needed."""
    from engine.loading import LoadConfig, load_model

    common = {"data_dir": data_dir, "device_map": "cpu", "threads": threads}
    base = load_model(LoadConfig(adapter="none", **common)) if any(not s.trained for s in specs) else None
    trained = None
    if any(s.trained for s in specs):
        trained = load_model(LoadConfig(adapter=adapter, **common))
        if trained.adapter is None:
            raise FileNotFoundError("no trained adapter to evaluate: train one (python -m engine train) or pass --adapter")
    return base, trained


def evaluate(*, specs: list[SystemSpec], split: str, limit: int, offset: int = 0, seed: int = 0,
             preset: str = "balanced", scorer: str = "gemma3-270m", adapter: str = "auto",
             data_dir: str | None = None, kb: str | None = None, threads: int = 0,
             stories_out: str | None = None, progress: bool = True) -> dict:
    """The harness report: {"systems": {name: {metric: value}}, "notes": {...}, "cases": n}."""
    from tqdm.auto import tqdm

    from engine import paths
    from engine.evaluation.scorer import FluencyScorer
    from engine.knowledge import load_default_stage

    cases = load_cases(split, limit=limit, offset=offset)
    base, trained = load_models(specs, adapter=adapter, data_dir=data_dir, threads=threads)
    retriever, ranker, note = load_default_stage(data_dir, kb)
    fluency = None if scorer == "none" else FluencyScorer.load(scorer, paths.data_dir(data_dir))
    params = SamplingParams.from_preset(preset, seed=seed)
    antonyms = AntonymTable.load()
    systems, runs = {}, []
    with tqdm(total=len(specs) * len(cases), desc="evaluate", unit="case", disable=not progress) as bar:
        for spec in specs:
            system = build_system(spec, base=base, trained=trained, retriever=retriever, ranker=ranker)
            bar.set_postfix(system=spec.name)
            systems[spec.name], run = evaluate_system(system, cases, params=params, antonyms=antonyms,
                                                      scorer=fluency, progress=bar)
            runs.append(run)
    systems["human"] = human_row(cases, fluency)
    if stories_out:
        write_stories(Path(stories_out), cases, runs)
    notes = {"split": f"Plan-and-Write {split}, stories {offset}-{offset + len(cases) - 1}",
             "knowledge": note, "scorer": scorer, "preset": preset, "seed": seed,
             "adapter": trained.adapter.path if trained is not None else None}
    return {"systems": systems, "notes": notes, "cases": len(cases)}


def write_stories(path: Path, cases, runs) -> None:
    """One JSON line per (case, system), human included: for reading side by side."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for i, case in enumerate(cases):
            handle.write(json.dumps({"case": i, "system": "human", "premise": case.premise,
                                     "sentences": list(case.human_continuation)}) + "\n")
            for run in runs:
                handle.write(json.dumps({"case": i, "system": run.name, "premise": case.premise,
                                         "sentences": run.stories[i], "keywords": run.keywords[i],
                                         "facts": run.facts[i]}) + "\n")
