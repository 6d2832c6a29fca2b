"""Command-line entry: parses flags, then calls typed functions by keyword.

Each sub-command lives in its own module exposing `register(subparsers)`; the
module sets `func` on its parser, a callable taking the parsed namespace and
returning an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys

SUBCOMMAND_MODULES = (
    "engine.cli_write",
    "engine.cli_plan",
    "engine.cli_prepare",
    "engine.cli_train",
    "engine.cli_coherence",
    "engine.cli_preferences",
    "engine.cli_evaluate",
    "engine.cli_bible",
    "engine.knowledge.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m engine",
        description="CNTRL Studio engine: controllable story writing with external knowledge.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue  # sub-command not built in this checkout
            raise
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
