"""Faults while a writer writes: PostgreSQL stopped, the app killed mid-sentence, SQLite full or read-only.

Each fault gives the writer one clear line, keeps what the page shows, loses nothing that was
acknowledged, and the next action after the fault is cured succeeds.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import queue
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import pytest
from gradio_client import Client
from sqlalchemy import event, select

from app.engine_handle import EngineHandle
from app.errors import DatabaseUnavailable
from app.fake_engine import FakeEngine
from app.handlers import LOCAL_USER, Handlers, ShownStory
from app.service import StoryService
from app.store import Store
from app.writing import StepRequest
from storage import Node, make_engine, make_sessionmaker, upgrade
from tests.app.helpers import free_port

REPO = Path(__file__).resolve().parents[2]
PANEL = ("balanced", 0.8, 0.95, 50, 40, 1, 3, 1.0, 7)  # the sampling panel's values, seed 7


class FaultMidSentence:
    """The scripted engine, running `fault()` once, right after the first chunk of the next sentence."""

    def __init__(self, fake: FakeEngine) -> None:
        self.fake, self.model_id, self.fault = fake, fake.model_id, None

    def suggest_keywords(self, context, seed=None):
        return self.fake.suggest_keywords(context, seed)

    def stream_step(self, context, **kwargs):
        for item in self.fake.stream_step(context, **kwargs):
            yield item
            if self.fault is not None:
                fault, self.fault = self.fault, None
                fault()


def write(service: StoryService, user: int, story: int, keywords: str = "") -> str:
    """One acknowledged sentence: the stream ends with the saved story."""
    *_, view = service.stream_write(user_id=user, story_id=story, request=StepRequest(keywords=keywords))
    return view.nodes[-1].text


def press_write(handlers: Handlers, story: int, keywords: str) -> tuple[list, str | None]:
    """The page's Write button: every update it showed, and its error toast (None on success)."""
    updates = []
    try:
        for update in handlers.write_sentence(None, str(story), keywords, *PANEL):
            updates.append(update)
    except gr.Error as error:
        return updates, error.message
    return updates, None


def assert_one_clear_line(message: str | None, *words: str) -> None:
    assert message is not None and "\n" not in message
    assert "Traceback" not in message and "[SQL:" not in message
    for word in words:
        assert word in message


def assert_screen_kept(updates: list) -> None:
    """The saved story on the page was never replaced; words that streamed stay in the live row.

    A refusal before the first word (a database that cannot even take the writing lock) changes nothing.
    """
    assert not any(isinstance(view, ShownStory) or view is None for view, _live in updates)
    assert not updates or updates[-1][1].startswith("3. Then the")


def story_texts(url: str, story: int) -> list[str]:
    """Every node of the story, read afresh from the database (no cache of the app's)."""
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            return list(session.scalars(select(Node.text).where(Node.story_id == story).order_by(Node.id)))
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- PostgreSQL stopped


@dataclass
class PrivateServer:
    """A throwaway PostgreSQL cluster on a loopback port, never the machine's shared one."""

    bin_dir: Path
    root: Path
    port: int
    as_owner: list[str]

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def pg_ctl(self, *args: str) -> None:
        command = [*self.as_owner, str(self.bin_dir / "pg_ctl"), "-D", str(self.root / "data"), *args]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        self.pg_ctl("start", "-w", "-t", "30", "-l", str(self.root / "server.log"), "-o", options)

    def stop(self) -> None:
        """As abrupt as a crash of the server: `pg_ctl stop -m immediate`."""
        self.pg_ctl("stop", "-m", "immediate", "-w", "-t", "30")

    def kill_leftovers(self) -> None:
        pid_file = self.root / "data" / "postmaster.pid"
        if pid_file.is_file():
            try:
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass


