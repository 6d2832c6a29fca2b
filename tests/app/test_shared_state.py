"""Two StoryServices on one database behave as one: undo, redo and the double-click guard
are kept in the database, so they survive a restart and hold across app processes."""

from __future__ import annotations

import threading

import pytest

from app.engine_handle import EngineHandle
from app.errors import AppError, StoryBusy
from app.fake_engine import FakeEngine
from app.locks import StoryLocks
from app.service import StoryService
from app.store import Store
from app.writing import StepRequest
from tests.app.test_service import regenerate, write


@pytest.fixture
def other(store) -> StoryService:
    """A second service with its own engine, locks and store on the same database: another process."""
    return StoryService(engine=EngineHandle.of(FakeEngine()), store=Store.open())


def texts(view) -> list[str]:
    return [n.text for n in view.nodes]


def test_undo_of_a_regenerate_survives_a_restart(service, alice):
    story = service.new_story(user_id=alice, premise="Ann drove home.")
    for _ in range(3):
        write(service, alice, story.id)
    before = texts(service.load(user_id=alice, story_id=story.id))
    regenerate(service, alice, story.id, 2, "umbrella")
    restarted = StoryService(engine=service.engine, store=Store.open())
    assert texts(restarted.undo(user_id=alice, story_id=story.id)) == before  # the old version, not one sentence less
    assert "umbrella" in restarted.redo(user_id=alice, story_id=story.id).nodes[1].text


def test_one_writer_served_alternately_by_two_processes(service, other, alice):
    """Write, regenerate, edit, switch and undo/redo, each on the other process than the last."""
    story = service.new_story(user_id=alice, premise="Ann drove home.")
    write(service, alice, story.id)
    write(other, alice, story.id)
    two = texts(service.load(user_id=alice, story_id=story.id))
    regenerate(service, alice, story.id, 2, "umbrella")
    edited = other.edit_sentence(user_id=alice, story_id=story.id, index=1, text="The rain stopped.")
    assert texts(edited)[0] == "The rain stopped." and "umbrella" in texts(edited)[1]
    after_undo = service.undo(user_id=alice, story_id=story.id)  # takes back the edit made on the other process
    assert texts(after_undo)[0] == two[0] and "umbrella" in texts(after_undo)[1]
    assert texts(other.undo(user_id=alice, story_id=story.id)) == two  # then the regenerate
    assert "umbrella" in texts(service.redo(user_id=alice, story_id=story.id))[1]
    assert texts(other.redo(user_id=alice, story_id=story.id))[0] == "The rain stopped."
    with pytest.raises(AppError, match="nothing to redo"):
        service.redo(user_id=alice, story_id=story.id)
    write(other, alice, story.id)  # a new sentence ends redo for both
    assert len(service.load(user_id=alice, story_id=story.id).nodes) == 3


def test_a_double_click_split_over_two_processes_writes_one_sentence(service, other, alice, fake):
    fake.chunk_delay_s = 0.05
    story = service.new_story(user_id=alice, premise="Ann drove home.")
    refused: list[Exception] = []
    started = threading.Event()

    def click(svc):
        try:
            for _ in svc.stream_write(user_id=alice, story_id=story.id, request=StepRequest()):
                started.set()
        except StoryBusy as error:
            refused.append(error)

    first = threading.Thread(target=click, args=(service,))
    first.start()
    assert started.wait(10)
    click(other)  # the second click reaches the other process while the first is writing
    first.join()
    assert len(refused) == 1 and "already being written" in str(refused[0])
    assert len(service.load(user_id=alice, story_id=story.id).nodes) == 1
    write(other, alice, story.id)  # once the first is done, the other process may write
    assert len(service.load(user_id=alice, story_id=story.id).nodes) == 2


def test_a_lease_left_by_a_dead_process_runs_out(store, alice, service):
    story = service.new_story(user_id=alice, premise="Ann drove home.")
    import storage

    store.run(lambda s: storage.acquire_lease(s, story_id=story.id, holder="dead-process", ttl_s=0.3))
    with pytest.raises(StoryBusy):
        write(service, alice, story.id)
    threading.Event().wait(0.5)
    write(service, alice, story.id)
    assert len(service.load(user_id=alice, story_id=story.id).nodes) == 1


def test_a_held_lease_is_renewed_while_the_writer_works(store, alice, service):
    story = service.new_story(user_id=alice, premise="Ann drove home.")
    locks = StoryLocks(store, ttl_s=0.3)
    with locks.hold(story.id):
        threading.Event().wait(0.8)  # longer than the lease: the renewals keep it
        with pytest.raises(StoryBusy):
            with StoryLocks(store).hold(story.id):
                pass
    with StoryLocks(store).hold(story.id):  # released at the end
        pass


def test_a_lease_this_process_could_not_give_back_is_taken_again(store, alice, service):
    """The database dropped before the release: this process's next writer takes its own lease again."""
    import storage

    story = service.new_story(user_id=alice, premise="Ann drove home.")
    store.run(lambda s: storage.acquire_lease(s, story_id=story.id, holder=service.locks.holder, ttl_s=30))
    write(service, alice, story.id)
    assert len(service.load(user_id=alice, story_id=story.id).nodes) == 1


def test_another_writers_story_id_cannot_keep_a_story_busy(service, other, alice, bob, fake):
    """Bob asking to write Alice's story is told it does not exist and takes no lock on it."""
    from app.errors import StoryNotFound

    story = service.new_story(user_id=alice, premise="Ann drove home.")
    with service.locks.hold(story.id, alice):
        with pytest.raises(StoryNotFound):
            write(other, bob, story.id)
    with pytest.raises(StoryNotFound):
        with other.locks.hold(story.id, bob):
            pass
    with pytest.raises(StoryNotFound):
        write(other, alice, 10**12)  # no such story at all
    write(other, alice, story.id)
    assert len(service.load(user_id=alice, story_id=story.id).nodes) == 1
