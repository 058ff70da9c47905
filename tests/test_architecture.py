"""The shape docs/architecture.md promises: imports point down the layers (adapters import each
other only through the named shared modules), no import cycle, no module over 400 lines."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "crawler"
MAX_LINES = 400
LAYERS = {
    "errors": 1,
    "records": 1,
    "config": 1,
    "config_docs": 1,
    "redact": 1,
    "decide": 2,
    "web": 3,
    "storage": 3,
    "llm": 3,
    "observe": 3,
    "testing": 3,
    "engine": 4,
    "crawler": 4,
    "cli": 5,
    "__main__": 5,
}
# Shared vocabulary an adapter may import from another adapter (docs/architecture.md).
SIDEWAYS_OK = {"crawler.web.urls", "crawler.web.serving", "crawler.storage.base"}


def modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for path in ROOT.rglob("*.py"):
        name = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = path
    return out


def module_imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The crawler modules ``path`` imports when it is imported: module level, outside
    ``if TYPE_CHECKING:`` (imports inside functions are lazy on purpose)."""
    found: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        for sub in ast.walk(node):
            if isinstance(sub, ast.Import):
                found.update(a.name for a in sub.names)
            elif isinstance(sub, ast.ImportFrom) and sub.module and sub.level == 0:
                found.add(sub.module)
                found.update(f"{sub.module}.{a.name}" for a in sub.names)
    return {name for name in found if name in known}


def layer(module: str) -> int:
    parts = module.split(".")
    return 0 if len(parts) == 1 else LAYERS[parts[1]]


def graph() -> dict[str, set[str]]:
    known = modules()
    return {m: module_imports(p, known) - {m} for m, p in known.items()}


def test_every_module_has_a_layer() -> None:
    for module in modules():
        layer(module)  # a KeyError names a package docs/architecture.md does not place


def test_imports_point_down_the_layers() -> None:
    wrong = []
    for module, deps in graph().items():
        for dep in deps:
            if layer(dep) > layer(module) and layer(module) != 0:
                wrong.append(f"{module} -> {dep}")
            sideways = layer(dep) == layer(module) == 3
            if sideways and dep.split(".")[1] != module.split(".")[1] and dep not in SIDEWAYS_OK:
                wrong.append(f"{module} -> {dep} (one adapter into another)")
    assert wrong == []


def test_there_is_no_import_cycle() -> None:
    g = graph()
    state: dict[str, int] = {}  # 1: on the path, 2: done
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in sorted(g[node]):
            if state.get(dep) == 1:
                cycles.append([*path[path.index(dep) :], dep])
            elif dep not in state:
                visit(dep, [*path, dep])
        state[node] = 2

    for node in sorted(g):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_no_module_is_over_the_line_limit() -> None:
    long = {
        name: n
        for name, path in modules().items()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}
