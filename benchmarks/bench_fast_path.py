"""The default fast path against torch, side by side in one run: tokens/s and seconds per
sentence, N=1 and N=4 candidates, the first streamed token after Write, a whole story, each
path's gold perplexity and keyword inclusion on the same cases, and the memory-bandwidth bound.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_fast_path.py [--cases 40] [--threads 1]
        [--paths torch,torch-int8,llama-cpp] [--compile] [--stories 3]

Paths (the default model with its shipped adapter, knowledge off unless said):
- torch: float32 weights in this process (the converted GGUF), `--backend torch`;
- torch-int8: the same model with torch's dynamic int8 quantisation of its linear layers;
- torch-compile (with --compile): torch.compile on the float32 model's forward;
- llama-cpp: the 4-bit GGUF in llama.cpp, what `--backend auto` picks on a CPU;
- raw llama.cpp: `create_completion` on the same GGUF, prompts and threads, greedy, as many
  tokens as the guided path wrote for each case (prefill included): the ceiling the guided
  path's token loop (bans, guidance, alternatives) is measured against.

Columns: tok/s counts the sentence's tokens over the whole step's wall time (prefill and
guidance included); decode counts the tokens after the first over the decode time; bound is
the measured memory copy rate over the weight bytes read per token, and "of bound" is decode
over bound; N4/N1 is the time of a step with 4 candidates over one with 1, on the same cases.

Cases are Plan-and-Write test sentences (held out from training), gold keyword given, seed =
case index. The bound is the measured memory copy rate over the weight bytes read per token.
Prints the load average: the machine is shared, so compare rows of one run only.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from engine.build import KnowledgeOptions, build_pipeline, generator_for
from engine.evaluation.cases import load_cases
from engine.evaluation.metrics import perplexity
from engine.evaluation.scorer import target_nll
from engine.evaluation.systems import scoring_prompt
from engine.inflect import mentions
from engine.loading import LoadConfig
from engine.model_source import default_gguf_path
from engine.types import SamplingParams, StoryContext


@dataclass
class PathRow:
    name: str
    weight_bytes: int
    seconds: float = 0.0
    tokens: int = 0
    first_tokens: list[float] = field(default_factory=list)
    hits: int = 0
    cases: int = 0
    n4_seconds: float = 0.0
    n1_seconds_same: float = 0.0
    n4_cases: int = 0
    decode_ms: float = 0.0
    decode_tokens: int = 0
    nll: float = 0.0
    nll_tokens: int = 0
    story_seconds: list[float] = field(default_factory=list)
    story_first: list[float] = field(default_factory=list)
    example: str = ""


def copy_rate(megabytes: int = 256, repeats: int = 5) -> float:
    """Bytes a memory copy moves per second (best of `repeats`), the bound's bandwidth."""
    src = np.ones(megabytes * 2**20 // 8)
    dst = np.empty_like(src)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t)
    return src.nbytes / best


def weight_bytes(model) -> int:
    """Bytes of a torch model's weights read per token: each tensor once (tied ones too), the
    packed int8 weights of linear layers torch quantised."""
    seen, total = set(), 0
    for module in model.modules():
        if hasattr(module, "_weight_bias"):  # a dynamically quantised linear layer
            weight, bias = module._weight_bias()
            total += weight.numel() + (bias.numel() * 4 if bias is not None else 0)
            continue
        for tensor in list(module.parameters(recurse=False)) + list(module.buffers(recurse=False)):
            if tensor.data_ptr() not in seen:
                seen.add(tensor.data_ptr())
                total += tensor.numel() * tensor.element_size()
    return total


def backend_of(path: str) -> str:
    return "llama-cpp" if path == "llama-cpp" else "torch"


def make_pipeline(path: str, threads: int):
    pipeline = build_pipeline(LoadConfig(backend=backend_of(path), threads=threads),
                              knowledge=KnowledgeOptions(enabled=False))
    gen = pipeline.generator
    if path == "torch-int8":
        # the transformer blocks' linear layers; the output projection shares the embedding matrix
        # and its int8 copy costs far more in perplexity than it saves in time
        gen.model.model = torch.ao.quantization.quantize_dynamic(gen.model.model, {torch.nn.Linear}, dtype=torch.qint8)
    elif path == "torch-compile":
        gen.model.forward = torch.compile(gen.model.forward, dynamic=True)
    weights = os.path.getsize(default_gguf_path()) if path == "llama-cpp" else weight_bytes(gen.model)
    return pipeline, weights


