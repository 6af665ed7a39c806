"""The project's own promises: documented hooks, tested hooks, import boundaries."""

from __future__ import annotations

import ast
import inspect
import re
import sys
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
PLUGIN_API = {"core"}


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


# The whole plugin contract, by name: adding, removing or renaming a hook in
# core/hookspecs.py is a change to this list too (and to docs/plugins.md and a test).
EXPECTED_HOOKS = [
    "adjust_send_time",
    "default_sequences",
    "delivery_window",
    "invoice_url",
    "message_attachments",
    "message_failed",
    "message_sent",
    "register_content_checks",
    "register_jobs",
    "register_marketplaces",
    "register_order_sources",
    "register_rules",
    "register_senders",
    "register_settings_pages",
    "register_triggers",
    "review_request_window",
    "send_vetoes",
    "template_context",
]


def test_the_hooks_are_exactly_the_expected_ones():
    assert sorted(HOOKS) == EXPECTED_HOOKS


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


def hook_tests() -> set[str]:
    tree = ast.parse((REPO / "tests" / "test_hooks.py").read_text())
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_has_its_own_test(name):
    """tests/test_hooks.py holds ``test_hook_<name>``: it registers a throw-away plugin
    implementing the hook, calls it through the engine and asserts what it changed."""
    assert f"test_hook_{name}" in hook_tests(), f"tests/test_hooks.py: test_hook_{name} missing"


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


# An import inside a function hides a module's dependencies; one that stays says why, on
# its line or the line above: "# here, not at the top: <cycle X ↔ Y | start-up cost of Z>".
IMPORT_HERE_BECAUSE = re.compile(r"# here, not at the top: (cycle \S+ ↔ \S+|start-up cost of \S+)")


def unexplained_function_imports(path: Path) -> list[str]:
    """``path``'s imports inside functions without the comment saying why they are there."""
    lines = path.read_text().splitlines()
    tree = ast.parse("\n".join(lines), filename=str(path))
    found = []
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.Import | ast.ImportFrom):
                near = lines[node.lineno - 1] + (lines[node.lineno - 2] if node.lineno > 1 else "")
                if not IMPORT_HERE_BECAUSE.search(near):
                    found.append(f"{path.relative_to(REPO)}:{node.lineno}: {ast.unparse(node)}")
    return sorted(set(found))


@pytest.mark.parametrize(
    "path", py_files("core") + py_files("plugins"), ids=lambda p: str(p.relative_to(REPO))
)
def test_imports_sit_at_the_top_unless_a_comment_says_why(path):
    bad = unexplained_function_imports(path)
    assert not bad, f"move these imports to the top, or say why they stay: {bad}"


def test_the_function_import_check_finds_one(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    (tmp_path / "m.py").write_text(
        "def f():\n"
        "    import json\n"
        "    # here, not at the top: start-up cost of redis\n"
        "    import redis\n"
        "    from . import a  # here, not at the top: cycle core.a ↔ core.b\n"
    )
    assert unexplained_function_imports(tmp_path / "m.py") == ["m.py:2: import json"]


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


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_of(path: Path) -> str:
    """The package a module's relative imports start from."""
    name = module_name(path)
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def from_import(node: ast.ImportFrom, package: str, modules) -> set[str]:
    """What ``from X import a, b`` imports: ``X.a`` and ``X.b`` where they are modules in
    ``modules``, and ``X`` itself when a name comes from its body; relative ``X`` is
    resolved against ``package``."""
    base = node.module or ""
    if node.level:
        anchor = package.split(".")
        anchor = anchor[: len(anchor) - node.level + 1]
        base = ".".join(anchor + ([base] if base else []))
    names = {f"{base}.{alias.name}" for alias in node.names}
    found = names & set(modules)
    if not names <= set(modules):  # a name from the package's own body
        found.add(base)
    return found


def load_time_imports(path: Path, modules=frozenset()) -> set[str]:
    """Modules imported when ``path`` is imported: its top-level statements only, not
    imports inside functions or under ``if TYPE_CHECKING``; relative ones resolved.

    ``from pkg import a, b`` where ``pkg.a`` and ``pkg.b`` are both in ``modules`` imports
    those submodules, not a name defined in ``pkg/__init__.py``: it counts as importing
    them only. (``pkg`` itself is the importer's parent or is being imported anyway, and
    its body is not read.) That is what lets a package's ``__init__`` import its view
    modules to register their routes while they import a sibling with ``from . import``.
    """
    tree = ast.parse(path.read_text(), filename=str(path))
    package = package_of(path)
    found: set[str] = set()

    def visit(statements):
        for node in statements:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, ast.If | ast.Try):
                visit(node.body)
                visit(getattr(node, "orelse", []))
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                found.update(from_import(node, package, modules))

    visit(tree.body)
    return found


