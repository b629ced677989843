"""The import rule: every arrow points down the layers, none up and none across.

domain ← policy ← config ← store/pbx ← delivery ← intake/crm/alerts ← dialer/reports
← api ← web ← daemon ← demo ← cli. A module may import its own package and any lower layer;
two packages on one layer (store and pbx, dialer and reports, ...) never import each other.
The rule is read from the source (AST), so a new module is checked the day it appears.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "dialerd"

LAYERS: list[set[str]] = [
    {"dialerd", "domain", "clock", "formats"},
    {"policy"},
    {"config"},
    {"store", "pbx"},
    {"delivery"},
    {"intake", "crm", "alerts"},
    {"dialer", "reports"},
    {"api"},
    {"web"},
    {"daemon"},
    {"demo"},
    {"cli"},
]
LAYER_OF = {part: n for n, parts in enumerate(LAYERS) for part in parts}


def unit_of(module: str) -> str:
    """``dialerd.store.leads`` → ``store``; ``dialerd.domain`` → ``domain``; ``dialerd`` → itself."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
    return [(line, name) for line, name in found if name.split(".")[0] == "dialerd"]


def violations() -> list[str]:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        here = unit_of(module_name(path))
        if here not in LAYER_OF:
            problems.append(f"{path.relative_to(PACKAGE.parent)}: {here!r} has no layer")
            continue
        for line, imported in imports_of(path):
            there = unit_of(imported)
            if there == here:
                continue
            if there not in LAYER_OF:
                problems.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {imported}: no layer")
            elif LAYER_OF[there] >= LAYER_OF[here] and there != "dialerd":
                way = "across" if LAYER_OF[there] == LAYER_OF[here] else "up"
                problems.append(
                    f"{path.relative_to(PACKAGE.parent)}:{line}: {here} imports {imported} ({way})"
                )
    return problems


def test_every_import_points_down_the_layers():
    assert violations() == []


def test_the_rule_catches_an_arrow_pointing_up(tmp_path, monkeypatch):
    """The check itself: a store module importing the engine is reported."""
    fake = tmp_path / "dialerd"
    (fake / "store").mkdir(parents=True)
    (fake / "store" / "bad.py").write_text("from dialerd.dialer.engine import Engine\n")
    (fake / "policy").mkdir()
    (fake / "policy" / "ok.py").write_text("from dialerd.domain import Outcome\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", fake)
    assert violations() == ["dialerd/store/bad.py:1: store imports dialerd.dialer.engine (up)"]