def gold_nll(pipeline, case) -> tuple[float, int]:
    gen = pipeline.generator
    prompt, lead = scoring_prompt(gen, case.context, [case.gold_keyword], [])
    target = list(gen.tokenizer(lead + case.gold_sentence.strip(), add_special_tokens=False)["input_ids"])
    if hasattr(gen, "target_nll"):
        return gen.target_nll(prompt.ids, target), len(target)
    with torch.inference_mode():
        return target_nll(gen.model, prompt.ids, target), len(target)


def timed_step(pipeline, context, keywords, params) -> tuple[float, float, object]:
    """Seconds to the first streamed text and to the Step, and the Step."""
    t = time.perf_counter()
    first, step = None, None
    for item in pipeline.stream_step(context, keywords=keywords, params=params):
        if isinstance(item, str):
            first = first if first is not None else time.perf_counter() - t
        else:
            step = item
    return (first if first is not None else time.perf_counter() - t), time.perf_counter() - t, step


def measure(path: str, cases, args) -> tuple[PathRow, list[list[int]]]:
    pipeline, weights = make_pipeline(path, args.threads)
    row = PathRow(path, weights)
    tok = pipeline.generator.tokenizer
    timed_step(pipeline, cases[0].context, [cases[0].gold_keyword], SamplingParams(seed=0))  # warm-up
    written: list[list[int]] = []
    for i, case in enumerate(cases):
        first, seconds, step = timed_step(pipeline, case.context, [case.gold_keyword], SamplingParams(seed=i))
        row.first_tokens.append(first)
        row.seconds += seconds
        ids = tok(step.sentence, add_special_tokens=False)["input_ids"]
        written.append(ids)
        row.tokens += len(ids)
        row.decode_ms += step.timings_ms.get("generate.decode", 0.0)
        row.decode_tokens += max(0, len(ids) - 1)  # the first token comes from the prefill
        row.hits += mentions(step.sentence, case.gold_keyword)
        row.cases += 1
        row.example = step.sentence
        nll, n = gold_nll(pipeline, case)
        row.nll, row.nll_tokens = row.nll + nll, row.nll_tokens + n
    for i, case in enumerate(cases[: args.n4_cases]):  # N=4 against N=1 on the same cases, alternating
        row.n1_seconds_same += timed_step(pipeline, case.context, [case.gold_keyword], SamplingParams(seed=i))[1]
        row.n4_seconds += timed_step(pipeline, case.context, [case.gold_keyword],
                                     SamplingParams(seed=i, n_candidates=4))[1]
        row.n4_cases += 1
    row.story_seconds, row.story_first = whole_stories(path, cases, args)
    pipeline.generator.close()
    return row, written


def whole_stories(path: str, cases, args) -> tuple[list[float], list[float]]:
    """A 4-sentence story with 4 candidates a sentence, as the editor writes it: knowledge on,
    keywords predicted; seconds per story and the first streamed token of each sentence."""
    if args.stories <= 0 or path not in ("torch", "llama-cpp"):
        return [], []
    pipeline = build_pipeline(LoadConfig(backend=backend_of(path), threads=args.threads))
    timed_step(pipeline, cases[0].context, None, SamplingParams(seed=0, n_candidates=4))  # warm-up
    totals, firsts = [], []
    premises = list(dict.fromkeys(c.story.sentences[0] for c in cases))[: args.stories]
    for s, premise in enumerate(premises):
        context, total = StoryContext(premise, ()), 0.0
        for k in range(4):
            first, seconds, step = timed_step(pipeline, context, None, SamplingParams(seed=100 * s + k, n_candidates=4))
            firsts.append(first)
            total += seconds
            context = StoryContext(premise, context.sentences + (step.sentence,))
        totals.append(total)
        print(f"  {path} story {s + 1}: {total:.1f} s | {premise} {' '.join(context.sentences)}", flush=True)
    pipeline.generator.close()
    return totals, firsts