def import_cycles(folders: tuple[str, ...]) -> list[list[str]]:
    modules = {module_name(p): p for folder in folders for p in py_files(folder)}
    graph = {
        name: sorted(
            m for m in load_time_imports(path, modules.keys()) if m in modules and m != name
        )
        for name, path in modules.items()
    }
    cycles, index, low, stack, on_stack = [], {}, {}, [], set()

    def strongconnect(node):  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                strongconnect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for name in graph:
        if name not in index:
            strongconnect(name)
    return cycles


def test_no_import_cycle_in_core_web_and_plugins():
    assert import_cycles(("core", "web", "plugins")) == []


def test_the_import_cycle_check_finds_a_cycle(tmp_path, monkeypatch):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "a.py").write_text("from .b import x\n")
    (tmp_path / "pkg" / "b.py").write_text("from pkg import a\nx = 1\n")
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    assert import_cycles(("pkg",)) == [["pkg.a", "pkg.b"]]


def test_the_import_cycle_check_finds_a_cycle_through_a_package_body(tmp_path, monkeypatch):
    """A view importing ``bp`` from the ``__init__`` that imports the view is a cycle."""
    (tmp_path / "area").mkdir()
    (tmp_path / "area" / "__init__.py").write_text("bp = object()\nfrom . import views\n")
    (tmp_path / "area" / "views.py").write_text("from . import bp\n")
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    assert import_cycles(("area",)) == [["area", "area.views"]]


def test_the_blueprint_module_pattern_is_no_cycle(tmp_path, monkeypatch):
    """``bp`` alone in ``blueprint.py``, views importing it and a sibling helper, the
    package's ``__init__`` importing the views to register them: no cycle."""
    (tmp_path / "area").mkdir()
    files = {
        "__init__.py": "from . import views\nfrom .blueprint import bp\n",
        "blueprint.py": "bp = object()\n",
        "helpers.py": "x = 1\n",
        "views.py": "from . import helpers\nfrom .blueprint import bp\n",
    }
    for name, text in files.items():
        (tmp_path / "area" / name).write_text(text)
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    assert import_cycles(("area",)) == []


def test_every_name_core_exports_exists():
    import core

    missing = [name for name in core.__all__ if not hasattr(core, name)]
    assert not missing, f"core.__all__ names what core does not have: {missing}"


def test_docs_plugins_covers_the_whole_plugin_api():
    """docs/plugins.md names every hook, every name ``core`` exports and every engine
    attribute a shipped plugin uses, so the guide cannot fall behind the code."""
    import core

    guide = (REPO / "docs" / "plugins.md").read_text()
    used = set()
    for path in py_files("plugins"):
        used.update(re.findall(r"\bengine\.([a-z_]+)", path.read_text()))

    def named(name):  # `name` or `name(...)` in code quotes
        return re.search(rf"`{re.escape(name)}\b", guide)

    missing = [f"hook {h}" for h in HOOKS if not named(h)]
    missing += [f"core.{n}" for n in core.__all__ if not named(n)]
    missing += [f"engine.{a}" for a in sorted(used) if f"`engine.{a}" not in guide]
    assert not missing, f"docs/plugins.md does not document: {missing}"


def test_the_readme_map_names_every_core_module():
    readme = (REPO / "README.md").read_text()
    start = readme.index("## Architecture in one screen")
    block = readme[start : readme.index("\nplugins/", start)]
    missing = []
    for path in sorted((REPO / "core").iterdir()):
        name = path.stem if path.suffix == ".py" else path.name
        if name.startswith("__") or (path.is_dir() and not (path / "__init__.py").exists()):
            continue
        shown = "default_*" if name.startswith("default_") else name
        if not re.search(rf"(?<![\w.]){re.escape(shown)}(?![\w])", block):
            missing.append(name)
    assert not missing, f"README's architecture map does not name core modules: {missing}"


def test_the_readme_map_names_every_web_module_and_package():
    readme = (REPO / "README.md").read_text()
    start = readme.index("## Architecture in one screen")
    start = readme.index("\nweb/", start)
    block = readme[start : readme.index("\ntests/", start)]
    missing = []
    for path in sorted((REPO / "web").iterdir()):
        if path.name in ("__init__.py", "static", "templates", "__pycache__"):
            continue
        if path.suffix != ".py" and not (path / "__init__.py").exists():
            continue
        shown = path.name if path.suffix == ".py" else f"{path.name}/"
        if not re.search(rf"(?<![\w.]){re.escape(shown)}", block):
            missing.append(shown)
        if path.is_dir():  # a package's modules are named too
            for module in sorted(path.glob("*.py")):
                if module.name != "__init__.py" and module.name not in block:
                    missing.append(f"{path.name}/{module.name}")
    assert not missing, f"README's architecture map does not name web modules: {missing}"


def test_no_name_core_exports_is_also_a_core_module():
    """Importing ``core.x`` binds ``x`` on the package to the module, so an exported
    function ``x`` would turn into a module as soon as anything imported ``core.x``."""
    import core

    modules = {p.stem for p in (REPO / "core").glob("*.py")} | {
        p.name for p in (REPO / "core").iterdir() if (p / "__init__.py").exists()
    }
    assert not set(core.__all__) & modules


