"""The training job as two keyword-only functions the CLI and the tests call.

`prepare_examples` reads the stories, builds the CNTRL examples once and keeps them in
`<out>/examples.jsonl` (a resumed run reads them back, so it trains on the same data);
`train_adapter` loads the base model, encodes the examples and runs the Trainer.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from engine.training.data import (
    DataConfig,
    Example,
    build_examples,
    encode,
    read_examples,
    split_validation,
    storyline_examples,
    with_storylines,
    write_examples,
)
from engine.training.trainer import TrainConfig, Trainer, TrainResult, jsonl_logger


def load_stories(*, train_stories: int = 0, plan_write_stories: int, cloze_stories: int):
    """The ROCStories training sample, Plan-and-Write dev (both detokenised, truecased), then
    Story Cloze val stories (never its held-out slice, kept for the coherence reranker's figures).

    A count below 0 means every story of that file.
    """
    from engine.training.text import default_truecaser, read_cloze_train, read_plan_write, read_rocstories_train

    def limit(n: int) -> int | None:
        return None if n < 0 else n

    truecaser = default_truecaser()
    stories = read_rocstories_train(truecaser=truecaser, limit=limit(train_stories)) if train_stories else []
    stories += read_plan_write("dev", truecaser=truecaser, limit=limit(plan_write_stories)) if plan_write_stories else []
    return stories + (read_cloze_train(limit=limit(cloze_stories)) if cloze_stories else [])


def knowledge_stage(data_dir: str | None, kb: str | None, knowledge: bool, preset: str, ranker: str = "lexical"):
    """Retriever and ranker for the examples' facts: the product's knowledge base, ranked by
    `ranker` ("lexical" by default: the embedding ranker takes hours on a whole corpus of 2 cores)."""
    from engine.knowledge import load_default_stage
    from engine.knowledge.base import NullRanker, NullRetriever

    if not knowledge:
        return NullRetriever(), NullRanker()
    retriever, chosen, _ = load_default_stage(data_dir, kb, ranker="null" if preset == "tiny" else ranker)
    return retriever, chosen


def prepare_examples(
    *, out: Path, data_dir: str | None = None, kb: str | None = None, knowledge: bool = True, preset: str = "default",
    plan_write_stories: int, cloze_stories: int, train_stories: int = 0, reuse: bool = False, ranker: str = "lexical",
) -> list[Example]:
    """Examples for training, built from the stories (or read back from `<out>/examples.jsonl`)."""
    from tqdm.auto import tqdm

    path = Path(out) / "examples.jsonl"
    if reuse and path.is_file():
        return read_examples(path)
    stories = load_stories(train_stories=train_stories, plan_write_stories=plan_write_stories, cloze_stories=cloze_stories)
    retriever, fact_ranker = knowledge_stage(data_dir, kb, knowledge, preset, ranker)
    with tqdm(total=len(stories), desc="examples", unit="story") as bar:
        examples = build_examples(stories, retriever=retriever, ranker=fact_ranker, config=DataConfig.from_name(preset), progress=bar)
    examples = with_storylines(examples, storyline_examples(examples))
    if is_main_process():  # every process builds the same examples; one writes them
        write_examples(path, examples)
    return examples


class LazyEncoded(Sequence):
    """Training sequences encoded when a batch first asks for them, then kept.

    A corpus of 35,000 stories takes hours to tokenise on 2 cores, while one sitting of
    training reads a few thousand of them. `lengths` are estimates from the text (about 4
    characters a token), which is all that batching by similar length needs.
    """

    def __init__(self, groups: list, build):
        self.groups, self.build = groups, build
        self.cache: dict[int, object] = {}
        self.lengths = [max(1, sum(len(e.premise) + len(" ".join(e.sentences)) // 3 + len(" ".join(e.facts))
                                   + len(e.target) for e in group) // 4) for group in groups]

    def __len__(self) -> int:
        return len(self.groups)

    def __getitem__(self, index: int):
        if index not in self.cache:
            self.cache[index] = self.build(self.groups[index])
        return self.cache[index]


def encode_training(tokenizer, examples: list[Example], *, config: TrainConfig, max_tokens: int) -> LazyEncoded:
    """Training sequences: whole stories packed per sequence (default), or one per example."""
    if config.per_sentence:
        return LazyEncoded([[e] for e in examples],
                           lambda group: encode(tokenizer, group[0], max_tokens=max_tokens, keyword_weight=config.keyword_weight))
    from engine.training.packing import PackConfig, group_by_story, pack_story

    pack = PackConfig(story_weight=config.story_weight, keyword_weight=config.keyword_weight)
    return LazyEncoded(group_by_story(examples), lambda group: pack_story(tokenizer, group, config=pack, budget=max_tokens))


def is_main_process() -> bool:
    """Rank 0 of a launched job, or a plain process (read before the Accelerator exists)."""
    return os.environ.get("RANK", "0") == "0"


def train_adapter(
    *, model: str, examples: list[Example], out: Path, config: TrainConfig, data_dir: str | None = None,
    val_share: float = 0.04, resume: bool = False, threads: int = 0, max_tokens: int | None = None, loaded=None,
) -> TrainResult:
    """Fine-tune `model` on `examples`; the best adapter lands in `<out>/adapter`.

    Args:
        model: base model spec (as `--model`); ignored when `loaded` is given.
        examples: CNTRL examples (`prepare_examples`).
        out: output folder: adapter/, checkpoint/, metrics.jsonl, examples.jsonl.
        config: optimisation settings.
        val_share: share of stories held out for validation.
        resume: continue from `<out>/checkpoint` when it exists.
        threads: torch CPU threads (0: all).
        max_tokens: clip each example to this many tokens (default: the data preset's).
        loaded: an already loaded `LoadedModel` (tests pass a tiny one).
    """
    from engine.loading import LoadConfig, load_model

    out = Path(out)
    if loaded is None:
        loaded = load_model(LoadConfig(model=model, data_dir=data_dir, device_map="cpu", dtype="float32",
                                       threads=threads, adapter="none"))
    tokenizer = loaded.tokenizer
    limit = max_tokens or DataConfig().max_tokens
    train, val = split_validation(examples, val_share, config.seed)
    encoded_train = encode_training(tokenizer, train, config=config, max_tokens=limit)
    encoded_val = [encode(tokenizer, e, max_tokens=limit) for e in val[: config.eval_examples]]  # the plain NLL
    manifest = {"base_model": loaded.model_id, "train_examples": len(train), "val_examples": len(val),
                "train_stories": len({(e.story, e.premise) for e in train}), "train_sequences": len(encoded_train),
                "tasks": sorted({e.task for e in train}),
                "config": json.loads(json.dumps(config.__dict__))}
    trainer = Trainer(loaded.model, tokenizer, encoded_train, encoded_val, config=config, out_dir=out,
                      log=None, manifest=manifest)
    trainer.log = jsonl_logger(out / "metrics.jsonl", trainer.accelerator.is_main_process)
    if resume:
        trainer.resume()
    elif trainer.accelerator.is_main_process:
        (out / "metrics.jsonl").unlink(missing_ok=True)
    return trainer.run()
