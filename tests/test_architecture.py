"""The package's shape: two wings over a small core, and nothing importing upward.

Every module's imports are read with `ast` (inside functions and
`TYPE_CHECKING` blocks too) and checked against the layers:

- the core (`errors`, `model`, `config`, ...) imports only the core;
- `feedpress.feeds` imports the core and itself, never the mail wing;
- `feedpress.mail` imports the core, itself, and the feeds wing only
  through `feedpress.feeds` (its `__init__`, the wing's public API);
- the top (`cli`, `scaffold`, `__init__`, `__main__`) uses each wing only
  through its `__init__`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import ROOT

PACKAGE = ROOT / "src" / "feedpress"
TOP = frozenset({"feedpress", "feedpress.__main__", "feedpress.cli", "feedpress.results",
                 "feedpress.scaffold"})
WINGS = ("feedpress.feeds", "feedpress.mail")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def sources() -> dict[str, str]:
    return {module_name(path): path.read_text("utf-8") for path in PACKAGE.rglob("*.py")}


def imported(name: str, source: str, known: set[str]) -> set[str]:
    """The feedpress modules `source` (module `name`) imports, relative imports resolved.

    `from feedpress.x import y` imports `feedpress.x.y` where that is a
    module, else `feedpress.x` (y is a name in it).
    """
    package = name if name in (*WINGS, "feedpress") else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return {m for m in found if m == "feedpress" or m.startswith("feedpress.")}


def layer(module: str) -> str:
    if module in TOP:
        return "top"
    for wing in WINGS:
        if module == wing or module.startswith(wing + "."):
            return wing
    return "core"


def allowed(importer: str, target: str) -> bool:
    mine, theirs = layer(importer), layer(target)
    if theirs == "top":
        return mine == "top" and target != "feedpress"  # the package's API is for users
    if theirs == "core":
        return True
    if mine == theirs:
        return True  # inside one wing
    if mine == "core":
        return False
    if mine == "feedpress.feeds":
        return False  # feeds never imports mail
    return target == theirs  # another wing, through its public face only


def violations(modules: dict[str, str]) -> list[str]:
    known = set(modules)
    return sorted(f"{name} imports {target}"
                  for name, source in modules.items()
                  for target in imported(name, source, known)
                  if target != name and not allowed(name, target))


def test_no_module_imports_against_the_layers() -> None:
    modules = sources()
    assert {"feedpress.feeds.posts", "feedpress.mail.ledger", "feedpress.config"} <= set(modules)
    assert violations(modules) == []


@pytest.mark.parametrize(("importer", "code"), [
    ("feedpress.feeds.posts", "from feedpress.mail import send"),
    ("feedpress.feeds.catalog", "from feedpress import mail"),
    ("feedpress.mail.bodies", "from feedpress.feeds.markup import render"),
    ("feedpress.mail.bodies", "from feedpress.feeds import markup"),
    ("feedpress.mail.bodies", "from ..feeds.markup import render"),
    ("feedpress.config", "from feedpress.feeds import load"),
    ("feedpress.config", "import feedpress.mail.ledger"),
    ("feedpress.model", "from feedpress import __version__"),
    ("feedpress.feeds.cache", "def f():\n    from feedpress.cli import main\n"),
    ("feedpress.cli", "from feedpress.mail.ledger import open_ledger"),
    ("feedpress.scaffold", "from feedpress.feeds.posts import default_id"),
])
def test_the_check_catches_an_import_against_the_layers(importer: str, code: str) -> None:
    """The check itself can fail: each of these breaks a rule."""
    modules = sources()
    modules[importer] = code
    (target,) = imported(importer, code, set(modules))
    assert violations(modules) == [f"{importer} imports {target}"]


@pytest.mark.parametrize(("importer", "code"), [
    ("feedpress.mail.bodies", "from feedpress import feeds"),
    ("feedpress.mail.bodies", "from feedpress.feeds import summary"),
    ("feedpress.mail.campaign", "from . import planner"),
    ("feedpress.feeds.builder", "from .posts import read"),
    ("feedpress.cli", "from feedpress.mail import send"),
    ("feedpress.feeds.posts", "from feedpress import yamltext"),
])
def test_the_check_allows_what_the_layers_allow(importer: str, code: str) -> None:
    modules = sources()
    modules[importer] = code
    assert violations(modules) == []


def test_each_wing_has_a_public_face_and_every_module_says_what_it_holds() -> None:
    for path in PACKAGE.rglob("*.py"):
        doc = ast.get_docstring(ast.parse(path.read_text("utf-8")))
        assert doc and len(doc) > 40, f"{path.relative_to(PACKAGE)} has no docstring"
    for wing in ("feeds", "mail"):
        tree = ast.parse((PACKAGE / wing / "__init__.py").read_text("utf-8"))
        exported = next(node for node in tree.body if isinstance(node, ast.Assign)
                        and any(isinstance(t, ast.Name) and t.id == "__all__"
                                for t in node.targets))
        assert isinstance(exported.value, ast.List) and exported.value.elts