ROUTE_DECORATORS = {"route", "get", "post", "put", "patch", "delete"}


def defines_routes(path: Path) -> bool:
    """Whether the module registers a view: a function decorated ``@<bp>.route(...)``
    (or ``.get``, ``.post``, ...)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for deco in node.decorator_list:
                call = deco.func if isinstance(deco, ast.Call) else deco
                if isinstance(call, ast.Attribute) and call.attr in ROUTE_DECORATORS:
                    return True
    return False


def imports_anywhere(path: Path, modules=frozenset()) -> set[str]:
    """The modules ``path`` imports, relative ones resolved as ``load_time_imports`` does
    (``from pkg import a`` names the submodule ``pkg.a`` when it is one), but imports
    inside functions count too: a view importing another view's helper when it is called
    still depends on that view."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = package_of(path)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.update(from_import(node, package, modules))
    return found


def view_imports_of_views(folder: str) -> list[str]:
    """``module imports view`` for every non-``__init__`` module of ``folder`` importing a
    route-defining module other than itself (a package ``__init__`` registers its views
    by importing them: that is the one allowed way)."""
    modules = {module_name(p): p for p in py_files(folder)}
    views = {name for name, path in modules.items() if defines_routes(path)}
    found = []
    for name, path in modules.items():
        if path.name == "__init__.py":
            continue
        for imported in sorted(imports_anywhere(path, modules.keys()) & views - {name}):
            found.append(f"{name} imports {imported}")
    return found


def test_web_views_never_import_other_views():
    """What two areas share lives in a helper module (``redirects``, ``attention_panel``,
    ``dashboard_cache``, ...) or in core, not in one area's view module (web/__init__.py)."""
    assert view_imports_of_views("web") == []


def test_the_view_import_check_finds_a_view_importing_a_view(tmp_path, monkeypatch):
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "area").mkdir()
    files = {
        "site/__init__.py": "from . import a, b\n",
        "site/a.py": "@bp.route('/')\ndef index():\n    pass\n",
        "site/b.py": "from .helpers import x\n\n@bp.post('/b')\ndef b():\n"
        "    from .a import index\n",
        "site/helpers.py": "x = 1\n",
        "site/area/__init__.py": "from . import views\n",
        "site/area/views.py": "from ..helpers import x\n\n@bp.route('/')\ndef v():\n    pass\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    assert view_imports_of_views("site") == ["site.b imports site.a"]


# Comments, docs and tests cite what a reader of this repository can open: its own docs
# (docs/amazon-rules.md and the rest), not notes kept beside it or an issue tracker.
OUTSIDE_CITATIONS = re.compile(r"DOMAIN\.md|ARCHITECTURE\.md|\.\./shared\b|\bissue #?\d+", re.I)
UNTRACKED = {"node_modules", "__pycache__", "data", "build", "dist"}  # made by running it
TEXT_SUFFIXES = {".py", ".md", ".toml", ".txt", ".html", ".j2", ".cfg", ".ini", ".sh", ".yml"}


def outside_citations(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*")):
        parts = path.relative_to(root).parts
        if any(p.startswith(".") or p.endswith(".egg-info") or p in UNTRACKED for p in parts):
            continue
        if not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        if path.suffix not in TEXT_SUFFIXES and path.name not in {"Makefile"}:
            if path.parent.name != "scripts" and path.parent.name != "deploy":
                continue
        text = path.read_text(errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            if OUTSIDE_CITATIONS.search(line):
                found.append(f"{path.relative_to(root)}:{number}: {line.strip()[:80]}")
    return found


def test_nothing_cites_files_outside_the_repository():
    hits = [h for h in outside_citations(REPO) if not h.startswith("tests/test_meta.py:")]
    assert not hits, f"cite the repository's own docs instead: {hits}"


def test_the_citation_check_finds_one(tmp_path):
    (tmp_path / "a.py").write_text("# see DOMAIN.md §2\nx = 1  # fixed in issue #12\n")
    (tmp_path / "b.md").write_text("read ../shared/notes, then docs/amazon-rules.md\n")
    assert len(outside_citations(tmp_path)) == 3


@pytest.mark.parametrize(
    "path", py_files("core") + py_files("plugins"), ids=lambda p: str(p.relative_to(REPO))
)
def test_no_core_or_plugin_name_looks_like_a_test(path):
    """pytest collects ``test_*`` functions and ``Test*`` classes wherever a test module
    imports them, so core and plugin names never start that way (no ``__test__ = False``
    needed): "test" as the UI says it is a test send, test mode, a test copy."""
    tree = ast.parse(path.read_text(), filename=str(path))
    named = [
        n.name
        for n in tree.body
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and (n.name.startswith("test") or n.name.startswith("Test"))
    ]
    assert not named, f"{path.relative_to(REPO)}: rename {named}"
