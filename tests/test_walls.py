"""The walls that keep the house simple, checked on the source (STYLE.md habit 2, issue 8):

- ``shared/`` never imports a service, and services never import one another;
- a service's ``domain/`` reaches no FastAPI, Starlette, Kafka, SQL or HTTP client, not even
  through the shared modules it imports;
- no event type is spelled as a string outside ``painflow_shared.events.types`` (and contracts/).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO / "shared" / "painflow_shared"
SERVICE_PACKAGES = sorted(p for p in (REPO / "services").glob("*/painflow_*") if p.is_dir())
SERVICE_NAMES = {p.name for p in SERVICE_PACKAGES}
IMPURE = {"fastapi", "starlette", "kafka", "sqlalchemy", "sqlmodel", "httpx", "httpcore", "psycopg"}
EVENT_TYPE = re.compile(r"painflow\.(referral|assessment|scheduling|followup)\.[a-z-]+")


def _imports(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def _module_file(module: str) -> Path | None:
    """The file of a painflow_shared module (a package's __init__), or None."""
    relative = Path(*module.split(".")[1:])
    for candidate in (SHARED / relative.with_suffix(".py"), SHARED / relative / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _reach(path: Path, seen: set[Path] | None = None) -> set[str]:
    """Every top-level package ``path`` imports, following painflow_shared modules through."""
    seen = seen if seen is not None else set()
    seen.add(path)
    found: set[str] = set()
    for module in _imports(path):
        found.add(module.split(".")[0])
        inner = _module_file(module) if module.startswith("painflow_shared.") else None
        if inner is not None and inner not in seen:
            found |= _reach(inner, seen)
    return found


def test_shared_imports_no_service() -> None:
    offenders = [
        f"{path.relative_to(REPO)}: {module}"
        for path in SHARED.rglob("*.py")
        for module in _imports(path)
        if module.split(".")[0] in SERVICE_NAMES
    ]
    assert offenders == []


@pytest.mark.parametrize("package", SERVICE_PACKAGES, ids=lambda p: p.name)
def test_a_service_imports_no_other_service(package: Path) -> None:
    others = SERVICE_NAMES - {package.name}
    offenders = [
        f"{path.relative_to(REPO)}: {module}"
        for path in package.rglob("*.py")
        for module in _imports(path)
        if module.split(".")[0] in others
    ]
    assert offenders == []


@pytest.mark.parametrize("package", SERVICE_PACKAGES, ids=lambda p: p.name)
def test_a_services_domain_reaches_no_framework_broker_database_or_http_client(
    package: Path,
) -> None:
    offenders = {
        str(path.relative_to(REPO)): sorted(_reach(path) & IMPURE)
        for path in (package / "domain").rglob("*.py")
    }
    assert {path: found for path, found in offenders.items() if found} == {}


def _string_literals(path: Path) -> Iterator[tuple[int, str]]:
    """Every string constant of the code, docstrings (prose) left out."""
    tree = ast.parse(path.read_text("utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or id(node) in docstrings:
            continue
        if isinstance(node.value, str):
            yield node.lineno, node.value


def test_no_event_type_is_spelled_outside_the_event_type_modules() -> None:
    sources = [*SHARED.rglob("*.py"), *(p for pkg in SERVICE_PACKAGES for p in pkg.rglob("*.py"))]
    allowed = {SHARED / "events" / "types.py"}
    offenders = [
        f"{path.relative_to(REPO)}:{number}"
        for path in sources
        if path not in allowed
        for number, text in _string_literals(path)
        if EVENT_TYPE.fullmatch(text)
    ]
    assert offenders == []
