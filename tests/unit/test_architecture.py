"""The house rules of docs/architecture.md, read from the source: what the package root holds, the
order of the layers (a package imports only the layers below it), and no import circle.

Every import counts: at the top of a module, inside a function, or under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import regnotify

PACKAGE = Path(regnotify.__file__).parent

# Top to bottom: a package may import its own modules and any package listed after it.
LAYERS = [
    "cli",  # the command line
    "app",  # the FastAPI application: routes, pages, and the worker for ``serve``
    "web",  # the pages (they share the API's services and errors)
    "api",  # the REST API and the registry receiver
    "jobs",  # the worker's lifetime and the periodic jobs
    "delivery",  # draining the outbox
    "notifications",  # the use cases the API, the pages and the CLI share
    "ingest",  # outside input turned into events and queued deliveries
    "methods",  # how each method formats and sends
    "outbound",  # the guarded HTTP client and the SMTP client
    "events",  # the event catalogue
    "accounts",  # users, organizations, teams, permissions, tokens
    "db",  # tables, engines, sessions, the doorbell
    "runtime",  # process plumbing: crypto, logs, metrics
    "config",  # settings
    "__init__",  # the version
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports() -> dict[str, set[str]]:
    """Each module of the package and the modules of the package it imports."""
    known = modules()
    found: dict[str, set[str]] = defaultdict(set)
    for name, path in known.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # ``from a.b import c``: the module a.b, or the module a.b.c when c is one
                targets = [f"{node.module}.{alias.name}" for alias in node.names]
                targets = [t if t in known else node.module for t in targets]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            found[name].update(t for t in targets if t in known and t != name)
    return found


def layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "__init__"
    return parts[1]


def test_the_package_root_holds_only_the_app_the_settings_and_packages() -> None:
    loose = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert loose == ["__init__.py", "app.py", "config.py"]
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert packages | {"app", "config", "__init__"} == set(LAYERS), "a new package needs its place in LAYERS"


def test_every_package_says_what_belongs_in_it() -> None:
    for init in PACKAGE.glob("*/__init__.py"):
        docstring = ast.get_docstring(ast.parse(init.read_text()))
        assert docstring, f"{init.parent.name}/__init__.py has no docstring"


def test_a_package_imports_only_the_layers_below_it() -> None:
    rank = {name: index for index, name in enumerate(LAYERS)}
    upward = sorted(
        f"{source} imports {target}"
        for source, targets in imports().items()
        for target in targets
        if layer(source) != layer(target) and rank[layer(target)] <= rank[layer(source)]
    )
    assert upward == []


def test_no_import_circle() -> None:
    graph = imports()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for name in sorted(modules()):
        if name not in index:
            visit(name)
    assert circles == []


def test_the_readers_of_the_outside_world_stay_out_of_the_outbox_drain() -> None:
    """The API and the pages go through the use cases; the worker never reaches up into ingest."""
    crossings = sorted(
        f"{source} imports {target}"
        for source, targets in imports().items()
        for target in targets
        if (layer(source) in {"api", "web"} and layer(target) in {"delivery", "jobs"})
        or (layer(source) == "delivery" and layer(target) in {"ingest", "jobs"})
    )
    assert crossings == []
