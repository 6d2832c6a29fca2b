"""/healthz and /readyz, and calls made while the model loads waiting (bounded) for it."""

from __future__ import annotations

import threading
import time

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.engine_handle import EngineHandle
from app.errors import AppError
from app.fake_engine import FakeEngine
from app.health import add_health_routes
from storage import make_engine, make_sessionmaker


def _client(handle, factory) -> TestClient:
    server = FastAPI()
    add_health_routes(server, handle, factory)
    return TestClient(server)


def test_readyz_is_503_while_loading_and_200_once_ready(store):
    release = threading.Event()

    def load():
        release.wait(10)
        return FakeEngine()

    handle = EngineHandle.load_in_background(load, description="fake")
    client = _client(handle, store.factory)
    assert client.get("/healthz").status_code == 200
    loading = client.get("/readyz")
    assert loading.status_code == 503 and loading.json()["status"] == "loading"
    assert "Loading model fake" in loading.json()["model"]
    release.set()
    deadline = time.monotonic() + 10
    while client.get("/readyz").status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert client.get("/readyz").json()["status"] == "ready"


def test_readyz_reports_a_failed_load_and_a_database_that_does_not_answer(store):
    def load():
        raise FileNotFoundError("no such model: nope")

    failed = EngineHandle.load_in_background(load, description="nope")
    failed._settled.wait(5)
    answer = _client(failed, store.factory).get("/readyz")
    assert answer.status_code == 503 and answer.json()["status"] == "failed"
    missing = make_sessionmaker(make_engine("postgresql+psycopg://nobody:pw@127.0.0.1:9/none"))  # port 9: closed
    down = _client(EngineHandle.of(FakeEngine()), missing).get("/readyz")
    assert down.status_code == 503 and down.json()["status"] == "database unavailable"
    assert down.json()["database"] != "ok"


def test_a_call_made_while_loading_waits_for_the_model_then_gives_up_clearly():
    release = threading.Event()

    def load():
        release.wait(10)
        return FakeEngine()

    handle = EngineHandle.load_in_background(load, description="fake")
    handle.wait_s = 0.2
    started = time.monotonic()
    with pytest.raises(AppError, match="still loading"):
        handle.get()
    assert 0.15 < time.monotonic() - started < 5
    handle.wait_s = 10
    threading.Timer(0.2, release.set).start()
    assert isinstance(handle.get(), FakeEngine)  # waited for the load instead of refusing


def test_healthz_reports_the_writing_queue(store):
    from app.admission import WritingQueue

    queue = WritingQueue(concurrency=1, capacity=3, max_wait_s=5)
    server = FastAPI()
    add_health_routes(server, EngineHandle.of(FakeEngine()), store.factory, queue)
    client = TestClient(server)
    with queue.ticket():
        busy = client.get("/healthz").json()["queue"]
        assert busy["running"] == 1 and busy["waiting"] == 0 and busy["capacity"] == 3
    idle = client.get("/healthz").json()["queue"]
    assert idle["running"] == 0 and idle["admitted"] == 1 and 0 <= idle["wait_p95_s"] < 1
