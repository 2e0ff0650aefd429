"""The layer contract, checked on every module's imports (function-level ones included).

Imports follow the data: extract (the network) imports no other layer; transform (pure code) may use only
extract's vocabulary (its records and errors); load (the database) only transform's; flows is the
composition root, and nothing imports it. Each layer also keeps away from the libraries of the others, so
that transform stays free of I/O and extract of parsing.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("extract", "transform", "load", "flows")

# What each layer may import of the others: exact modules, or a whole layer with ".*".
MAY_IMPORT: dict[str, frozenset[str]] = {
    "extract": frozenset(),
    "transform": frozenset({"newsetl.extract.records", "newsetl.extract.errors"}),
    "load": frozenset({"newsetl.transform.records", "newsetl.transform.errors"}),
    "flows": frozenset({"newsetl.extract.*", "newsetl.transform.*", "newsetl.load.*"}),
}
# Third-party libraries that belong to another layer's job.
MAY_NOT_USE: dict[str, frozenset[str]] = {
    "extract": frozenset({"sqlalchemy", "alembic", "prefect", "spacy", "trafilatura", "feedparser", "yaml"}),
    "transform": frozenset({"httpx", "httpcore", "socket", "sqlalchemy", "alembic", "prefect", "os"}),
    "load": frozenset({"httpx", "httpcore", "prefect", "spacy", "trafilatura", "feedparser"}),
    "flows": frozenset(),
}


@dataclass(frozen=True)
class Breach:
    module: str
    line: int
    imported: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line} imports {self.imported}"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(("newsetl", *(parts[:-1] if parts[-1] == "__init__" else parts)))


def imports_of(source: str, module: str) -> list[tuple[int, str]]:
    """Every module a source imports, absolute, with its line. `from newsetl.load import store` imports
    newsetl.load.store: a layer's package is only ever imported for its modules."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, module)
            if base.startswith("newsetl.") and base.count(".") == 1:
                found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, base))
    return found


def _absolute(node: ast.ImportFrom, module: str) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".")[: -node.level]
    return ".".join([*package, node.module] if node.module else package)


def breaches(source: str, module: str) -> list[Breach]:
    layer = module.split(".")[1]
    allowed = MAY_IMPORT[layer]
    result = []
    for line, imported in imports_of(source, module):
        top = imported.split(".")[0]
        own_name = top in LAYERS  # a folder by its own name: installed, no such module exists
        other_layer = top == "newsetl" and not _allowed(imported, layer, allowed)
        if own_name or other_layer or top in MAY_NOT_USE[layer]:
            result.append(Breach(module, line, imported))
    return result


def _allowed(imported: str, layer: str, allowed: frozenset[str]) -> bool:
    parts = imported.split(".")
    if len(parts) < 2 or parts[1] == layer:
        return True
    return f"newsetl.{parts[1]}.*" in allowed or ".".join(parts[:3]) in allowed


def all_modules() -> list[Path]:
    return sorted(p for layer in LAYERS for p in (ROOT / layer).rglob("*.py"))


def test_every_module_keeps_to_its_layer():
    found = [
        breach for path in all_modules() for breach in breaches(path.read_text("utf-8"), module_name(path))
    ]
    assert not found, "layer contract broken:\n" + "\n".join(map(str, found))


def test_the_contract_sees_all_four_layers():
    modules = {module_name(path).split(".")[1] for path in all_modules()}
    assert modules == set(LAYERS)


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("newsetl.extract.client", "from newsetl.transform.records import FeedEntry"),
        ("newsetl.extract.client", "import sqlalchemy"),
        ("newsetl.transform.feeds", "from newsetl.extract.client import fetch"),
        ("newsetl.transform.feeds", "def f():\n    from newsetl.load import store"),
        ("newsetl.transform.feeds", "import httpx"),
        ("newsetl.transform.feeds", "import os"),
        ("newsetl.load.store", "from newsetl.extract.records import Outcome"),
        ("newsetl.load.store", "from newsetl.transform import text"),
        ("newsetl.load.store", "from newsetl.flows.settings import Settings"),
        ("newsetl.load.store", "from ..flows import settings"),
        ("newsetl.flows.cli", "from load.store import load_pages"),
    ],
)
def test_the_contract_catches_a_breach(module, source):
    assert breaches(source, module)


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("newsetl.extract.client", "from newsetl.extract.records import Outcome"),
        ("newsetl.transform.feeds", "from newsetl.extract.records import Outcome"),
        ("newsetl.transform.feeds", "from newsetl.extract import errors"),
        ("newsetl.load.store", "from newsetl.transform.records import PageResult"),
        ("newsetl.load.store", "from .models import Article"),
        ("newsetl.flows.ingest", "from newsetl.extract.pages import fetch_pages"),
    ],
)
def test_the_contract_lets_the_data_flow(module, source):
    assert not breaches(source, module)
