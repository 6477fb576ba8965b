"""The type stubs of flockrl._core name exactly what the compiled module exports."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import flockrl
from flockrl import _core


def stub_names() -> dict[str, set[str]]:
    tree = ast.parse((Path(flockrl.__file__).parent / "_core.pyi").read_text())
    names: dict[str, set[str]] = {"": set()}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            names[""].add(node.name)
        elif isinstance(node, ast.ClassDef):
            names[""].add(node.name)
            names[node.name] = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
    return names


def module_names() -> dict[str, set[str]]:
    public = {n for n in dir(_core) if not n.startswith("_")}
    names: dict[str, set[str]] = {"": public}
    for name in public:
        obj = getattr(_core, name)
        if inspect.isclass(obj):
            names[name] = {n for n in vars(obj) if not n.startswith("_") or n == "__init__"}
    return names


def test_stubs_match_the_compiled_module():
    assert stub_names() == module_names()


def test_package_ships_py_typed():
    assert (Path(flockrl.__file__).parent / "py.typed").exists()