def raw_llama(cases, written: list[list[int]], threads: int) -> tuple[float, float]:
    """tokens/s of llama.cpp's own create_completion on the guided path's prompts, greedy, as many
    tokens as the guided path wrote for each case (prefill included), and on a 64-token run; the
    same Llama object (GGUF, LoRA, threads) the guided path decodes with."""
    gen = generator_for(LoadConfig(backend="llama-cpp", threads=threads))
    llm = gen.llm
    seconds, tokens = 0.0, 0
    for case, ids in zip(cases, written, strict=True):
        prompt, _ = scoring_prompt(gen, case.context, [case.gold_keyword], [])
        t = time.perf_counter()
        out = llm.create_completion(prompt.ids, max_tokens=max(1, len(ids)), temperature=0.0)
        seconds += time.perf_counter() - t
        tokens += out["usage"]["completion_tokens"]
    # decode only: the first case's prompt already evaluated, then 64 tokens with the end of text banned
    prompt, _ = scoring_prompt(gen, cases[0].context, [cases[0].gold_keyword], [])
    llm.reset()
    llm.eval(prompt.ids)
    t = time.perf_counter()
    out = llm.create_completion(prompt.ids, max_tokens=64, temperature=0.0, logit_bias={llm.token_eos(): -100.0})
    long_rate = out["usage"]["completion_tokens"] / (time.perf_counter() - t)
    gen.close()
    return tokens / seconds, long_rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=40, help="Plan-and-Write test sentences per path")
    ap.add_argument("--n4-cases", type=int, default=12, help="cases timed with N=1 and N=4 candidates")
    ap.add_argument("--stories", type=int, default=3, help="4-sentence stories with 4 candidates (torch, llama-cpp)")
    ap.add_argument("--threads", type=int, default=1, help="threads for every path (torch and llama.cpp)")
    ap.add_argument("--paths", default="torch,torch-int8,llama-cpp")
    ap.add_argument("--compile", action="store_true", help="also time torch.compile on the float32 model")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores, {args.threads} thread(s) per path")
    bandwidth = copy_rate()
    print(f"memory copy rate {bandwidth / 1e9:.1f} GB/s")
    cases = load_cases("test", limit=args.cases)  # one case per story
    paths = args.paths.split(",") + (["torch-compile"] if args.compile else [])
    rows, written = [], None
    for path in paths:
        row, ids = measure(path, cases, args)
        rows.append(row)
        written = ids if path == "llama-cpp" else written
        print(f"  {path}: {row.tokens / row.seconds:.1f} tokens/s", flush=True)
    raw_rate = raw_long = None
    if written is not None:
        raw_rate, raw_long = raw_llama(cases, written, args.threads)
    base = next((r for r in rows if r.name == "torch"), rows[0])
    base_rate = base.tokens / base.seconds
    print(f"\n{len(cases)} cases (Plan-and-Write test, gold keyword, knowledge off); N=4 on {args.n4_cases} cases")
    print(f"{'path':13} {'tok/s':>6} {'x torch':>7} {'decode':>6} {'bound':>6} {'of bound':>8} {'s/sent':>6} {'N4/N1':>6} "
          f"{'first s':>7} {'incl':>10} {'gold ppl':>8} {'weights MB':>10}")
    for r in rows:
        rate = r.tokens / r.seconds
        bound = bandwidth / r.weight_bytes
        ratio = r.n4_seconds / r.n1_seconds_same if r.n1_seconds_same else float("nan")
        decode = 1000 * r.decode_tokens / r.decode_ms if r.decode_ms else float("nan")
        print(f"{r.name:13} {rate:6.1f} {rate / base_rate:7.2f} {decode:6.1f} {bound:6.0f} {decode / bound:8.0%} "
              f"{r.seconds / r.cases:6.2f} {ratio:6.2f} {statistics.median(r.first_tokens):7.2f} "
              f"{r.hits:3d}/{r.cases:<3d}{r.hits / r.cases:4.0%} {perplexity(r.nll, r.nll_tokens):8.2f} "
              f"{r.weight_bytes / 2**20:10.0f}")
    if raw_rate:
        fast = next(r for r in rows if r.name == "llama-cpp")
        rate = fast.tokens / fast.seconds
        print(f"raw llama.cpp create_completion, same prompts and token counts: {raw_rate:.1f} tok/s; guided path "
              f"{rate:.1f} = {rate / raw_rate:.0%} of raw; raw decode only (64 tokens after an evaluated prompt): "
              f"{raw_long:.1f} tok/s, guided decode {1000 * fast.decode_tokens / fast.decode_ms:.1f} tok/s")
    for r in rows:
        if r.story_seconds:
            print(f"{r.name}: 4-sentence story, 4 candidates a sentence, knowledge on, predicted keywords: "
                  f"median {statistics.median(r.story_seconds):.1f} s over {len(r.story_seconds)} stories; "
                  f"first streamed token after Write median {statistics.median(r.story_first):.2f} s")
    for r in rows:
        print(f"  e.g. {r.name}: {r.example}")
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
