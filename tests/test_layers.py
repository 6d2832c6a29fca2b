"""The packages' layers hold: common <- engine <- storage <- app, and no import circles.

Every .py under common/, engine/, storage/ and app/ is parsed with `ast` (nothing is imported).

- Layers: an import of a higher layer from a lower one fails the test wherever it is written,
  at module level or inside a function: a function-level import still makes the lower layer
  depend on the higher one, it only delays the failure. `common` imports none of the three,
  `engine` imports neither `storage` nor `app`, `storage` does not import `app` or `engine`.
- Circles: only module-level imports (including those under `if`/`try` at module level, but not
  those under `if TYPE_CHECKING:`) count, since those run when the module is first imported and
  a circle among them can fail half-way. Imports inside functions run when the function is
  called, after every module has loaded, and are the accepted way to defer a heavy import, so
  they are left out of the circle check.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LAYERS = ("common", "engine", "storage", "app")  # lowest first: each may import only those before it


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for layer in LAYERS for p in sorted((REPO / layer).rglob("*.py"))}


def resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    """The absolute module name an `ImportFrom` names (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports(module: str, path: Path, *, module_level: bool) -> list[tuple[str, int]]:
    """(imported module, line) for each import in the file; `module_level`: only those run at import."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if module_level and isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                continue
            if module_level and isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.Import):
                found.extend((alias.name, child.lineno) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = resolve(module, path, child)
                found.append((base, child.lineno))
                # `from storage import stories` imports the submodule storage.stories too
                found.extend((f"{base}.{alias.name}", child.lineno) for alias in child.names)
            visit(child)

    visit(tree)
    return found


def layer_of(module: str) -> int | None:
    top = module.split(".")[0]
    return LAYERS.index(top) if top in LAYERS else None


def test_no_layer_imports_a_higher_one():
    wrong = []
    for module, path in all_modules().items():
        own = layer_of(module)
        for imported, line in imports(module, path, module_level=False):
            other = layer_of(imported)
            if other is not None and other > own:
                wrong.append(f"{path.relative_to(REPO)}:{line} imports {imported}")
    assert not wrong, "a lower layer imports a higher one:\n" + "\n".join(sorted(set(wrong)))


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports at module level."""
    modules = all_modules()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets = {imported for imported, _ in imports(module, path, module_level=True) if imported in modules}
        # importing a.b.c first imports a and a.b: a package's __init__ counts as imported too
        targets |= {".".join(t.split(".")[:i]) for t in set(targets) for i in range(1, t.count(".") + 1)}
        graph[module] = {t for t in targets if t in modules and t != module and not module.startswith(t + ".")}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while (member := stack.pop()) != node:
                component.append(member)
            component.append(node)
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def test_no_import_circles_at_module_level():
    found = circles(import_graph())
    assert not found, "modules that import each other at module level:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_the_checks_see_a_wrong_import_and_a_circle(tmp_path):
    """The checks themselves: a storage module importing engine, and a two-module circle, are found."""
    bad = tmp_path / "bad.py"
    bad.write_text("import engine.paths\n\ndef later():\n    from app import cli\n", encoding="utf-8")
    assert [m for m, _ in imports("storage.bad", bad, module_level=False)] == ["engine.paths", "app", "app.cli"]
    assert [m for m, _ in imports("storage.bad", bad, module_level=True)] == ["engine.paths"]
    assert circles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
