"""DESIGN.md's promises about who imports whom, checked on the source (no module is imported).

Handlers call the service, never the repositories; storage does SQL and files only (no engine
computation); the bot reaches the database only through storage; the engine imports neither.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# What storage may take from the engine: its plain data types and the pose-file writer
# (``.npz`` named by content hash, the format the engine reads back).
STORAGE_MAY_IMPORT = {"choreo_engine.dance.library": {"IngestedClip", "Library", "LibrarySegment", "save_poses"}}
# What a handler may not touch on the service: its repositories, locks and internals.
SERVICE_INTERNALS = {"sessions", "jobs", "votes", "files", "lock", "rt", "db", "stages", "choosing", "messages"}


def imports(source: str, package: str = "") -> list[tuple[str, set[str]]]:
    """(module, names taken from it) for every import in ``source``; relative ones resolved
    against ``package`` (the dotted package the source lives in)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(a.name, set()) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([module] if module else []))
            found.append((module, {a.name for a in node.names}))
    return found


def modules(package: str) -> list[tuple[Path, str]]:
    """(path, dotted package it lives in) of every module under ``package``."""
    out = []
    for path in sorted((ROOT / package.replace(".", "/")).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        out.append((path, ".".join(parts if path.name == "__init__.py" else parts[:-1]).removesuffix(".__init__")))
    return out


def handler_violations(source: str, package: str) -> list[str]:
    bad = [f"imports {m}" for m, _ in imports(source, package) if m.split(".")[0] == "storage" or m == "aiosqlite"]
    bad += [f"uses .{node.attr}" for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Attribute) and node.attr in SERVICE_INTERNALS]
    return bad


def storage_violations(source: str, package: str) -> list[str]:
    bad = []
    for module, names in imports(source, package):
        top = module.split(".")[0]
        if top == "bot":
            bad.append(f"imports {module}")
        elif top == "choreo_engine":
            allowed = STORAGE_MAY_IMPORT.get(module)
            if allowed is None or not names or not names <= allowed:
                bad.append(f"imports {module} {sorted(names - (allowed or set()))}")
    return bad


def test_the_checks_see_what_they_forbid():
    assert handler_violations("from storage.sessions import SessionRepo", "bot.handlers") == [
        "imports storage.sessions"]
    assert handler_violations("async def f(s):\n    async with s.lock(1):\n        await s.sessions.get(1)",
                              "bot.handlers") == ["uses .lock", "uses .sessions"]
    assert storage_violations("from choreo_engine.dance import motion", "storage") == [
        "imports choreo_engine.dance ['motion']"]
    assert storage_violations("from choreo_engine.dance.library import describe_stored_segments", "storage")
    assert storage_violations("import bot.service", "storage") == ["imports bot.service"]
    assert imports("from ..texts import t", "bot.handlers") == [("bot.texts", {"t"})]
    assert storage_violations("from choreo_engine.dance.library import Library", "storage") == []


@pytest.mark.parametrize("path, package", modules("bot.handlers"), ids=lambda v: getattr(v, "name", None))
def test_handlers_call_the_service_only(path, package):
    assert handler_violations(path.read_text(), package) == []


@pytest.mark.parametrize("path, package", modules("storage"), ids=lambda v: getattr(v, "name", None))
def test_storage_stores_and_computes_nothing(path, package):
    assert storage_violations(path.read_text(), package) == []


@pytest.mark.parametrize("path, package", [m for m in modules("bot") if m[1].split(".")[:2] != ["bot", "sandbox"]],
                         ids=lambda v: getattr(v, "name", None))
def test_the_bot_reaches_the_database_through_storage(path, package):
    """No SQL driver in the bot (the sandbox's emulator stands apart: it imports nothing of Choreo)."""
    assert [m for m, _ in imports(path.read_text(), package) if m.split(".")[0] in ("sqlite3", "aiosqlite")] == []


@pytest.mark.parametrize("path, package", modules("choreo_engine"), ids=lambda v: getattr(v, "name", None))
def test_the_engine_imports_neither_bot_nor_storage(path, package):
    assert [m for m, _ in imports(path.read_text(), package) if m.split(".")[0] in ("bot", "storage")] == []


MAX_MODULE_LINES = 650  # "no module over ~600 lines": a module a reader can hold, split by responsibility


@pytest.mark.parametrize("path, package", [m for pkg in ("choreo_engine", "bot", "storage") for m in modules(pkg)],
                         ids=lambda v: str(v.relative_to(ROOT)) if isinstance(v, Path) else None)
def test_no_module_is_too_long_to_read(path, package):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_MODULE_LINES, f"{path.relative_to(ROOT)} has {lines} lines: split it by responsibility"
