"""`evaluate(...)`: load what the systems need once, run each on the cases, return the report."""

from __future__ import annotations

import json
from pathlib import Path

from engine.evaluation.antonyms import AntonymTable
from engine.evaluation.cases import load_cases
from engine.evaluation.harness import evaluate_system, human_row, rake_row
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


class BackendWriters:
    """The generators that write on a non-torch backend, one per adapter choice, made on first use."""

    def __init__(self, backend: str, *, adapter: str, data_dir: str | None, threads: int,
                 server_url: str | None, served_model: str | None):
        self.backend, self.adapter, self.data_dir, self.threads = backend, adapter, data_dir, threads
        self.server_url, self.served_model = server_url, served_model
        self.made: dict[bool, object] = {}

    def get(self, trained: bool):
        """None on the torch backend (the systems write with the loaded model itself)."""
        if self.backend == "torch":
            return None
        if trained not in self.made:
            from engine.build import generator_for
            from engine.loading import LoadConfig

            self.made[trained] = generator_for(LoadConfig(
                backend=self.backend, adapter=self.adapter if trained else "none", data_dir=self.data_dir,
                threads=self.threads, server_url=self.server_url,
                served_model=self.served_model if trained else None))
        return self.made[trained]

    def close(self) -> None:
        for generator in self.made.values():
            generator.close()


def evaluate(*, specs: list[SystemSpec], split: str, limit: int, offset: int = 0, seed: int = 0,
             preset: str = "balanced", scorer: str = "gemma3-270m", adapter: str = "auto",
             data_dir: str | None = None, kb: str | None = None, threads: int = 0,
             stories_out: str | None = None, progress: bool = True, backend: str = "torch",
             server_url: str | None = None, served_model: str | None = None) -> dict:
    """The harness report: {"systems": {name: {metric: value}}, "notes": {...}, "cases": n}."""
    from tqdm.auto import tqdm

    from engine import paths
    from engine.evaluation.scorer import FluencyScorer
    from engine.knowledge import load_default_stage

    if backend == "auto":
        from engine.build import auto_backend
        from engine.loading import LoadConfig

        backend = auto_backend(LoadConfig(data_dir=data_dir))[0]
    cases = load_cases(split, limit=limit, offset=offset)
    base, trained = load_models(specs, adapter=adapter, data_dir=data_dir, threads=threads)
    retriever, ranker, note = load_default_stage(data_dir, kb)
    fluency = None if scorer == "none" else FluencyScorer.load(scorer, paths.data_dir(data_dir))
    params = SamplingParams.from_preset(preset, seed=seed)
    antonyms = AntonymTable.load()
    writers = BackendWriters(backend, adapter=adapter, data_dir=data_dir, threads=threads,
                             server_url=server_url, served_model=served_model)
    systems, runs = {}, []
    with tqdm(total=len(specs) * len(cases), desc="evaluate", unit="case", disable=not progress) as bar:
        for spec in specs:
            system = build_system(spec, base=base, trained=trained, retriever=retriever, ranker=ranker,
                                  writer=writers.get(spec.trained))
            bar.set_postfix(system=spec.name)
            systems[spec.name], run = evaluate_system(system, cases, params=params, antonyms=antonyms,
                                                      scorer=fluency, progress=bar)
            runs.append(run)
    writers.close()
    systems["rake-premise"] = rake_row(cases)  # storyline baseline: RAKE keywords of the premise, one per slot
    systems["human"] = human_row(cases, fluency)
    if stories_out:
        write_stories(Path(stories_out), cases, runs)
    notes = {"split": f"Plan-and-Write {split}, stories {offset}-{offset + len(cases) - 1}",
             "knowledge": note, "scorer": scorer, "preset": preset, "seed": seed,
             "adapter": trained.adapter.path if trained is not None else None,
             "backend": backend if backend == "torch" else
             f"{backend} writes; gold perplexity is scored by the torch copy of the same weights"}
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
