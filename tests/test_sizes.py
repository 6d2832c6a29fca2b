"""No function over 60 lines and no module over 400 lines in the product's packages.

Parsed with `ast`, like tests/test_layers.py. A file may hold a longer function or run longer when
it says why in a one-line comment `# size: <reason>`; the exception then covers that file only,
and a file that carries the comment without needing it fails too, so the reasons stay true.
Alembic migrations are generated and left out.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("common", "engine", "storage", "app")
MAX_FUNCTION_LINES = 60
MAX_FILE_LINES = 400
REASON = re.compile(r"^\s*# size: \S.*$", re.MULTILINE)
# Files someone is splitting now, each with its reason; they leave this list as they are split.
KNOWN: dict[str, str] = {}


def _modules() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py")
                  if "migrations" not in p.relative_to(ROOT).parts)


def _oversized(path: Path) -> list[str]:
    """What in `path` is over the bounds, one line each."""
    source = path.read_text(encoding="utf-8")
    found = []
    lines = len(source.splitlines())
    if lines > MAX_FILE_LINES:
        found.append(f"the file has {lines} lines (over {MAX_FILE_LINES})")
    for node in ast.walk(ast.parse(source, filename=str(path))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                found.append(f"{node.name} (line {node.lineno}) has {length} lines (over {MAX_FUNCTION_LINES})")
    return found


def _excused(path: Path) -> bool:
    return path.relative_to(ROOT).as_posix() in KNOWN or bool(REASON.search(path.read_text(encoding="utf-8")))


def test_functions_and_files_stay_short():
    offenders = [f"{path.relative_to(ROOT).as_posix()}: {what}"
                 for path in _modules() if not _excused(path) for what in _oversized(path)]
    assert not offenders, ("split these into named parts, or say why not with a `# size: <reason>` "
                           "comment in the file:\n" + "\n".join(offenders))


def test_every_size_exception_is_still_needed():
    stale = [path.relative_to(ROOT).as_posix() for path in _modules() if _excused(path) and not _oversized(path)]
    assert not stale, "these files are within the bounds now; remove their size exception:\n" + "\n".join(stale)


def test_known_exceptions_name_files_that_exist():
    missing = [name for name in KNOWN if not (ROOT / name).is_file()]
    assert not missing, f"KNOWN names files that are gone: {missing}"


def test_a_reason_is_one_line_comment():
    assert REASON.search("x = 1\n# size: one table of every option\n")
    assert not REASON.search("# size:\n")
    assert not REASON.search("x = 1  # size of the batch\n")
