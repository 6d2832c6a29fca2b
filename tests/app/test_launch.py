"""Launch pieces: background model loading and its status line, the users command, the flags."""

from __future__ import annotations

import io
import threading
import time

import pytest

from app.auth import checker, read_auth_file
from app.cli import build_parser, main
from app.engine_handle import EngineHandle
from app.errors import AppError
from app.fake_engine import FakeEngine


def test_the_page_says_loading_until_the_model_is_ready():
    release = threading.Event()

    def load():
        release.wait(5)
        return FakeEngine(model_id="slow-model")

    handle = EngineHandle.load_in_background(load, description="slow-model")
    assert not handle.ready and handle.status().startswith("Loading model slow-model")
    with pytest.raises(AppError, match="still loading"):
        handle.get()
    release.set()
    deadline = time.monotonic() + 5
    while not handle.ready and time.monotonic() < deadline:
        time.sleep(0.01)
    assert handle.get().model_id == "slow-model" and "**slow-model** is ready" in handle.status()


def test_a_failed_load_is_reported_not_raised():
    def load():
        raise FileNotFoundError("no such model: nope")

    handle = EngineHandle.load_in_background(load, description="nope")
    deadline = time.monotonic() + 5
    while "failed" not in handle.status() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "Model failed to load: FileNotFoundError: no such model: nope" == handle.status()
    with pytest.raises(AppError, match="failed to load"):
        handle.get()


def test_users_add_writes_a_hash_that_logs_in(tmp_path, monkeypatch, capsys):
    path = tmp_path / "users.auth"
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret\n"))
    assert main(["--auth-file", str(path), "users", "add", "alice", "--password-stdin"]) == 0
    check = checker(read_auth_file(path))
    assert check("alice", "s3cret") and not check("alice", "wrong") and not check("eve", "s3cret")
    assert oct(path.stat().st_mode)[-3:] == "600"
    assert main(["users", "add", "bob", "--password-stdin"]) == 2
    assert "--auth-file" in capsys.readouterr().err


def test_defaults_and_engine_flags():
    args = build_parser().parse_args([])
    assert (args.host, args.port, args.model, args.device_map) == ("127.0.0.1", 7860, "SmolLM2-135M-Instruct", "auto")
    args = build_parser().parse_args(["--port", "9000", "--quantize", "4bit", "--fake-engine", "--database-url", "sqlite://"])
    assert (args.port, args.quantize, args.fake_engine, args.database_url) == (9000, "4bit", True, "sqlite://")


def test_sampling_flags_set_the_panel_defaults(fake, store):
    from app.ui import build_demo
    from engine.cli_write import params_from_args

    args = build_parser().parse_args(["--preset", "creative", "--candidates", "3", "--seed", "11"])
    params = params_from_args(args)
    assert (params.temperature, params.n_candidates, params.seed) == (1.0, 3, 11)
    demo = build_demo(fake, store, defaults=params)
    values = {c.elem_id: c.value for c in demo.blocks.values() if getattr(c, "elem_id", None) in ("candidates", "seed")}
    assert values == {"candidates": 3, "seed": 11}
