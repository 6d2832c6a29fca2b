"""`python -m engine kb ...`: build, import into and inspect the knowledge store.

The store is `<data_dir>/knowledge.db` unless `--kb PATH` or `CNTRL_KB` says otherwise.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from engine.knowledge.store import KB_ENV_VAR, DamagedStore, kb_path, open_read_only, store_stats
from engine.knowledge.writer import ImportReport


def _kb_from(args: argparse.Namespace) -> Path:
    return kb_path(data_dir_override=getattr(args, "data_dir", None), kb=args.kb)


def _finish_import(report: ImportReport) -> int:
    print(report.summary())
    if report.kept == 0:
        print("nothing was imported" + (" (the file is empty)" if report.rows == 0 else ""))
        return 1
    return 0


def cmd_build_wordnet(args: argparse.Namespace) -> int:
    """Build the default knowledge base from WordNet; skips when already built."""
    from engine.knowledge.import_wordnet import SOURCE_WORDNET, WordNetBuildConfig, build_wordnet

    path = _kb_from(args)
    try:
        existing = source_count(path, SOURCE_WORDNET)
    except DamagedStore:
        if not args.force:
            raise
        aside = path.with_name(f"{path.name}.damaged")
        path.replace(aside)  # kept for inspection; the build starts from an empty store
        print(f"moved the damaged store to {aside}; building a new one at {path}")
        existing = 0
    if existing and not args.force:
        print(f"WordNet already in {path} ({existing:,} edges); use --force to rebuild")
        return 0
    config = WordNetBuildConfig.from_name(args.preset)
    return _finish_import(build_wordnet(kb=path, data_dir_override=args.data_dir, config=config))


def source_count(path: Path, source: str) -> int:
    """Edges of one source in the store (0 when the store does not exist)."""
    if not path.is_file():
        return 0
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from engine.knowledge.store import Edge

    engine = open_read_only(path)
    try:
        with Session(engine) as session:
            return session.scalar(select(func.count()).where(Edge.source == source)) or 0
    finally:
        engine.dispose()


def cmd_import_conceptnet(args: argparse.Namespace) -> int:
    """Import the ConceptNet 5 assertions file."""
    from engine.knowledge.import_conceptnet import import_conceptnet

    return _finish_import(import_conceptnet(path=Path(args.path), kb=_kb_from(args)))


def cmd_import_cn100k(args: argparse.Namespace) -> int:
    """Import a ConceptNet-100k TSV."""
    from engine.knowledge.import_conceptnet import import_cn100k

    return _finish_import(import_cn100k(path=Path(args.path), kb=_kb_from(args)))


def cmd_stats(args: argparse.Namespace) -> int:
    """Print edge counts per relation and source, and the file size."""
    from sqlalchemy.orm import Session

    path = _kb_from(args)
    engine = open_read_only(path)
    try:
        with Session(engine) as session:
            stats = store_stats(session, path)
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps(stats, indent=2))
        return 0
    print(f"{path}: {stats['edges']:,} edges, {stats['bytes'] / 2**20:,.1f} MiB")
    for title in ("sources", "relations"):
        print(f"{title}:")
        for name, count in stats[title].items():
            print(f"  {count:>10,}  {name}")
    return 0


def cmd_query(args: argparse.Namespace) -> int:
    """Print the facts retrieved for a word or phrase."""
    from engine.knowledge.retrieve import StoreRetriever

    path = _kb_from(args)
    retriever = StoreRetriever(path)
    try:
        facts = retriever.retrieve([args.word], limit=args.limit)
    finally:
        retriever.close()
    if args.json:
        keys = ("relation", "head", "tail", "sentence", "weight", "source")
        print(json.dumps([{k: getattr(f, k) for k in keys} for f in facts], indent=2))
        return 0
    if not facts:
        print(f"no facts for {args.word!r} in {path}")
        return 0
    for fact in facts:
        print(f"{fact.weight:7.2f}  {fact.relation:<16} {fact.sentence}  [{fact.source}]")
    return 0


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kb", help=f"knowledge store file (default: ${KB_ENV_VAR} or <data dir>/knowledge.db)")
    parser.add_argument("--data-dir", help="data directory (default: $CNTRL_DATA_DIR or <repo>/data)")


def register(subparsers) -> None:
    """Add the `kb` sub-command and its own sub-commands."""
    kb = subparsers.add_parser("kb", help="knowledge base: build, import, stats, query")
    commands = kb.add_subparsers(dest="kb_command", required=True, metavar="KB_COMMAND")

    build = commands.add_parser("build-wordnet", help="build the default knowledge base from WordNet 3.0")
    build.add_argument("--force", action="store_true", help="rebuild even if WordNet edges exist")
    build.add_argument("--preset", default="full", choices=("full", "tiny"), help="tiny: a 3,000-synset subset")
    _common(build)
    build.set_defaults(func=cmd_build_wordnet)

    importer = commands.add_parser("import", help="import ConceptNet data")
    kinds = importer.add_subparsers(dest="kind", required=True, metavar="KIND")
    conceptnet = kinds.add_parser("conceptnet", help="official ConceptNet 5 assertions CSV (.csv or .csv.gz)")
    conceptnet.add_argument("path")
    _common(conceptnet)
    conceptnet.set_defaults(func=cmd_import_conceptnet)
    cn100k = kinds.add_parser("cn100k", help="ConceptNet-100k TSV: relation, head, tail, score")
    cn100k.add_argument("path")
    _common(cn100k)
    cn100k.set_defaults(func=cmd_import_cn100k)

    stats = commands.add_parser("stats", help="edges per relation and source, size on disk")
    stats.add_argument("--json", action="store_true")
    _common(stats)
    stats.set_defaults(func=cmd_stats)

    query = commands.add_parser("query", help="facts retrieved for a word")
    query.add_argument("word")
    query.add_argument("--limit", type=int, default=50)
    query.add_argument("--json", action="store_true")
    _common(query)
    query.set_defaults(func=cmd_query)
