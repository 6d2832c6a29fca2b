"""`python -m app studies ...`: create studies, invite raters, read results, serve the rater pages.

`add_study_commands` puts these under the front door (`app/cli.py`), which opens the database from
--database-url / --data-dir and hands it to `run_study_command`. `main` is the old door,
`python -m app.evaluation [--db URL] ...`, kept for one release: it passes its arguments on.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from app.studies.create import (
    DEFAULT_PREMISES,
    FromRatings,
    Generation,
    StudySettings,
    describe_provenance,
    make_study,
)
from app.studies.invites import issue_invites
from app.studies.results import QualityRules, write_exports
from app.studies.studies import StudySpec
from app.studies.systems import SYSTEM_NAMES
from storage import (
    STUDY_KINDS,
    get_study,
    get_user_by_name,
    revoke_invites,
    run_in_transaction,
    set_closed,
    study_ratings,
)

OLD_DOOR_NOTICE = ("note: python -m app.evaluation is now python -m app studies (accounts: python -m app users); "
                   "the old name goes in the next release")


def add_study_commands(parser: argparse.ArgumentParser) -> None:
    """The subcommands of `python -m app studies` on its `parser`."""
    sub = parser.add_subparsers(dest="study_command", required=True)
    _add_create(sub)
    invite = sub.add_parser("invite", help="print one-time invite tokens for a study")
    invite.add_argument("--study", type=int, required=True)
    invite.add_argument("--count", type=int, default=1)
    invite.add_argument("--days", type=float, default=7.0)
    invite.add_argument(
        "--url", default="http://127.0.0.1:7861/", help="base URL of the rater page"
    )
    invite.add_argument("--force", action="store_true", help="invite even when the study has no open slots left")
    results = sub.add_parser("results", help="print a study's results and export them")
    results.add_argument("--study", type=int, required=True)
    results.add_argument(
        "--min-accuracy", type=float, default=0.8, help="attention-check accuracy to pass"
    )
    results.add_argument(
        "--min-seconds", type=float, default=0.0, help="median seconds per item to pass"
    )
    results.add_argument("--exclude-flagged", action="store_true")
    results.add_argument("--resamples", type=int, default=1000)
    results.add_argument("--out", default=None, metavar="DIR", help="folder for the summary and raw ratings "
                         "(CSV and JSONL); default: <data dir>/study-ID-NAME")
    status = sub.add_parser("status", help="how a study is running: open items, raters, agreement")
    status.add_argument("--study", type=int, required=True)
    status.add_argument("--min-accuracy", type=float, default=0.8)
    status.add_argument("--min-seconds", type=float, default=0.0)
    for verb, text in (("close", "stop a study: no new raters or answers"), ("reopen", "open a closed study")):
        sub.add_parser(verb, help=text).add_argument("--study", type=int, required=True)
    revoke = sub.add_parser("revoke", help="withdraw a study's unused invites (all, or --invite ids)")
    revoke.add_argument("--study", type=int, required=True)
    revoke.add_argument("--invite", default="", help="comma-separated invite ids (default: all unused)")
    serve = sub.add_parser("serve", help="serve the rater and admin pages")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=7861)


def _add_create(sub) -> None:
    """`studies create`: from saved stories, from the writers' ratings, or premises x systems generated."""
    create = sub.add_parser(
        "create", help="create a study from saved stories, from the writers' ratings, or by generating them"
    )
    create.add_argument("--name", required=True)
    create.add_argument("--kind", choices=STUDY_KINDS, required=True)
    create.add_argument("--criteria", default="", help="comma-separated (default depends on kind)")
    create.add_argument("--k", type=int, default=3, help="distinct raters per item")
    create.add_argument(
        "--attention-rate", type=float, default=0.1, help="share of attention checks per rater"
    )
    create.add_argument("--raters", default="", help="comma-separated rater names to assign now")
    create.add_argument("--owner", default=None, help="admin name that owns the study")
    create.add_argument("--instructions", default="")
    create.add_argument("--seed", type=int, default=0)
    saved = create.add_argument_group("from saved stories")
    saved.add_argument("--stories", default="", help="comma-separated story ids (of --owner)")
    rated = create.add_argument_group("from the writers' ratings")
    rated.add_argument("--from-ratings", action="store_true", help="pairwise: each preference pair (a version "
                       "of a sentence rated up beside one rated down) is an item; --limit caps the pairs")
    gen = create.add_argument_group("generated: premises x systems")
    gen.add_argument(
        "--premises", default=DEFAULT_PREMISES, help="CSV (first sentence) or text file"
    )
    gen.add_argument("--limit", type=int, default=10, help="how many premises (with --from-ratings: pairs)")
    gen.add_argument("--offset", type=int, default=0)
    gen.add_argument(
        "--systems", default="full,plain", help=f"comma-separated: {', '.join(SYSTEM_NAMES)}"
    )
    gen.add_argument(
        "--model", default="default", help="load preset, hub id, directory or GGUF file"
    )
    gen.add_argument("--other-model", default=None, help="model of the 'model' system")
    gen.add_argument("--sentences", type=int, default=4, help="sentences after each premise")
    gen.add_argument("--kb", default=None, help="knowledge base file")
    gen.add_argument("--predictor", choices=("model", "rake"), default="model")


def run_study_command(args: argparse.Namespace, *, factory, folder: Path) -> int:
    """Run one `studies` subcommand on the database the front door opened (`folder`: the data directory)."""
    if args.study_command == "serve":
        from app.studies.secret import eval_secret
        from app.studies.ui import build_eval_demo

        print(f"evaluation pages on http://{args.host}:{args.port}/", flush=True)
        build_eval_demo(session_factory=factory, secret=eval_secret(folder, factory)).launch(
            server_name=args.host, server_port=args.port, quiet=True)
        return 0
    if args.study_command == "results":
        run_results(factory=factory, args=args, folder=folder)
        return 0
    handler = {
        "create": run_create,
        "invite": run_invite,
        "status": run_status,
        "close": run_close,
        "reopen": run_close,
        "revoke": run_revoke,
    }[args.study_command]
    handler(factory=factory, args=args)
    return 0


