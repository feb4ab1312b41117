"""The shape of the code, read from its source: desktop's modules import each other without a circle, and only
downward through the layers

    entry (desktop.cli, desktop.__main__, desktop.app.bootstrap) -> ui -> app -> core, audio, tools, engine, history

so core, audio, tools, engine and history never import app or ui, and core, tools and history never import Qt.
Every import counts, including the ones inside functions (deferred imports still run and still tie modules
together), except those under `if TYPE_CHECKING:` for the circle check: they never run, which is what makes
them the way to name a type from a module that imports you. They must still point downward.

desktop.app.bootstrap counts as entry: it is the composition root that starts Qt and puts the controller and
the window together, and only the command line imports it.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "desktop"
RANK = {"entry": 4, "ui": 3, "app": 2, "core": 1, "audio": 1, "tools": 1, "engine": 1, "history": 1, "base": 0}
QT_FREE = ("core", "tools", "history")
QT_MODULES = ("PySide6", "shiboken6", "qasync")
ENTRY = ("desktop.cli", "desktop.__main__", "desktop.app.bootstrap")


@dataclass(frozen=True)
class Import:
    source: str  # importing module
    target: str  # imported module (a desktop module, or a top-level name outside desktop)
    line: int
    type_only: bool


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> str:
    parts = module.split(".")
    if module == "desktop":
        return "base"
    if module in ENTRY:
        return "entry"
    return parts[1]


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _walk(node: ast.AST, type_only: bool = False) -> Iterator[tuple[ast.AST, bool]]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for inner in child.body:
                yield inner, True
                yield from _walk(inner, True)
            for inner in child.orelse:
                yield inner, type_only
                yield from _walk(inner, type_only)
            continue
        yield child, type_only
        yield from _walk(child, type_only)


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> list[Import]:
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node, type_only in _walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from pkg import name` imports the submodule pkg.name when there is one, else pkg itself
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        for name in names:
            target = name if name.split(".")[0] != "desktop" else _known(name, modules)
            found.append(Import(module, target, node.lineno, type_only))
    return found


def _known(name: str, modules: dict[str, Path]) -> str:
    while name not in modules and "." in name:
        name = name.rpartition(".")[0]
    return name


def graph() -> list[Import]:
    modules = all_modules()
    return [imp for module, path in modules.items() for imp in imports_of(module, path, modules)]


def find_cycle(edges: list[Import]) -> list[str] | None:
    """One import circle among desktop modules (run-time imports only), or None."""
    succ: dict[str, set[str]] = {}
    for imp in edges:
        if not imp.type_only and imp.target.startswith("desktop") and imp.target != imp.source:
            succ.setdefault(imp.source, set()).add(imp.target)
    state: dict[str, int] = {}  # 1 on the current path, 2 finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(succ.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(succ):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_desktop_has_no_import_circle() -> None:
    cycle = find_cycle(graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_layers_import_only_downward() -> None:
    wrong = [f"{imp.source}:{imp.line} imports {imp.target}" for imp in graph()
             if imp.target.startswith("desktop") and RANK[layer(imp.target)] > RANK[layer(imp.source)]]
    assert wrong == []


def test_core_and_tools_never_import_qt() -> None:
    wrong = [f"{imp.source}:{imp.line} imports {imp.target}" for imp in graph()
             if layer(imp.source) in QT_FREE and imp.target.split(".")[0] in QT_MODULES]
    assert wrong == []


# The checks themselves must be able to fail: each is run on a small made-up package.

@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "desktop"
    for sub in ("", "app", "core", "ui"):
        (root / sub).mkdir(exist_ok=True)
        (root / sub / "__init__.py").write_text("")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", root)
    return root


def test_a_circle_through_a_deferred_import_is_found(fake: Path) -> None:
    (fake / "cli.py").write_text("from desktop.app.options import Options\n"
                                 "def main():\n    from desktop.app import bootstrap\n")
    (fake / "app" / "options.py").write_text("")
    (fake / "app" / "bootstrap.py").write_text("from desktop.ui.window import Window\n")
    (fake / "ui" / "window.py").write_text("from desktop.app.controller import C\n")
    (fake / "app" / "controller.py").write_text("from desktop.cli import Options\n")
    assert find_cycle(graph()) == ["desktop.app.bootstrap", "desktop.ui.window", "desktop.app.controller",
                                   "desktop.cli", "desktop.app.bootstrap"]
    (fake / "app" / "controller.py").write_text("from typing import TYPE_CHECKING\n"
                                                "if TYPE_CHECKING:\n    from desktop.app.options import O\n")
    assert find_cycle(graph()) is None


def test_an_upward_import_and_qt_in_core_are_found(fake: Path) -> None:
    (fake / "core" / "thing.py").write_text("from typing import TYPE_CHECKING\nimport PySide6.QtCore\n"
                                            "if TYPE_CHECKING:\n    from ..app import controller\n")
    (fake / "app" / "controller.py").write_text("")
    imports = {(imp.source, imp.target, imp.type_only) for imp in graph()}
    assert ("desktop.core.thing", "desktop.app.controller", True) in imports
    assert ("desktop.core.thing", "PySide6.QtCore", False) in imports
    with pytest.raises(AssertionError, match=re.escape("desktop.core.thing:4 imports desktop.app.controller")):
        test_layers_import_only_downward()
    with pytest.raises(AssertionError, match=re.escape("imports PySide6.QtCore")):
        test_core_and_tools_never_import_qt()
