"""`python -m app`: the one front door to the product's database.

- `serve` (the default): the editor, and the study pages at /eval.
- `users add|list|disable|enable`: accounts of writers, raters and admins.
- `pairs`: the writers' preference pairs as JSON Lines.
- `studies create|invite|results|status|close|reopen|revoke|serve`: human studies.

Every command names the database the same way, `--data-dir` and `--database-url` (before or
after the command); they are passed down to storage as arguments, never through the environment.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from app.cli_users import add_users_commands, read_password, run_users, save_account
from app.studies.cli import add_study_commands, run_study_command
from app.studies.secret import eval_secret
from storage.errors import StorageError, one_line

__all__ = ["build_parser", "eval_secret", "main", "read_password", "save_account", "serve"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
STOP_GRACE_S = 3  # after SIGTERM, seconds open page streams get to close before they are cut
COMMANDS = ("serve", "users", "pairs", "studies")


def add_database_args(parser: argparse.ArgumentParser, *, suppress: bool = False) -> None:
    """--data-dir and --database-url; `suppress` (after a command) keeps a value given before it."""
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument("--data-dir", default=default, help="data directory (default: $CNTRL_DATA_DIR or <repo>/data)")
    parser.add_argument("--database-url", default=default, help="database URL (default: $CNTRL_DATABASE_URL, "
                        "else SQLite <data dir>/stories.db)")


def add_serve_args(parser: argparse.ArgumentParser) -> None:
    """The flags of `serve`: address, logins, knowledge, the engine and the writing queue."""
    from engine.cli_write import add_reranker_arg, add_sampling_args
    from engine.loading import add_loading_args

    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--login", action="store_true", help="require a login with a database account "
                        "(writer or admin); each user then sees only their own stories (default: no login, "
                        "one local user)")
    parser.add_argument("--auth-file", help="an older file of 'name:argon2-hash' lines: its users are imported "
                        "into the database once (existing accounts are kept); implies --login")
    parser.add_argument("--kb", help="knowledge store file (default: $CNTRL_KB, else <data dir>/knowledge.db)")
    parser.add_argument("--no-knowledge", action="store_true", help="write without retrieving knowledge")
    parser.add_argument("--ranker", default="embedding", help="knowledge ranker: embedding (default) or null")
    parser.add_argument("--predictor", default="model", choices=("model", "rake"), help="keyword predictor")
    add_reranker_arg(parser)
    parser.add_argument("--fake-engine", action="store_true", help="a scripted engine instead of a model "
                        "(demos and UI tests; loads nothing)")
    parser.add_argument("--no-eval", action="store_true", help="do not serve the study pages at /eval")
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m app", allow_abbrev=False, description="CNTRL Studio: the story editor in the "
                                     "browser, its accounts, preference pairs and human studies.")
    add_database_args(parser)
    add_serve_args(parser)  # serving is the default: `python -m app --port 8000` serves
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve_parser = sub.add_parser("serve", help="serve the editor and the study pages (the default)")
    add_serve_args(serve_parser)
    for action in serve_parser._actions:  # a flag after `serve` overrides; one before it is kept
        action.default = argparse.SUPPRESS
    add_users_commands(sub)
    pairs = sub.add_parser("pairs", help="write the preference pairs of rated sentences (a version rated up "
                           "beside a sibling rated down) as JSON Lines")
    pairs.add_argument("--out", required=True, help="the JSONL file to write")
    pairs.add_argument("--user", help="only this writer's pairs (default: every writer's)")
    add_study_commands(sub.add_parser("studies", help="human studies: create, invite, results, status, serve"))
    _database_args_everywhere(parser)
    return parser


def _database_args_everywhere(parser: argparse.ArgumentParser) -> None:
    """Accept --data-dir and --database-url after every command and subcommand too."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                if not any(a.dest == "database_url" for a in child._actions):
                    add_database_args(child, suppress=True)
                _database_args_everywhere(child)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "users":
            return run_users(args, factory=open_store(args).factory)
        if args.command == "pairs":
            return pairs_command(args)
        if args.command == "studies":
            return run_study_command(args, factory=open_store(args).factory, folder=data_folder(args))
        return serve(args)
    except (ValueError, OSError, SQLAlchemyError, StorageError) as error:
        print(f"error: {one_line(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def data_folder(args: argparse.Namespace) -> Path:
    """The data directory: --data-dir, else $CNTRL_DATA_DIR, else <repo>/data."""
    from storage import data_dir

    return data_dir(args.data_dir)


def open_store(args: argparse.Namespace):
    """The sessions database every command uses: --database-url, else $CNTRL_DATABASE_URL, else SQLite
    in the data directory (--data-dir, else $CNTRL_DATA_DIR, else <repo>/data)."""
    from app.store import Store

    return Store.open(args.database_url, data_dir=args.data_dir)


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
    from engine.knowledge.lemmas import use_data_dir

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    folder = data_folder(args)
    use_data_dir(folder)  # where the engine's WordNet lemma lookup reads its files
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

    from engine.cli_write import check_reranker
    from engine.loading import load_config_from_args

    config = load_config_from_args(args)  # a bad flag combination (--backend vllm without --server-url) stops here
    check_reranker(args)  # so does a reranker that cannot run (knowledge off)

    def load():
        from engine.build import KnowledgeOptions, build_pipeline

        knowledge = KnowledgeOptions(kb_path=args.kb, ranker=args.ranker, enabled=not args.no_knowledge)
        return build_pipeline(config, knowledge=knowledge, predictor=args.predictor, reranker=args.reranker)

    print(f"loading model {args.model} in the background; the page shows when it is ready", flush=True)
    return EngineHandle.load_in_background(load, description=args.model)
