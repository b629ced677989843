"""The README's Layout section is the map a newcomer reads first: it must match the tree.

One column (one entry a line: its name, then a few words), every package and module of
``dialerd/`` in it and nothing that is not there, every folder of ``tests/`` either the
mirror of a package or in it, and the layer rule it states the one ``test_layers`` checks.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from test_layers import LAYERS

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
ENTRY = re.compile(r"^(?P<indent> *)(?P<name>\S+)(?: +(?P<about>\S.*))?$")


def section() -> str:
    text = README.read_text(encoding="utf-8")
    return text.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]


def entries() -> dict[str, str]:
    """Each path the tree block lists (``dialerd/policy/window.py``) → its few words."""
    block = section().split("```\n", 1)[1].split("```", 1)[0]
    found: dict[str, str] = {}
    parents: list[str] = []
    for line in block.splitlines():
        match = ENTRY.match(line)
        assert match, f"not an entry: {line!r}"
        depth, name = len(match["indent"]) // 2, match["name"]
        assert len(match["indent"]) == 2 * depth <= 2 * len(parents), f"indent: {line!r}"
        parents = parents[:depth]
        path = "".join(parents) + name
        found[path] = match["about"] or ""
        if name.endswith("/"):
            parents.append(name)
    return found


def test_one_entry_a_line_with_a_few_words_each():
    for path, about in entries().items():
        assert about, f"{path}: say in a few words what it is"
        assert "   " not in about, f"{path}: one column (a second entry on the line?)"


def built(paths: set[str]) -> set[str]:
    """Those of ``paths`` git ignores: build output such as the Swagger UI files ./dev
    copies into the package; there in a built tree, absent from a fresh checkout."""
    done = subprocess.run(
        ["git", "check-ignore", "--no-index", "--stdin"],
        input="\n".join(sorted(paths)),
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    return set(done.stdout.split())


def test_everything_listed_exists():
    missing = {path for path in entries() if not (ROOT / path).exists()}
    assert sorted(missing - built(missing)) == []


def test_every_package_and_module_of_dialerd_is_listed():
    listed = set(entries())
    package = ROOT / "dialerd"
    wanted = {f"{p.relative_to(ROOT).as_posix()}/" for p in package.rglob("*") if p.is_dir()}
    wanted |= {p.relative_to(ROOT).as_posix() for p in package.rglob("*.py")}
    wanted = {p for p in wanted if "__pycache__" not in p and not p.endswith("/__init__.py")}
    assert sorted(wanted - listed - built(wanted - listed)) == []


def test_tests_mirror_dialerd_and_the_rest_is_listed():
    """A folder of tests/ is a package's mirror (tests/dialer ↔ dialerd/dialer) or is listed
    (or lies in a listed one), as are the harness's modules and the tests at the top."""
    listed = set(entries())
    tests = ROOT / "tests"

    def explained(folder: Path) -> bool:
        mirrored = (ROOT / "dialerd" / folder.relative_to(tests)).is_dir()
        inside = [folder, *(p for p in folder.parents if tests in p.parents)]
        names = {f"{p.relative_to(ROOT).as_posix()}/" for p in inside}
        return mirrored or bool(names & listed)

    folders = [p for p in tests.rglob("*") if p.is_dir() and "__pycache__" not in p.parts]
    assert sorted(p.relative_to(ROOT).as_posix() for p in folders if not explained(p)) == []
    files = [*tests.glob("*.py"), *(tests / "support").glob("*.py")]
    assert sorted({p.relative_to(ROOT).as_posix() for p in files} - listed) == []


def test_the_layer_rule_is_the_one_tests_check():
    (rule,) = re.findall(r"^`(domain.*←.*)`$", section(), flags=re.MULTILINE)
    layers = [{part.strip() for part in layer.split(",")} for layer in rule.split("←")]
    assert layers == [layer - {"dialerd"} for layer in LAYERS]