@pytest.fixture
def private_postgres():
    binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not binaries:
        pytest.skip("no PostgreSQL binaries in /usr/lib/postgresql (bash scripts/postgres.sh installs them)")
    as_owner: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="cntrl-pg-fault-"))  # not under pytest's root-only folders
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        owner = pwd.getpwnam("postgres")
        os.chown(root, owner.pw_uid, owner.pw_gid)
        as_owner = ["runuser", "-u", "postgres", "--"]
    server = PrivateServer(Path(binaries[-1]).parent, root, free_port(), as_owner)
    subprocess.run([*as_owner, str(server.bin_dir / "initdb"), "-D", str(root / "data"), "-U", "postgres",
                    "--auth=trust", "-E", "UTF8", "--no-sync"], check=True, capture_output=True, timeout=120)
    try:
        server.start()
        yield server
    finally:
        try:
            server.stop()
        except (subprocess.SubprocessError, OSError):
            server.kill_leftovers()
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.postgres
def test_postgres_stopped_while_a_writer_writes(private_postgres):
    store = Store.open(private_postgres.url)
    engine = FaultMidSentence(FakeEngine())
    service = StoryService(engine=EngineHandle.of(engine), store=store)
    handlers = Handlers.of(service)
    user = store.user_id(LOCAL_USER)
    story = service.new_story(user_id=user, premise="Ann drove home.").id
    acknowledged = [write(service, user, story), write(service, user, story)]

    engine.fault = private_postgres.stop  # the server goes down while sentence 3 streams
    updates, message = press_write(handlers, story, "rain")
    assert_one_clear_line(message, "the story database does not answer", "nothing of this action was saved")
    assert_screen_kept(updates)
    with pytest.raises(DatabaseUnavailable):  # reads say the same while it is down
        service.load(user_id=user, story_id=story)

    private_postgres.start()
    updates, message = press_write(handlers, story, "rain")  # the next action after the server is back
    assert message is None and isinstance(updates[-1][0], ShownStory)
    saved = [node.text for node in updates[-1][0].view.nodes]
    assert saved[:2] == acknowledged and "rain" in saved[2]
    assert story_texts(private_postgres.url, story) == saved  # no version of the interrupted sentence
    store.factory.kw["bind"].dispose()


# --------------------------------------------------------------------------- SQLite full or read-only


def sqlite_service(url: str) -> tuple[StoryService, FakeEngine]:
    engine = make_engine(url)
    upgrade(engine=engine)
    fake = FakeEngine()
    return StoryService(engine=EngineHandle.of(fake), store=Store(make_sessionmaker(engine))), fake


def integrity(path: Path) -> str:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return connection.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        connection.close()


def test_a_full_sqlite_database_refuses_clearly_and_stays_sound(tmp_path):
    """Disk full, made with `PRAGMA max_page_count`: capped at the file's current size, SQLite fails every
    write that needs a new page with SQLITE_FULL ("database or disk is full"), the code and path a full
    disk takes. (A small tmpfs or loop mount needs mount rights that a container usually lacks.)"""
    path = tmp_path / "stories.db"
    service, fake = sqlite_service(f"sqlite:///{path}")
    user = service.store.user_id(LOCAL_USER)
    story = service.new_story(user_id=user, premise="Ann drove home.").id
    acknowledged = [write(service, user, story), write(service, user, story)]
    full = {"on": True}

    @event.listens_for(service.store.factory.kw["bind"], "checkout")
    def cap_the_file(dbapi_connection, _record, _proxy):
        pages = 1 if full["on"] else 1_073_741_823  # 1: SQLite raises the cap to the current page count
        dbapi_connection.execute(f"PRAGMA max_page_count={pages}")

    fake.enqueue(["Then", " the rain", *[" kept falling on the long road home" for _ in range(100)], "."])
    updates, message = press_write(Handlers.of(service), story, "rain")
    assert_one_clear_line(message, "the story database is full", "database or disk is full", "free some disk space")
    assert_screen_kept(updates)
    assert integrity(path) == "ok"
    assert story_texts(f"sqlite:///{path}", story) == acknowledged

    full["on"] = False  # space freed
    assert "rain" in write(service, user, story, "rain")
    assert story_texts(f"sqlite:///{path}", story)[:2] == acknowledged and integrity(path) == "ok"


def test_a_read_only_sqlite_database_refuses_clearly_and_stays_sound(tmp_path):
    """Read-only, made honestly for root too: root ignores permission bits, so after `chmod 444` the app
    opens the file the way SQLite opens a file it may not write (for another user, or on a read-only
    mount): `mode=ro`. Every write then fails with SQLITE_READONLY; reads go on."""
    path = tmp_path / "stories.db"
    service, _fake = sqlite_service(f"sqlite:///{path}")
    user = service.store.user_id(LOCAL_USER)
    story = service.new_story(user_id=user, premise="Ann drove home.").id
    acknowledged = [write(service, user, story), write(service, user, story)]
    service.store.factory.kw["bind"].dispose()  # the last connection checkpoints the WAL into the file
    path.chmod(0o444)

    read_only, _fake = sqlite_service(f"sqlite:///file:{path}?mode=ro&uri=true")
    assert [n.text for n in read_only.load(user_id=user, story_id=story).nodes] == acknowledged
    updates, message = press_write(Handlers.of(read_only), story, "rain")
    assert_one_clear_line(message, "the story database is read-only", "attempt to write a readonly database")
    assert_screen_kept(updates)
    read_only.store.factory.kw["bind"].dispose()
    assert integrity(path) == "ok"
    assert story_texts(f"sqlite:///{path}", story) == acknowledged

    path.chmod(0o644)  # writable again
    writable, _fake = sqlite_service(f"sqlite:///{path}")
    assert "rain" in write(writable, user, story, "rain")
    assert integrity(path) == "ok"


