"""Liveness and readiness for scripts and load balancers.

`GET /healthz` answers 200 whenever the process serves HTTP. `GET /readyz` answers 200 once
the model is loaded and the database answers, and 503 with the loading status before that
(or when loading failed, or the database is down), so a script can wait for 200 instead of
meeting "the model is still loading" errors.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from app.admission import WritingQueue
from app.engine_handle import EngineHandle
from storage import ping
from storage.errors import one_line


def database_answers(factory) -> str | None:
    """None when `SELECT 1` works, else the error in one line."""
    try:
        with factory() as session:
            ping(session)
    except Exception as error:  # noqa: BLE001 - any failure means not ready; the reason is reported
        return one_line(error)
    return None


def add_health_routes(server: FastAPI, handle: EngineHandle, factory, queue: WritingQueue | None = None) -> None:
    """Register /healthz and /readyz on `server` (before Gradio is mounted at /).

    /healthz also reports the writing queue: sentences running, writers waiting, and the
    median and 95th percentile of the time admitted requests waited.
    """

    @server.get("/healthz", include_in_schema=False)
    def healthz() -> dict:
        if queue is None:
            return {"status": "up"}
        stats = queue.stats()
        waits = sorted(queue.waits_s)
        return {"status": "up", "queue": {
            "running": stats.running, "waiting": stats.waiting, "capacity": stats.capacity,
            "concurrency": stats.concurrency, "admitted": queue.admitted,
            "wait_p50_s": round(waits[len(waits) // 2], 3) if waits else 0.0,
            "wait_p95_s": round(waits[int(0.95 * (len(waits) - 1))], 3) if waits else 0.0}}

    @server.get("/readyz", include_in_schema=False)
    def readyz() -> JSONResponse:
        database = database_answers(factory)
        model = handle.status().replace("**", "")
        if handle.ready and database is None:
            return JSONResponse({"status": "ready", "model": model}, status_code=200)
        state = "failed" if handle.failed else ("loading" if not handle.ready else "database unavailable")
        return JSONResponse({"status": state, "model": model, "database": database or "ok"}, status_code=503)
