"""The shape of the code, kept by a test: who may import whom.

Imports are read with `ast` from every module of the three packages, including imports inside
functions (they run too) and excluding those under `if TYPE_CHECKING:` (they never run). The
rules are the architecture of docs/architecture.md:

- no cycle of imports between files;
- SQL drivers only in storage/, platform SDKs only in bot/handlers/;
- storage/ uses nothing of the bot but its vocabulary (bot/model.py);
- the handlers never reach storage: they hand events to the inbox and the service;
- exports/ is imported only by the composition root (bot/app.py, bot/runner.py, bot/cli.py);
- the engine does no I/O: no I/O module, no file, no clock, no sleep.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "storage", "exports")
DRIVERS = ("sqlite3", "aiosqlite", "asyncpg", "psycopg", "psycopg2", "psycopg_pool")
SDKS = ("telegram", "linebot")
COMPOSITION_ROOT = ("bot.app", "bot.runner", "bot.cli", "bot.__main__")
IO_MODULES = ("asyncio", "os", "io", "pathlib", "shutil", "socket", "subprocess", "time", "httpx", "aiohttp", "logging")
IO_CALLS = ("open", "now", "utcnow", "today", "sleep", "time", "monotonic")


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, e.g. bot.handlers.line.api
    target: str  # what it imports, e.g. storage.inbox or telegram.error
    line: int


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST) -> Iterator[ast.AST]:
    """Every node, but not into `if TYPE_CHECKING:` bodies."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _type_checking(child):
            for other in child.orelse:
                yield other
                yield from _walk(other)
            continue
        yield child
        yield from _walk(child)


def imports_of(path: Path) -> list[Import]:
    name = module_name(path)
    base = name.split(".") if is_package(path) else name.split(".")[:-1]
    out = []
    for node in _walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [Import(name, alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base[: len(base) - node.level + 1]
                target = ".".join([*anchor, node.module] if node.module else anchor)
            else:
                target = node.module or ""
            # `from pkg import mod` imports the module pkg.mod when there is one
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                out.append(Import(name, candidate if _exists(candidate) else target, node.lineno))
    return out


def _exists(module: str) -> bool:
    path = ROOT.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


ALL = [imp for path in sources() for imp in imports_of(path)]


def ours(target: str) -> bool:
    return target.split(".")[0] in PACKAGES


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def where(imps: list[Import]) -> str:
    return "\n".join(f"  {i.module}:{i.line} imports {i.target}" for i in imps)


def test_the_rules_see_the_code() -> None:
    """A parser that found nothing would pass every rule: make sure it reads real imports."""
    names = {(i.module, i.target) for i in ALL}
    assert ("bot.service", "storage") in names
    assert any(i.module.startswith("bot.handlers.telegram") and i.target.startswith("telegram") for i in ALL)
    assert len(ALL) > 200


def test_no_import_cycles() -> None:
    graph: dict[str, set[str]] = {}
    for imp in ALL:
        if ours(imp.target) and imp.target != imp.module:
            graph.setdefault(imp.module, set()).add(imp.target)
    # a package's __init__ is a file too: importing bot.handlers.line runs bot/handlers/line/__init__.py
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, "import cycles:\n" + "\n".join(" → ".join(c) for c in cycles)


def test_sql_drivers_only_in_storage() -> None:
    bad = [i for i in ALL if i.target.split(".")[0] in DRIVERS and not within(i.module, "storage")]
    assert not bad, "an SQL driver outside storage/:\n" + where(bad)


def test_platform_sdks_only_in_the_handlers() -> None:
    bad = [i for i in ALL if i.target.split(".")[0] in SDKS and not within(i.module, "bot.handlers")]
    assert not bad, "a platform SDK outside bot/handlers/:\n" + where(bad)


def test_storage_uses_only_the_vocabulary_of_the_bot() -> None:
    bad = [i for i in ALL if within(i.module, "storage") and within(i.target, "bot") and i.target != "bot.model"]
    assert not bad, "storage/ importing more of the bot than bot/model.py:\n" + where(bad)


def test_handlers_never_reach_storage() -> None:
    bad = [i for i in ALL if within(i.module, "bot.handlers") and within(i.target, "storage")]
    assert not bad, "a handler importing storage/:\n" + where(bad)


def test_exports_only_from_the_composition_root() -> None:
    bad = [
        i
        for i in ALL
        if within(i.target, "exports") and not within(i.module, "exports") and i.module not in COMPOSITION_ROOT
    ]
    assert not bad, "exports/ imported outside bot/app.py, bot/runner.py, bot/cli.py:\n" + where(bad)


def engine_files() -> list[Path]:
    folder = ROOT / "bot" / "engine"
    return sorted(folder.rglob("*.py")) if folder.is_dir() else [ROOT / "bot" / "engine.py"]


@pytest.mark.parametrize("path", engine_files(), ids=lambda p: p.name)
def test_the_engine_does_no_io(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bad = [i for i in imports_of(path) if i.target.split(".")[0] in (*IO_MODULES, *DRIVERS, *SDKS)]
    assert not bad, "I/O imported by the engine:\n" + where(bad)
    calls = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            fn = node.func
            name = fn.id if isinstance(fn, ast.Name) else fn.attr if isinstance(fn, ast.Attribute) else ""
            if name in IO_CALLS:
                calls.append(f"  {path.name}:{node.lineno} calls {name}()")
    assert not calls, "the engine reads a clock, sleeps or opens files:\n" + "\n".join(calls)
