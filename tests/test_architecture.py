"""The folders are the architecture: imports point down, never up and never in a circle.

Layers, top to bottom: ``cli`` -> ``tui`` -> ``render`` -> ``dataset`` / ``host``. Model modules
import nothing else of kvmq; ``dataset`` and ``host`` never import textual or rich; ``render``
never imports textual. Built from the source with :mod:`ast`, so it holds for every new file.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "kvmq"

# Higher numbers may import lower ones (and their own wing), never the other way.
LAYER = {"cli": 4, "__main__": 5, "tui": 3, "render": 2, "dataset": 1, "host": 1, "__init__": 0,
         "text": 0}
# Wings that sit on the same layer must not import each other either.
PEERS_APART = {("dataset", "host"), ("host", "dataset")}
THIRD_PARTY_BANNED = {
    "dataset": {"textual", "rich"},
    "host": {"textual", "rich"},
    "render": {"textual"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def wing(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports_of(path: Path) -> set[str]:
    """Every module imported anywhere in the file, TYPE_CHECKING blocks and functions included."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else module_name(path)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            found.add(prefix)
            found.update(f"{prefix}.{alias.name}" for alias in node.names)
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(path): path for path in SRC.rglob("*.py")}
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges[name] = {imported for imported in imports_of(path)
                       if imported in modules and imported != name}
    return edges


def test_the_graph_sees_the_known_edges() -> None:
    """The control: the parser finds edges that exist, so the rules below can fail."""
    edges = graph()
    assert "kvmq.dataset.model" in edges["kvmq.dataset.loader"]
    assert "kvmq.render.dataset" in edges["kvmq.tui.pros_view"]


def test_imports_point_down() -> None:
    upward = []
    for module, targets in graph().items():
        for target in targets:
            source_wing, target_wing = wing(module), wing(target)
            if source_wing == target_wing:
                continue
            if LAYER[target_wing] > LAYER[source_wing] or (source_wing, target_wing) in PEERS_APART:
                upward.append(f"{module} -> {target}")
            if LAYER[target_wing] == LAYER[source_wing] and target_wing != "__init__":
                upward.append(f"{module} -> {target} (same layer)")
    assert upward == []


def test_model_modules_import_nothing_else_of_kvmq() -> None:
    edges = graph()
    for model in ("kvmq.dataset.model", "kvmq.host.model"):
        assert edges[model] == set(), model


def test_no_import_cycles() -> None:
    edges = graph()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for target in sorted(edges[node]):
            if state.get(target) == 1:
                cycles.append([*trail[trail.index(target):], target] if target in trail
                              else [*trail, node, target])
            elif target not in state:
                visit(target, [*trail, target])
        state[node] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert cycles == []


@pytest.mark.parametrize("wing_name", sorted(THIRD_PARTY_BANNED))
def test_plain_wings_stay_plain(wing_name: str) -> None:
    banned = THIRD_PARTY_BANNED[wing_name]
    offenders = []
    for path in (SRC / wing_name).rglob("*.py"):
        for imported in imports_of(path):
            if imported.split(".")[0] in banned:
                offenders.append(f"{module_name(path)} imports {imported}")
    assert offenders == []


def test_no_underscore_name_of_textual_is_used() -> None:
    """Textual's public API only: no ``_private`` attribute of a Textual object, no private module."""
    offenders = []
    for path in (SRC / "tui").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("textual"):
                names = [node.module, *(alias.name for alias in node.names)]
                offenders += [f"{path.name}: import {n}" for n in names
                              if any(part.startswith("_") for part in n.split("."))]
    assert offenders == []


def textual_private_names() -> set[str]:
    """Underscore names (not dunders) defined on Textual's classes that kvmq's widgets build on."""
    import textual.app
    import textual.screen
    import textual.scroll_view
    import textual.widget
    import textual.widgets

    classes = [textual.app.App, textual.screen.Screen, textual.scroll_view.ScrollView,
               textual.widget.Widget, textual.screen.ModalScreen]
    classes += [getattr(textual.widgets, name) for name in ("OptionList", "DataTable", "Static",
                                                            "Input", "TabbedContent", "Label")]
    return {name for cls in classes for name in dir(cls)
            if name.startswith("_") and not name.startswith("__")}


def test_no_underscore_name_of_textual_is_overridden_or_called() -> None:
    private = textual_private_names()
    assert "_size_updated" in private and "_get_style" in private  # the control
    offenders = []
    for path in (SRC / "tui").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in private:
                offenders.append(f"{path.name}:{node.lineno}: defines {node.name}")
            elif isinstance(node, ast.Attribute) and node.attr in private:
                offenders.append(f"{path.name}:{node.lineno}: uses .{node.attr}")
    assert offenders == [], "\n".join(offenders)
