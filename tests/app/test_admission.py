"""The writing queue: first come first served, a full queue answers "busy, position N" at
once, a waiter whose turn does not come in time is refused, and nothing is lost."""

from __future__ import annotations

import threading
import time

import pytest

from app.admission import Busy, Stopping, WritingQueue
from app.engine_handle import EngineHandle
from app.service import StoryService
from app.writing import StepRequest, StreamedText


def _hold(queue: WritingQueue, started: threading.Event, release: threading.Event, order: list[str], name: str):
    with queue.ticket():
        order.append(name)
        started.set()
        release.wait(10)


def test_a_full_queue_answers_busy_with_the_position_and_waiters_go_in_order():
    queue = WritingQueue(concurrency=1, capacity=2, max_wait_s=10)
    order: list[str] = []
    release = threading.Event()
    first = threading.Event()
    threads = [threading.Thread(target=_hold, args=(queue, first, release, order, "a"))]
    threads[0].start()
    assert first.wait(5)
    for name in ("b", "c"):  # two wait behind a, in arrival order
        threads.append(threading.Thread(target=_hold, args=(queue, threading.Event(), release, order, name)))
        threads[-1].start()
        deadline = time.monotonic() + 5
        while queue.stats().waiting < len(threads) - 1 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert queue.stats().waiting == 2 and queue.stats().running == 1
    with pytest.raises(Busy, match="you would be position 3; nothing was lost, try again"):
        with queue.ticket():
            pass
    release.set()
    for t in threads:
        t.join(10)
    assert order == ["a", "b", "c"]
    assert queue.stats().waiting == 0 and queue.stats().running == 0


def test_a_waiter_whose_turn_does_not_come_is_refused_and_leaves_the_queue():
    queue = WritingQueue(concurrency=1, capacity=4, max_wait_s=0.3)
    release, started = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold, args=(queue, started, release, [], "a"))
    holder.start()
    assert started.wait(5)
    t = time.monotonic()
    with pytest.raises(Busy, match="still position 1 after 0 s"):
        with queue.ticket():
            pass
    assert 0.25 < time.monotonic() - t < 5
    assert queue.stats().waiting == 0
    release.set()
    holder.join(10)
    with queue.ticket():  # free again
        assert queue.stats().running == 1


def test_concurrency_lets_several_run_at_once():
    queue = WritingQueue(concurrency=3, capacity=0, max_wait_s=1)
    release = threading.Event()
    events = [threading.Event() for _ in range(3)]
    threads = [threading.Thread(target=_hold, args=(queue, e, release, [], str(i))) for i, e in enumerate(events)]
    for t in threads:
        t.start()
    assert all(e.wait(5) for e in events) and queue.stats().running == 3
    with pytest.raises(Busy, match="position 1"):
        with queue.ticket():
            pass
    release.set()
    for t in threads:
        t.join(10)


def test_writers_beyond_the_queue_get_busy_and_lose_nothing(fake, store, alice):
    """Three writers at once, one running and one waiting: the third is refused at once, its
    story untouched; the other two sentences are saved; the third's retry succeeds."""
    fake.chunk_delay_s = 0.15  # a sentence takes about a second: long beside the 0.1 s between arrivals
    service = StoryService(engine=EngineHandle.of(fake), store=store,
                           queue=WritingQueue(concurrency=1, capacity=1, max_wait_s=30))
    stories = [service.new_story(user_id=alice, premise=f"Story {i} began.").id for i in range(3)]
    results: dict[int, str] = {}

    def writer(story_id: int) -> None:
        try:
            for item in service.stream_write(user_id=alice, story_id=story_id, request=StepRequest(keywords="lamp")):
                if not isinstance(item, StreamedText):
                    results[story_id] = "saved"
        except Busy as error:
            results[story_id] = str(error)

    threads = []
    for story_id in stories:
        threads.append(threading.Thread(target=writer, args=(story_id,)))
        threads[-1].start()
        time.sleep(0.1)  # arrive in order: the first runs, the second waits, the third meets a full queue
    for t in threads:
        t.join(30)
    busy = [s for s, r in results.items() if r != "saved"]
    assert len(busy) == 1 and "position 2" in results[busy[0]]
    for story_id in stories:
        nodes = service.load(user_id=alice, story_id=story_id).nodes
        assert len(nodes) == (0 if story_id in busy else 1)
    writer(busy[0])
    assert results[busy[0]] == "saved"
    assert len(service.load(user_id=alice, story_id=busy[0]).nodes) == 1


def test_through_the_api_a_writer_beyond_the_queue_is_told_busy_with_the_position(fake, store):
    """Gradio lets every request through to the writing queue, so the answer reaches API clients."""
    import json

    from gradio_client import Client

    from tests.app.helpers import served

    fake.chunk_delay_s = 0.1
    with served(fake, store, queue=WritingQueue(concurrency=1, capacity=1, max_wait_s=30)) as server:
        clients = [Client(server.url, verbose=False) for _ in range(3)]
        stories = [c.predict(f"Writer {i} drove home.", api_name="/new_story") for i, c in enumerate(clients)]
        outcomes: dict[int, str] = {}

        def write(i: int) -> None:
            try:
                outcomes[i] = "wrote: " + clients[i].predict(stories[i], "", api_name="/write_next")
            except Exception as error:
                outcomes[i] = f"refused: {error}"

        threads = [threading.Thread(target=write, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
            time.sleep(0.15)  # in arrival order: running, waiting, then one too many
        for t in threads:
            t.join(timeout=60)
        busy = [o for o in outcomes.values() if o.startswith("refused")]
        assert len(outcomes) == 3 and len(busy) == 1, outcomes
        assert "busy" in busy[0] and "position 2" in busy[0] and "nothing was lost" in busy[0]
        for i, c in enumerate(clients):  # the busy writer's story is intact; the others got their sentence
            nodes = json.loads(c.predict(stories[i], api_name="/export_story"))["nodes"]
            assert len(nodes) == (0 if outcomes[i].startswith("refused") else 1)


def test_stopping_refuses_waiters_and_ends_the_sentence_being_written_unsaved(fake, store, alice):
    """What SIGTERM does: the waiter is refused at once, the running sentence ends at its next
    token with nothing of it saved, and its story can be written again at once (lock given back)."""
    queue = WritingQueue(concurrency=1, capacity=4, max_wait_s=30)
    service = StoryService(engine=EngineHandle.of(fake), store=store, queue=queue)
    story = service.new_story(user_id=alice, premise="Ann drove home.")
    other = service.new_story(user_id=alice, premise="Bo sailed.")
    stream = service.stream_write(user_id=alice, story_id=story.id, request=StepRequest(keywords="rain"))
    assert isinstance(next(stream), StreamedText)  # the first token is on the page; the sentence holds the queue
    refused: list[str] = []

    def wait_in_queue() -> None:
        try:
            list(service.stream_write(user_id=alice, story_id=other.id, request=StepRequest(keywords="sea")))
        except Stopping as error:
            refused.append(str(error))

    waiter = threading.Thread(target=wait_in_queue)
    waiter.start()
    deadline = time.monotonic() + 5
    while queue.stats().waiting < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    queue.stop()
    waiter.join(5)
    assert refused and "the server is stopping" in refused[0]
    with pytest.raises(Stopping, match="nothing of it was saved"):
        next(stream)
    assert service.load(user_id=alice, story_id=story.id).nodes == []
    with service.locks.hold(story.id, alice):  # the writing lock and lease were given back
        pass
