"""`python -m app`: serve the editor (and the evaluation pages at /eval); `users add` creates an account;
`pairs` writes the writers' preference pairs as JSON Lines."""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from storage.errors import StorageError, one_line

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
STOP_GRACE_S = 3  # after SIGTERM, seconds open page streams get to close before they are cut


def build_parser() -> argparse.ArgumentParser:
    from engine.cli_write import add_sampling_args
    from engine.loading import add_loading_args

    parser = argparse.ArgumentParser(prog="python -m app", description="CNTRL Studio: the story editor in the browser.")
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--data-dir", help="data directory (default: $CNTRL_DATA_DIR or <repo>/data)")
    parser.add_argument("--database-url", help="sessions database URL (default: $CNTRL_DATABASE_URL, "
                        "else SQLite <data dir>/stories.db)")
    parser.add_argument("--login", action="store_true", help="require a login with a database account "
                        "(writer or admin); each user then sees only their own stories (default: no login, "
                        "one local user)")
    parser.add_argument("--auth-file", help="an older file of 'name:argon2-hash' lines: its users are imported "
                        "into the database once (existing accounts are kept); implies --login")
    parser.add_argument("--kb", help="knowledge store file (default: $CNTRL_KB, else <data dir>/knowledge.db)")
    parser.add_argument("--no-knowledge", action="store_true", help="write without retrieving knowledge")
    parser.add_argument("--ranker", default="embedding", help="knowledge ranker: embedding (default) or null")
    parser.add_argument("--predictor", default="model", choices=("model", "rake"), help="keyword predictor")
    parser.add_argument("--fake-engine", action="store_true", help="a scripted engine instead of a model "
                        "(demos and UI tests; loads nothing)")
    parser.add_argument("--no-eval", action="store_true", help="do not serve the evaluation pages at /eval")
    parser.add_argument("--concurrency", type=int, help="sentences written at once (default 1; 16 with --fake-engine or "
                        "--backend vllm, whose server batches them)")
    parser.add_argument("--queue-size", type=int, default=16, help="writers that may wait for their turn; "
                        "one more gets a 'busy, position N' answer at once (default 16)")
    parser.add_argument("--queue-wait", type=float, default=300.0, help="seconds a writer waits in the queue "
                        "before a 'busy' answer (default 300)")
    parser.add_argument("--load-wait", type=float, default=30.0, help="seconds a request made while the model "
                        "loads waits for it before answering 'still loading' (default 30; 0: answer at once)")
    add_sampling_args(parser)
    add_loading_args(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    users = sub.add_parser("users", help="manage accounts").add_subparsers(dest="users_command", required=True)
    add = users.add_parser("add", help="create an account in the database (or set a new password); with "
                           "--auth-file, write the file too")
    add.add_argument("name")
    add.add_argument("--role", choices=("writer", "admin", "rater"), default="writer")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    pairs = sub.add_parser("pairs", help="write the preference pairs of rated sentences (a version rated up "
                           "beside a sibling rated down) as JSON Lines")
    pairs.add_argument("--out", required=True, help="the JSONL file to write")
    pairs.add_argument("--user", help="only this writer's pairs (default: every writer's)")
    # Also accepted after the command; SUPPRESS keeps a value given before it.
    pairs.add_argument("--data-dir", default=argparse.SUPPRESS, help="data directory, as for serving")
    pairs.add_argument("--database-url", default=argparse.SUPPRESS, help="sessions database URL, as for serving")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "users":
            return add_user_command(args)
        if args.command == "pairs":
            return pairs_command(args)
        return serve(args)
    except (ValueError, OSError, SQLAlchemyError, StorageError) as error:
        print(f"error: {one_line(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def open_store(args: argparse.Namespace):
    """The sessions database every command uses: --database-url, else $CNTRL_DATABASE_URL, else SQLite
    in the data directory (--data-dir, else $CNTRL_DATA_DIR, else <repo>/data)."""
    from app.store import Store

    return Store.open(args.database_url, data_dir=args.data_dir)


def add_user_command(args: argparse.Namespace) -> int:
    from app.auth import add_user
    from app.studies.cli import read_password, save_account

    password = read_password(args.name, from_stdin=args.password_stdin)
    store = open_store(args)
    print(save_account(store.factory, name=args.name, role=args.role, password=password))
    if args.auth_file:
        add_user(args.auth_file, args.name, password)
        print(f"saved {args.name} in {args.auth_file}")
    return 0


def pairs_command(args: argparse.Namespace) -> int:
    """Write the preference pairs from the database the editor would serve, and say how many."""
    store = open_store(args)
    count, stories = write_pairs(store.factory, out=Path(args.out), user=args.user)
    whose = f" of {args.user}" if args.user else ""
    if count == 0:
        print(f"no preference pairs{whose} yet (a pair is two versions of one sentence, one rated up and the "
              f"other down); wrote an empty {args.out}")
    else:
        print(f"wrote {count} preference {'pair' if count == 1 else 'pairs'}{whose} from {stories} "
              f"{'story' if stories == 1 else 'stories'} to {args.out}")
    return 0


def write_pairs(factory, *, out: Path, user: str | None = None) -> tuple[int, int]:
    """Write every preference pair (or one writer's) to `out` as JSON Lines; returns (pairs, stories).

    Raises:
        NotFound: There is no user called `user`.
    """
    from storage import get_user_by_name, preference_pairs, run_in_transaction
    from storage.publish import pairs_jsonl

    def read(session) -> list[dict]:
        user_id = get_user_by_name(session, user).id if user else None
        return list(preference_pairs(session, user_id=user_id))

    pairs = run_in_transaction(factory, read)
    out.write_text(pairs_jsonl(pairs), encoding="utf-8")
    return len(pairs), len({pair["meta"]["story"] for pair in pairs})


def serve(args: argparse.Namespace) -> int:
    """Open the database, start loading the model in the background, serve at once."""
    from fastapi import FastAPI

    from app.admission import WritingQueue
    from app.auth import database_checker, import_auth_file, remember_client
    from app.engine_handle import EngineHandle
    from app.health import add_health_routes
    from app.ui import build_demo
    from engine.cli_write import params_from_args
    from engine.paths import data_dir

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    folder = data_dir(args.data_dir)
    os.environ["CNTRL_DATA_DIR"] = str(folder)  # the engine's WordNet lemma lookup takes no data-dir argument
    store = open_store(args)
    if args.auth_file:
        added = import_auth_file(store.factory, args.auth_file)
        print(f"imported {len(added)} accounts from {args.auth_file}" if added else
              f"{args.auth_file}: every user already has an account", flush=True)
    auth = database_checker(store.factory) if args.login or args.auth_file else None
    handle = EngineHandle.of(engine_for(args))
    handle.wait_s = args.load_wait
    concurrency = args.concurrency or (16 if args.backend == "vllm" or args.fake_engine else 1)
    queue = WritingQueue(concurrency=concurrency, capacity=args.queue_size, max_wait_s=args.queue_wait)
    demo = build_demo(handle, store, defaults=params_from_args(args), queue=queue)
    server = FastAPI()
    remember_client(server)  # the login throttle counts failures per client address too
    add_health_routes(server, handle, store.factory, queue)
    eval_demo = None
    if not args.no_eval:
        from app.studies.ui import build_eval_demo

        eval_demo = build_eval_demo(session_factory=store.factory, secret=eval_secret(folder, store.factory), engine=handle)
    mount_pages(server, demo, eval_demo=eval_demo, auth=auth, factory=store.factory)
    print(f"CNTRL Studio on http://{args.host}:{args.port}/" + ("" if args.no_eval else
          f"  (evaluation pages: http://{args.host}:{args.port}/eval/)"), flush=True)
    run_until_stopped(server, host=args.host, port=args.port, on_stop=queue.stop)
    return 0


def run_until_stopped(server, *, host: str, port: int, on_stop) -> None:
    """Serve until SIGTERM or Ctrl-C; then `on_stop()` ends the sentences being written at their next
    token (unsaved; what was saved is kept), and open streams get `STOP_GRACE_S` seconds to close."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig, frame) -> None:
            on_stop()
            super().handle_exit(sig, frame)

    config = uvicorn.Config(server, host=host, port=port, log_level="warning", timeout_graceful_shutdown=STOP_GRACE_S)
    Server(config).run()


def mount_pages(server, demo, *, eval_demo=None, auth=None, factory=None) -> None:
    """Mount the editor at `/` (and the evaluation pages at `/eval`) on `server`.

    `show_error=False`: a refusal (`gr.Error`) still reaches the client as its one-line
    message, but an unexpected exception, or Gradio's own refusal of a malformed value,
    reaches it as a bare "Error"; its text and traceback stay in the server's log. With
    logins and a session `factory`, logins are kept in the database, so every app process
    on it accepts them.
    """
    import gradio as gr

    for blocks in filter(None, (demo, eval_demo)):
        blocks.has_launched = True  # else Gradio copies any file a client names (`/etc/x.json`) into an input
    if eval_demo is not None:
        gr.mount_gradio_app(server, eval_demo, path="/eval", show_error=False)
    gr.mount_gradio_app(server, demo, path="", auth=auth, css=demo.css, show_error=False,
                        auth_message="After 10 failed logins for one name, that name is refused for 60 seconds.")
    if auth is not None and factory is not None:
        from app.auth import share_logins

        share_logins(server, factory)


def engine_for(args: argparse.Namespace):
    """The FakeEngine, or a handle that loads the real pipeline in a background thread."""
    from app.engine_handle import EngineHandle

    if args.fake_engine:
        from app.fake_engine import FakeEngine

        return FakeEngine(chunk_delay_s=0.03)

    from engine.loading import load_config_from_args

    config = load_config_from_args(args)  # a bad flag combination (--backend vllm without --server-url) stops here

    def load():
        from engine.build import KnowledgeOptions, build_pipeline

        knowledge = KnowledgeOptions(kb_path=args.kb, ranker=args.ranker, enabled=not args.no_knowledge)
        return build_pipeline(config, knowledge=knowledge, predictor=args.predictor)

    print(f"loading model {args.model} in the background; the page shows when it is ready", flush=True)
    return EngineHandle.load_in_background(load, description=args.model)


def eval_secret(folder: Path, factory=None) -> bytes:
    """A signing key for rater tokens that survives restarts.

    It is kept in the data directory, and with a session `factory` also in the database:
    the first process stores its key there and every process on the database signs with
    that one, so a rater's token is good on any of them.
    """
    path = folder / "eval-secret"
    if not path.exists():
        path.write_bytes(secrets.token_bytes(32))
        path.chmod(0o600)
    if factory is None:
        return path.read_bytes()
    from storage import run_in_transaction, shared_setting

    return bytes.fromhex(run_in_transaction(
        factory, lambda s: shared_setting(s, key="eval_secret", make=lambda: path.read_bytes().hex())))