# --------------------------------------------------------------------------- the app killed mid-sentence


class AppProcess:
    """`python -m app --fake-engine` (or the announcing variant) on a loopback port; stopped by PID."""

    def __init__(self, command: list[str], port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/"
        self.process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line)

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "the app exited at start"
            try:
                urllib.request.urlopen(f"{self.url}healthz", timeout=2)
                return
            except OSError:
                time.sleep(0.3)
        pytest.fail(f"the app at {self.url} did not start within {timeout} s")

    def wait_for_line(self, prefix: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                break
            if line.startswith(prefix):
                return line
        pytest.fail(f"no line starting {prefix!r} within {timeout} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=20)


@pytest.fixture
def start_app(tmp_path):
    started: list[AppProcess] = []

    def start(*, announcing: bool) -> AppProcess:
        port = free_port()
        head = [sys.executable, "-m", "tests.app.announcing_app", "0.2"] if announcing else \
            [sys.executable, "-m", "app", "--fake-engine"]
        running = AppProcess([*head, "--port", str(port), "--no-eval", "--data-dir", str(tmp_path),
                              "--database-url", f"sqlite:///{tmp_path / 'stories.db'}"], port)
        started.append(running)
        running.wait_ready()
        return running

    yield start
    for running in started:
        running.stop()


def write_when_free(client: Client, story: str, within_s: float = 45) -> str:
    """The next write; a writing lease left by the killed process is waited out (it expires, bounded)."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            return client.predict(story, "rain", api_name="/write_next")
        except Exception as error:  # noqa: BLE001 - only the "busy" refusal is waited out
            if "already being written" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(1)


def test_the_app_killed_mid_sentence_keeps_every_acknowledged_sentence(start_app, tmp_path):
    first = start_app(announcing=True)  # 0.2 s per chunk: a sentence streams for about 2 s
    client = Client(first.url, verbose=False)
    story = client.predict("Ann drove home.", api_name="/new_story")
    acknowledged = [client.predict(story, "", api_name="/write_next") for _ in range(2)]

    job = client.submit(story, "rain", api_name="/write_next")
    first.wait_for_line("CHUNK 3 ")  # sentence 3 has started streaming
    os.kill(first.process.pid, signal.SIGKILL)
    first.process.wait(timeout=20)
    try:
        answer = job.result(timeout=30)
    except Exception as error:  # noqa: BLE001 - any client error: the connection to the killed app broke
        answer = error
    assert not isinstance(answer, str)  # the client was never told the sentence was saved

    database = tmp_path / "stories.db"
    assert integrity(database) == "ok"
    assert story_texts(f"sqlite:///{database}", int(story)) == acknowledged  # no half sentence, no version of it

    second = start_app(announcing=False)  # restarted with `python -m app --fake-engine`
    client = Client(second.url, verbose=False)
    document = json.loads(client.predict(story, api_name="/export_story"))
    assert [node["text"] for node in document["nodes"]] == acknowledged  # everything acknowledged is back
    assert "rain" in write_when_free(client, story)
    texts = story_texts(f"sqlite:///{database}", int(story))
    assert texts[:2] == acknowledged and len(texts) == 3


def test_nothing_is_counted_as_acknowledged_before_its_save(tmp_path):
    """The service yields the saved story only after the commit, so a kill before it loses no acknowledged text."""
    service, _fake = sqlite_service(f"sqlite:///{tmp_path / 'stories.db'}")
    user = service.store.user_id(LOCAL_USER)
    story = service.new_story(user_id=user, premise="Ann drove home.").id
    stream = service.stream_write(user_id=user, story_id=story, request=StepRequest(keywords="rain"))
    next(stream)  # the first words are on the page
    assert story_texts(f"sqlite:///{tmp_path / 'stories.db'}", story) == []
    stream.close()  # the page went away mid-sentence
    assert story_texts(f"sqlite:///{tmp_path / 'stories.db'}", story) == []
    assert service.load(user_id=user, story_id=story).nodes == []
