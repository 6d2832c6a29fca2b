"""Command line: `python -m storage upgrade [--db URL]` and friends."""

from __future__ import annotations

import argparse
import sys

from alembic.util import CommandError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from storage.db import make_engine
from storage.errors import StorageError, one_line
from storage.migrate import current_revision, downgrade, head_revision, upgrade


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one migration command."""
    parser = argparse.ArgumentParser(
        prog="python -m storage", description="CNTRL Studio database tools"
    )
    parser.add_argument(
        "--db", help="database URL (default: CNTRL_DATABASE_URL, else data/stories.db)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("upgrade", help="migrate the database to a revision (default: head)")
    up.add_argument("revision", nargs="?", default="head")
    down = sub.add_parser("downgrade", help="migrate the database down to a revision")
    down.add_argument("revision")
    sub.add_parser("current", help="print the database's revision and the newest one")
    for child in sub.choices.values():
        child.add_argument("--db", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except (StorageError, SQLAlchemyError, CommandError, ValueError, OSError) as error:
        message = f"revision: {error}" if isinstance(error, CommandError) else one_line(error)
        if isinstance(error, ArgumentError | ValueError | OSError):
            message = f"database URL: {error}"
        print(f"error: {message}", file=sys.stderr)
        return 2


def run(args: argparse.Namespace) -> int:
    engine = make_engine(args.db)
    where = make_url(engine.url).render_as_string(hide_password=True)
    try:
        if args.command == "upgrade":
            print(f"{where}: at {upgrade(engine=engine, revision=args.revision)}")
        elif args.command == "downgrade":
            print(f"{where}: at {downgrade(engine=engine, revision=args.revision)}")
        else:
            print(f"{where}: at {current_revision(engine)} (newest: {head_revision()})")
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
