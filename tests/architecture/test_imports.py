"""Imports go one way: cli / lecture / bench -> tasks -> training -> nn.

Every ``import`` in ``src/rnnlab`` (top level or inside a function) is read with ``ast``;
a module may import from its own layer or a lower one, never from a higher one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "rnnlab"
LAYERS = {"nn": 0, "training": 1, "tasks": 2}  # everything else (cli, lecture, bench): 3
TOP = 3


def layer_of(module: str) -> int:
    """``rnnlab.tasks.pos.task`` -> 2; ``rnnlab`` itself and the front ends -> 3."""
    parts = module.split(".")
    return LAYERS.get(parts[1], TOP) if len(parts) > 1 else TOP


def module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported(tree: ast.AST, here: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, absolute module) of every import of an ``rnnlab`` module."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.startswith("rnnlab")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = here.split(".")
                base = base if is_package else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                name = ".".join([*base, *([node.module] if node.module else [])])
            else:
                name = node.module or ""
            if name.startswith("rnnlab"):
                # ``from rnnlab.tasks import pos`` imports rnnlab.tasks.pos
                out += [(node.lineno, f"{name}.{a.name}") for a in node.names]
    return out


def upward_imports() -> list[str]:
    bad = []
    for path in sorted(SRC.rglob("*.py")):
        here = module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for line, target in imported(tree, here, path.name == "__init__.py"):
            if layer_of(target) > layer_of(here):
                bad.append(f"{path.relative_to(SRC.parent)}:{line}: {here} imports {target}")
    return bad


def test_no_module_imports_a_higher_layer():
    assert upward_imports() == []


@pytest.mark.parametrize(
    ("module", "layer"),
    [
        ("rnnlab.nn.cells", 0),
        ("rnnlab.training.loop", 1),
        ("rnnlab.tasks.pos.task", 2),
        ("rnnlab.cli", 3),
        ("rnnlab.lecture.parity", 3),
        ("rnnlab", 3),
    ],
)
def test_layers_are_read_from_the_module_path(module, layer):
    assert layer_of(module) == layer


def test_the_walk_finds_an_upward_import(tmp_path):
    """The check can fail: an nn module that imports a task is reported."""
    tree = ast.parse("from rnnlab.tasks import pos\n\ndef f():\n    import rnnlab.cli\n")
    found = imported(tree, "rnnlab.nn.cells", is_package=False)
    assert [t for _, t in found] == ["rnnlab.tasks.pos", "rnnlab.cli"]
    assert all(layer_of(t) > layer_of("rnnlab.nn.cells") for _, t in found)
    rel = ast.parse("from ..training import loop\n")
    assert imported(rel, "rnnlab.nn.cells", False) == [(1, "rnnlab.training.loop")]


GENERIC = ("rnnlab.serve", "rnnlab.cli")  # machinery that serves any task
TASK_INTERFACE = {"rnnlab.tasks", "rnnlab.tasks.base"}  # what it may import of tasks


def task_internals_used_by_generic_machinery() -> list[str]:
    """Imports of a task's own modules (``rnnlab.tasks.parity...``) from generic code."""
    bad = []
    for path in sorted(SRC.rglob("*.py")):
        here = module_name(path)
        if not here.startswith(GENERIC):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for line, target in imported(tree, here, path.name == "__init__.py"):
            if is_task_internal(target):
                bad.append(f"{path.relative_to(SRC.parent)}:{line}: {here} imports {target}")
    return bad


def is_task_internal(target: str) -> bool:
    """``rnnlab.tasks.parity.task`` or ``rnnlab.tasks.parity``: yes; ``rnnlab.tasks.Run``,
    ``rnnlab.tasks.base.Run``: no."""
    if not target.startswith("rnnlab.tasks.") or target in TASK_INTERFACE:
        return False
    parent, last = target.rsplit(".", 1)
    is_module = (SRC / "tasks" / last).is_dir() or (SRC / "tasks" / f"{last}.py").is_file()
    return parent not in TASK_INTERFACE or (
        parent == "rnnlab.tasks" and is_module and last != "base"
    )


def test_generic_machinery_uses_only_the_task_interface():
    assert task_internals_used_by_generic_machinery() == []


def test_the_task_interface_check_can_fail():
    assert is_task_internal("rnnlab.tasks.parity.task.TASK")
    assert is_task_internal("rnnlab.tasks.parity")
    assert not is_task_internal("rnnlab.tasks.load_run")
    assert not is_task_internal("rnnlab.tasks.base.Run")
    assert not is_task_internal("rnnlab.tasks.base")
