"""The project's own promises: documented hooks, tested hooks, import boundaries."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from core import hookspecs

REPO = Path(__file__).resolve().parents[1]
HOOKS = [
    name
    for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
    if hasattr(fn, "followup_spec")
]
# What a plugin may import from the core: its public API.
PLUGIN_API = {"core", "core.models", "core.clock", "core.services", "core.contracts", "core.inbox"}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def py_files(folder: str):
    return sorted((REPO / folder).rglob("*.py"))


def test_there_are_hooks():
    assert len(HOOKS) >= 18


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_is_documented(name):
    fn = getattr(hookspecs, name)
    doc = inspect.getdoc(fn) or ""
    params = [p for p in inspect.signature(fn).parameters]
    for param in params:
        assert f":param {param}:" in doc, f"{name}: :param {param}: missing"
    assert ":returns:" in doc, f"{name}: :returns: missing"
    firstresult = fn.followup_spec.get("firstresult", False)
    assert ("firstresult" in doc) == firstresult, f"{name}: say whether it is firstresult"


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_is_exercised_by_a_test(name):
    tests = "\n".join(
        p.read_text() for p in (REPO / "tests").glob("test_*.py") if p.name != "test_meta.py"
    )
    assert f"def {name}(" in tests, f"no test implements the hook {name}"


@pytest.mark.parametrize("path", py_files("core"), ids=lambda p: str(p.relative_to(REPO)))
def test_core_imports_neither_flask_web_nor_plugins(path):
    bad = {
        m
        for m in imports_of(path)
        if m.split(".")[0] in {"flask", "htmx_flask", "web", "plugins", "sp_api", "werkzeug"}
    }
    assert not bad, f"{path.name} imports {bad}"


@pytest.mark.parametrize("path", py_files("plugins"), ids=lambda p: str(p.relative_to(REPO)))
def test_plugins_use_only_the_public_core_api_and_not_each_other(path):
    rel = path.relative_to(REPO / "plugins")
    own = rel.parts[0].removesuffix(".py")
    for module in imports_of(path):
        top = module.split(".")[0]
        if top == "plugins":
            assert module.split(".")[1] == own, f"{rel} imports another plugin: {module}"
        if top == "core":
            assert module in PLUGIN_API, f"{rel} imports core internals: {module}"
        assert top not in {"web", "flask"}, f"{rel} imports {module}"


@pytest.mark.parametrize("path", py_files("web"), ids=lambda p: str(p.relative_to(REPO)))
def test_web_never_imports_plugins(path):
    assert not {m for m in imports_of(path) if m.split(".")[0] == "plugins"}


def test_no_print_outside_the_cli():
    allowed = {"cli.py", "worker.py", "__main__.py", "doctor.py"}
    for folder in ("core", "plugins", "web"):
        for path in py_files(folder):
            if path.name in allowed:
                continue
            tree = ast.parse(path.read_text())
            calls = [
                n
                for n in ast.walk(tree)
                if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "print"
            ]
            assert not calls, f"{path.relative_to(REPO)} uses print(); use logging"
