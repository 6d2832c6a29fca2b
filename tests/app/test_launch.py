"""Launch pieces: background model loading and its status line, the users command, the flags."""

from __future__ import annotations

import asyncio
import io
import threading
import time

import pytest

from app.auth import add_user, checker, database_checker, import_auth_file, read_auth_file
from app.cli import build_parser, engine_for, main
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


def _sync(check):
    """The login coroutine Gradio awaits, called as a plain function."""
    return lambda name, password: asyncio.run(check(name, password))


def test_users_add_creates_a_database_account_that_logs_in(tmp_path, monkeypatch):
    from app.store import Store

    url = f"sqlite:///{tmp_path / 'stories.db'}"
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret\n"))
    assert main(["--database-url", url, "users", "add", "alice", "--password-stdin"]) == 0
    check = _sync(database_checker(Store.open(url).factory))
    assert check("alice", "s3cret") and not check("alice", "wrong") and not check("eve", "s3cret")
    monkeypatch.setattr("sys.stdin", io.StringIO("rate-only\n"))
    assert main(["--database-url", url, "users", "add", "rita", "--role", "rater", "--password-stdin"]) == 0
    assert not check("rita", "rate-only")  # raters use the evaluation pages, not the editor


def test_an_old_auth_file_is_imported_once_and_keeps_its_passwords(tmp_path, monkeypatch):
    from app.store import Store

    path, url = tmp_path / "users.auth", f"sqlite:///{tmp_path / 'stories.db'}"
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret\n"))
    assert main(["--database-url", url, "--auth-file", str(path), "users", "add", "bob", "--password-stdin"]) == 0
    assert checker(read_auth_file(path))("bob", "s3cret") and oct(path.stat().st_mode)[-3:] == "600"
    add_user(path, "carol", "c-pass")  # written by an older version: no database account yet
    factory = Store.open(url).factory
    assert import_auth_file(factory, path) == ["carol"]
    assert import_auth_file(factory, path) == []  # a second start adds nothing
    check = _sync(database_checker(factory))
    assert check("carol", "c-pass") and check("bob", "s3cret") and not check("carol", "s3cret")


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


def test_a_vllm_backend_without_a_server_url_stops_at_launch(capsys):
    assert main(["--backend", "vllm", "--port", "0"]) == 2
    assert "--server-url" in capsys.readouterr().err


def test_the_reranker_flag_reaches_the_pipeline_before_or_after_serve(monkeypatch):
    built: list[dict] = []

    def build_pipeline(config, **options):
        built.append(options)
        return FakeEngine(model_id=config.model)

    monkeypatch.setattr("engine.build.build_pipeline", build_pipeline)
    for argv, reranker in ((["--candidates", "4"], "none"), (["--reranker", "auto"], "auto"),
                           (["serve", "--reranker", "auto"], "auto"), (["--reranker", "auto", "serve"], "auto")):
        handle = engine_for(build_parser().parse_args(argv))
        deadline = time.monotonic() + 5
        while not handle.ready and time.monotonic() < deadline:
            time.sleep(0.01)
        assert handle.ready and built[-1]["reranker"] == reranker


def test_a_reranker_without_knowledge_stops_at_launch(capsys):
    assert main(["--reranker", "auto", "--no-knowledge", "--port", "0"]) == 2
    assert "--reranker auto reads the embedding knowledge ranker's sentence vectors" in capsys.readouterr().err
