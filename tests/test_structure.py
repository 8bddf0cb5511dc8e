"""The house rules, read from the code (ast and files, no app): the pure core stays pure, modules
and functions stay short, test modules share helpers only through ``tests/support``, few modules
sit directly in ``sipflask/``, and ``docs/architecture.md`` names every package module.

Each test lists every offender in its one failure message, so one run shows all there is to fix.
"""
import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PKG = REPO / "sipflask"
TESTS = REPO / "tests"
ARCHITECTURE = REPO / "docs" / "architecture.md"

MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 60
MAX_TOP_LEVEL_MODULES = 12
# The core must run without the web framework, the database layer or the app's storage
# (flask_* covers the extensions: flask_sqlalchemy, flask_login, flask_wtf, flask_migrate).
FORBIDDEN_IN_CORE = ("flask", "werkzeug", "sqlalchemy", "sipflask.models", "sipflask.extensions")


def report(offenders: list[str], rule: str) -> None:
    """Fail with the rule and every offender, one a line (no traceback: the list is the point)."""
    if offenders:
        pytest.fail(f"{rule}:\n  " + "\n  ".join(offenders), pytrace=False)


def rel(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def is_migration(path: Path) -> bool:
    return path.is_relative_to(PKG / "migrations")


def sipflask_modules() -> dict[str, Path]:
    """Dotted name -> file, for every module of the sipflask package (migrations included:
    an import of one is followed like any other)."""
    modules = {}
    for path in sorted(PKG.rglob("*.py")):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def imported_names(path: Path, package: str, modules: dict[str, Path]) -> list[str]:
    """Every module name the file imports, at any depth (function-level imports and
    ``TYPE_CHECKING`` blocks included), relative imports resolved against ``package``.
    ``from a import b`` means module ``a.b`` when there is one, else ``a``."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = parts[:len(parts) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            for alias in node.names:
                submodule = f"{module}.{alias.name}"
                names.append(submodule if submodule in modules else module)
    return names


def package_of(name: str, path: Path) -> str:
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def forbidden(name: str) -> bool:
    return name.startswith("flask_") or any(name == f or name.startswith(f + ".")
                                            for f in FORBIDDEN_IN_CORE)


def sipflask_edges(modules: dict[str, Path]) -> dict[str, list[str]]:
    """Module -> what it imports: sipflask modules it names, and outside names as given.

    The parent packages Python runs on the way to a module (``sipflask/__init__.py``, the app
    factory) are not followed: the rule is about what a module's own code names.
    """
    edges = {}
    for name, path in modules.items():
        seen = []
        for imported in imported_names(path, package_of(name, path), modules):
            if imported not in seen:
                seen.append(imported)
        edges[name] = seen
    return edges


def first_forbidden_chain(start: str, edges: dict[str, list[str]]) -> list[str] | None:
    """The shortest import chain from ``start`` to a forbidden name, or None."""
    queue, came_from = [start], {start: None}
    while queue:
        current = queue.pop(0)
        for imported in edges.get(current, []):
            if imported in came_from:
                continue
            came_from[imported] = current
            if forbidden(imported):
                chain = [imported]
                while came_from[chain[-1]] is not None:
                    chain.append(came_from[chain[-1]])
                return chain[::-1]
            if imported in edges:
                queue.append(imported)
    return None


def test_core_imports_no_framework_database_or_storage():
    modules = sipflask_modules()
    edges = sipflask_edges(modules)
    offenders = []
    for name in sorted(modules):
        if name == "sipflask.core" or name.startswith("sipflask.core."):
            chain = first_forbidden_chain(name, edges)
            if chain:
                offenders.append(" -> ".join(chain))
    report(offenders, "sipflask/core must not import flask, werkzeug, sqlalchemy, flask_*, "
           "sipflask.models or sipflask.extensions, directly or through another sipflask module")


def checked_modules() -> list[Path]:
    return [path for path in sorted(PKG.rglob("*.py"))
            if not is_migration(path)]


def test_modules_are_at_most_300_lines():
    offenders = []
    for path in checked_modules():
        lines = len(path.read_text().splitlines())
        if lines > MAX_MODULE_LINES:
            offenders.append(f"{rel(path)}: {lines} lines")
    report(offenders,
           f"modules longer than {MAX_MODULE_LINES} lines (migrations excepted)")


def test_functions_are_at_most_60_lines():
    offenders = []
    for path in sorted(PKG.rglob("*.py")):
        if is_migration(path):
            continue
        functions = sorted((n for n in ast.walk(ast.parse(path.read_text(), str(path)))
                            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))),
                           key=lambda n: n.lineno)
        for node in functions:
            lines = node.end_lineno - node.lineno + 1
            if lines > MAX_FUNCTION_LINES:
                offenders.append(f"{rel(path)}:{node.lineno} {node.name}: {lines} lines")
    report(offenders, f"functions longer than {MAX_FUNCTION_LINES} lines (from def to last line)")


def is_test_module(path: Path) -> bool:
    return path.is_relative_to(TESTS) and (path.name == "conftest.py"
                                           or path.name.startswith("test_"))


def module_files(parts: list[str], roots: list[Path]) -> list[Path]:
    """The files a dotted name can mean under each root: a module or a package."""
    found = []
    for root in roots:
        candidate = root.joinpath(*parts) if parts else root
        found += [p for p in (candidate.with_suffix(".py") if parts else None,
                              candidate / "__init__.py") if p is not None and p.is_file()]
    return found


def imported_files(node: ast.AST, importer: Path) -> list[Path]:
    """The files under tests/ an import statement can load. Absolute names are tried from the
    repository root (``tests.x``) and from ``tests/``, which pytest puts on sys.path (``x``)."""
    if isinstance(node, ast.Import):
        return [f for alias in node.names
                for f in module_files(alias.name.split("."), [REPO, TESTS])]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        roots = [importer.parents[node.level - 1]]
    else:
        roots = [REPO, TESTS]
    parts = node.module.split(".") if node.module else []
    found = module_files(parts, roots)
    for alias in node.names:  # "from . import conftest": the name may be a module
        found += module_files(parts + [alias.name], roots)
    return found


def test_no_test_module_imports_another():
    offenders = []
    for path in sorted(TESTS.rglob("*.py")):
        nodes = sorted((n for n in ast.walk(ast.parse(path.read_text(), str(path)))
                        if isinstance(n, (ast.Import, ast.ImportFrom))), key=lambda n: n.lineno)
        for node in nodes:
            for target in imported_files(node, path):
                if is_test_module(target) and target != path:
                    offenders.append(f"{rel(path)}:{node.lineno} imports {rel(target)}")
    report(offenders, "test modules share helpers through tests/support, never by importing a "
           "test module or a conftest")


def test_few_modules_directly_in_sipflask():
    top_level = sorted(rel(p) for p in PKG.glob("*.py"))
    if len(top_level) > MAX_TOP_LEVEL_MODULES:
        report(top_level, f"{len(top_level)} modules directly in sipflask/, at most "
               f"{MAX_TOP_LEVEL_MODULES} (the rest belong in packages named for what they hold)")


def package_modules() -> list[Path]:
    return [path for path in sorted(PKG.glob("*/**/*.py")) if not is_migration(path)]


def names_of(path: Path) -> list[str]:
    """How a doc may name a module: its path or dotted name (a package: also its folder)."""
    if path.name == "__init__.py":
        folder = path.parent.relative_to(REPO)
        return [rel(path), ".".join(folder.parts), folder.as_posix() + "/"]
    return [rel(path), ".".join(path.relative_to(REPO).with_suffix("").parts)]


def mentions(text: str, name: str) -> bool:
    # A whole name: "sipflask.core.sip" is not named by "sipflask.core.sipx" or "x.sipflask...".
    end = "" if name.endswith("/") else r"(?![\w/])"
    return re.search(rf"(?<![\w/.]){re.escape(name)}{end}", text) is not None


def test_architecture_doc_names_every_package_module():
    text = ARCHITECTURE.read_text() if ARCHITECTURE.exists() else ""
    missing = [rel(path) for path in package_modules()
               if not any(mentions(text, name) for name in names_of(path))]
    report(missing, f"{rel(ARCHITECTURE)}{'' if text else ' (missing)'} does not name these "
           "package modules (by path sipflask/pkg/module.py or dotted name sipflask.pkg.module)")
