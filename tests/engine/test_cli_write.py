"""`python -m engine write` as a user runs it: a subprocess on a tiny random model."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import build_parser
from engine.cli_write import parse_keyword_slots, print_step
from engine.inflect import mentions
from engine.testing import save_tiny_llama
from engine.types import SamplingParams, Step

REPO = Path(__file__).resolve().parents[2]
PREMISE = "Tom let his friend borrow his phone."


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return save_tiny_llama(tmp_path_factory.mktemp("cli") / "tiny-llama")


def run_cli(*args: str, data_dir: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "CNTRL_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "engine", "write", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess, fragment: str) -> None:
    assert proc.returncode != 0
    assert proc.stdout == ""
    lines = [line for line in proc.stderr.splitlines() if line.strip() and "Loading weights" not in line]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ") and fragment in lines[0]
    assert "Traceback" not in proc.stderr


# --------------------------------------------------------------------------- keyword slots


@pytest.mark.parametrize(
    "text, slots",
    [
        ("battery;;died", [["battery"], None, ["died"]]),
        ("battery, phone;dog", [["battery", "phone"], ["dog"]]),
        (";rain", [None, ["rain"]]),
        (" , ;", [None, None]),
        ("", []),
        (None, []),
    ],
)
def test_keyword_slots(text, slots):
    assert parse_keyword_slots(text) == slots


# --------------------------------------------------------------------------- output


def test_json_output_has_the_documented_shape(tiny_dir, tmp_path):
    proc = run_cli(
        PREMISE, "--model", str(tiny_dir), "--no-knowledge", "--sentences", "3",
        "--keywords", "battery;;died", "--seed", "0", "--max-tokens", "10", "--json", data_dir=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["model"] == "tiny-llama"
    assert len(doc["steps"]) == 3
    for step in doc["steps"]:
        assert isinstance(step["sentence"], str) and step["sentence"]
        assert isinstance(step["keywords"], list) and step["keywords"]
        assert isinstance(step["facts"], list)
        assert all(set(f) >= {"text", "score"} for f in step["facts"])
        assert {"generate"} <= set(step["timings_ms"]) and all(v >= 0 for v in step["timings_ms"].values())
        assert step["coherence"] == []  # no reranker unless --reranker names one
    # ';' separates sentences, an empty slot means "predict".
    first, second, third = doc["steps"]
    assert first["keywords"] == ["battery"] and first["keywords_source"] == "given"
    assert second["keywords_source"] != "given"
    assert third["keywords"] == ["died"] and third["keywords_source"] == "given"
    assert [s["seed"] for s in doc["steps"]] == [0, 1, 2]


def test_text_output_prints_each_sentence_with_its_keywords(tiny_dir, tmp_path):
    proc = run_cli(
        PREMISE, "--model", str(tiny_dir), "--no-knowledge", "--sentences", "1",
        "--keywords", "phone,battery", "--seed", "1", "--max-tokens", "8", data_dir=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert PREMISE in proc.stdout
    assert "[1] " in proc.stdout and "keywords (given): phone, battery" in proc.stdout
    assert "seed 1" in proc.stdout


def test_help_documents_every_flag():
    proc = subprocess.run(
        [sys.executable, "-m", "engine", "write", "--help"], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0
    write = build_parser()._subparsers._group_actions[0].choices["write"]
    flags = [opt for action in write._actions for opt in action.option_strings]
    assert len(flags) > 20
    for flag in flags:
        assert flag in proc.stdout, flag
    for action in write._actions:
        assert action.help, action.option_strings or action.dest


# --------------------------------------------------------------------------- errors


def test_missing_model_path_is_one_line(tmp_path):
    proc = run_cli(PREMISE, "--model", str(tmp_path / "no-such-model"), "--no-knowledge", data_dir=tmp_path)
    assert_one_line_error(proc, "model path not found")


@pytest.mark.parametrize(
    "junk", [os.urandom(4096), b"GGUF\x03\x00\x00\x00" + b"junk" * 3], ids=["random-bytes", "truncated-header"]
)
def test_corrupt_gguf_is_one_line(tmp_path, junk):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(junk)
    proc = run_cli(PREMISE, "--model", str(bad), "--no-knowledge", data_dir=tmp_path)
    assert_one_line_error(proc, "broken.gguf")


@pytest.mark.parametrize("premise", ["", "   \t "])
def test_empty_premise_is_one_line(tiny_dir, tmp_path, premise):
    proc = run_cli(premise, "--model", str(tiny_dir), data_dir=tmp_path)
    assert_one_line_error(proc, "the premise is empty")


@pytest.mark.parametrize(
    "flags, fragment",
    [(["--sentences", "0"], "--sentences"), (["--candidates", "99"], "--candidates"), (["--max-tokens", "1"], "--max-tokens")],
)
def test_out_of_range_flags_are_one_line(tiny_dir, tmp_path, flags, fragment):
    proc = run_cli(PREMISE, "--model", str(tiny_dir), *flags, data_dir=tmp_path)
    assert_one_line_error(proc, fragment)


def test_plan_writes_the_whole_story_to_a_predicted_storyline(tiny_dir, tmp_path):
    proc = run_cli(PREMISE, "--model", str(tiny_dir), "--no-knowledge", "--sentences", "3", "--plan",
                   "--keywords", ";rain", "--max-tokens", "8", "--seed", "4", "--json", data_dir=tmp_path)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    plan = doc["storyline"]
    assert plan["source"] == "chain" and len(plan["slots"]) == 3 and plan["seed"] == 4
    assert plan["slots"][1] == ["rain"]  # a hand-given slot replaces the planned one
    assert [s["keywords"] for s in doc["steps"]] == plan["slots"]
    assert all(s["keywords_source"] == "given" for s in doc["steps"])
    text = run_cli(PREMISE, "--model", str(tiny_dir), "--no-knowledge", "--sentences", "2", "--plan",
                   "--max-tokens", "8", data_dir=tmp_path)
    assert text.returncode == 0 and text.stdout.splitlines()[0].startswith("storyline (chain): ")


def test_plan_refuses_more_slots_than_it_plans_at_once(tiny_dir, tmp_path):
    proc = run_cli(PREMISE, "--model", str(tiny_dir), "--no-knowledge", "--sentences", "20", "--plan",
                   data_dir=tmp_path)
    assert_one_line_error(proc, "20 slots are more than the storyline prompt fits: plan at most 12 sentences")


# --------------------------------------------------------------------------- coherence reranker


def test_reranker_scores_every_candidate_and_chooses_the_best_carrying_the_keywords(tiny_dir, tmp_path):
    proc = run_cli(PREMISE, "--model", str(tiny_dir), "--reranker", "auto", "--candidates", "3", "--sentences", "2",
                   "--keywords", "phone;battery", "--seed", "3", "--max-tokens", "8", "--json", data_dir=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for step in json.loads(proc.stdout)["steps"]:
        scores, candidates = step["coherence"], step["candidates"]
        assert len(scores) == len(candidates) == 3 and all(0 <= s <= 1 for s in scores)
        carrying = [i for i, c in enumerate(candidates) if all(mentions(c, k) for k in step["keywords"])]
        assert scores[step["chosen"]] == max(scores[i] for i in carrying or range(3))
        assert step["sentence"] == candidates[step["chosen"]] and "rerank" in step["timings_ms"]


@pytest.mark.parametrize("flags, fragment", [
    (["--reranker", "auto", "--no-knowledge"], "--reranker auto reads the embedding knowledge ranker"),
    (["--reranker", "auto", "--ranker", "null"], "drop --no-knowledge and keep --ranker embedding"),
    (["--reranker", "no-such-reranker"], "--reranker no-such-reranker: no such folder"),
])
def test_a_reranker_that_cannot_run_is_one_line(tiny_dir, tmp_path, flags, fragment):
    proc = run_cli(PREMISE, "--model", str(tiny_dir), "--candidates", "2", *flags, data_dir=tmp_path)
    assert_one_line_error(proc, fragment)


def test_text_output_shows_the_rerankers_scores_only_when_it_ran():
    step = Step(keywords=["phone"], facts=[], candidates=["Tom lost it.", "Tom found the phone."], chosen=1,
                params=SamplingParams(n_candidates=2), seed=0, model="tiny", coherence=[0.3, 0.8])
    out = io.StringIO()
    print_step(1, step, out)
    assert "[1] Tom found the phone.\n" in out.getvalue()
    assert "    coherence: 0.30, 0.80 (chosen)\n" in out.getvalue()
    plain = io.StringIO()
    print_step(1, Step(keywords=["phone"], facts=[], candidates=["Tom lost it."], chosen=0,
                       params=SamplingParams(), seed=0, model="tiny"), plain)
    assert "coherence" not in plain.getvalue()