def old_door_arguments(argv: list[str]) -> list[str]:
    """`[--db URL] COMMAND ...` of `python -m app.evaluation` as `python -m app` arguments."""
    argv, front = list(argv), []
    for i, arg in enumerate(argv):
        if arg == "--db" and i + 1 < len(argv):
            front, argv = ["--database-url", argv[i + 1]], argv[:i] + argv[i + 2:]
            break
        if arg.startswith("--db="):
            front, argv = ["--database-url", arg.removeprefix("--db=")], argv[:i] + argv[i + 1:]
            break
    command = "users" if argv[:1] == ["users"] else "studies"
    return [*front, *([] if command == "users" else ["studies"]), *argv]


def main(argv: list[str] | None = None) -> int:
    """The old door: `python -m app.evaluation [--db URL] COMMAND ...` run as `python -m app`."""
    import sys

    from app.cli import main as front_door

    return front_door(old_door_arguments(sys.argv[1:] if argv is None else argv))


def _names(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def run_create(*, factory, args: argparse.Namespace) -> None:
    """Parse the flags into the study's settings and make it (`make_study`, as the admin page does)."""
    owner_id = run_in_transaction(factory, lambda s: get_user_by_name(s, args.owner).id) if args.owner else None
    settings = StudySettings(
        spec=StudySpec(
            name=args.name,
            kind=args.kind,
            criteria=_names(args.criteria),
            overlap_k=args.k,
            attention_rate=args.attention_rate,
            instructions=args.instructions,
            seed=args.seed,
        ),
        owner_id=owner_id,
        story_ids=tuple(int(i) for i in _names(args.stories)),
        generation=Generation(
            premises=args.premises,
            limit=args.limit,
            offset=args.offset,
            systems=tuple(_names(args.systems)),
            model=args.model,
            other_model=args.other_model,
            sentences=args.sentences,
            kb=args.kb,
            predictor=args.predictor,
        ),
        raters=tuple(_names(args.raters)),
        ratings=FromRatings(limit=args.limit) if args.from_ratings else None,
    )
    made = make_study(factory, settings=settings)
    later = "" if made.assignments else "; raters get their share of items when they open an invite"
    what = f"{made.stories // 2} preference pairs" if args.from_ratings else f"{made.stories} stories"
    print(f"study {made.study_id}: {what}, {made.assignments} assignments{later}")
    for system, provenance in made.provenance.items():
        print(f"  {system}: {describe_provenance(provenance)}")
    if made.idle_raters:
        print(f"note: {', '.join(made.idle_raters)} got no items: every item already has {args.k} raters")


def run_invite(*, factory, args: argparse.Namespace) -> None:
    """Print invite links (only their hashes are stored); a study without room refuses unless --force."""
    made = issue_invites(factory, study_id=args.study, count=args.count, days=args.days, base_url=args.url,
                         force=args.force)
    for invite_id, link in made.links:
        print(f"{link}  # invite {invite_id}")
    print(f"study {args.study} now has {made.room.describe()}")


def run_revoke(*, factory, args: argparse.Namespace) -> None:
    """Withdraw unused invites: a withdrawn link is refused even if someone kept it."""
    ids = [int(i) for i in _names(args.invite)] if args.invite else None
    count = run_in_transaction(
        factory, lambda s: revoke_invites(s, study_id=args.study, invite_ids=ids)
    )
    print(f"withdrew {count} unused invites of study {args.study}")


def run_results(*, factory, args: argparse.Namespace, folder: Path) -> None:
    """Print the results tables and write the exports where --out says (default: a folder named for the study)."""
    from app.studies.report import format_report
    from app.studies.results import study_results

    rules = QualityRules(
        min_check_accuracy=args.min_accuracy,
        min_seconds_per_item=args.min_seconds,
        exclude_flagged=args.exclude_flagged,
    )
    results = run_in_transaction(
        factory,
        lambda s: study_results(s, study_id=args.study, rules=rules, n_resamples=args.resamples),
    )
    records = run_in_transaction(factory, lambda s: study_ratings(s, study_id=args.study))
    print(format_report(results))
    out = Path(args.out) if args.out else default_out(factory, args.study, folder)
    paths = write_exports(out, study_id=args.study, results=results, records=records)
    print(f"\nwrote {', '.join(p.name for p in paths)} to {out}")


def default_out(factory, study_id: int, folder: Path) -> Path:
    """`<data dir>/study-ID-NAME`: the study's own folder for its exports."""
    name = run_in_transaction(factory, lambda s: get_study(s, study_id).name)
    slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()[:40]
    return folder / f"study-{study_id}{'-' + slug if slug else ''}"


def run_status(*, factory, args: argparse.Namespace) -> None:
    """Print where a study stands."""
    from app.studies.status import format_status, study_status

    rules = QualityRules(min_check_accuracy=args.min_accuracy, min_seconds_per_item=args.min_seconds)
    print(format_status(run_in_transaction(factory, lambda s: study_status(s, study_id=args.study, rules=rules))))


def run_close(*, factory, args: argparse.Namespace) -> None:
    closed = args.study_command == "close"
    study = run_in_transaction(factory, lambda s: set_closed(s, study_id=args.study, closed=closed).name)
    print(f"study {args.study} {study!r} is {'closed' if closed else 'open'}")
