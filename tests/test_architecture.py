"""The house rules the code keeps: gis_core's capability packages import downward only, and no
module grows past 400 lines (outside data/, whose generator and catalogues are long by nature)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from gis_core.platform.settings import PROJECT_ROOT

GIS_CORE = PROJECT_ROOT / "gis_core"
#: gis_core's packages, lowest first; a module may import from its own package or one below it.
LAYERS = ["platform", "geo", "incidents", "channels", "field", "publishing", "ingest", "analysis"]
#: Top-level modules that wire the packages together and may import any of them.
ENTRY_POINTS = {"cli"}
#: Packages of data rather than capability: the schema's SQL and its migrations.
SCHEMA = {"sql", "migrations"}
MAX_LINES = 400


def _package(module: str) -> str:
    return module.split(".")[1]


def _gis_core_modules() -> dict[str, Path]:
    found = {}
    for path in GIS_CORE.rglob("*.py"):
        rel = path.relative_to(PROJECT_ROOT).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        if len(parts) > 1 and parts[1] in SCHEMA:
            continue
        found[".".join(parts)] = path
    return found


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every gis_core module or package a file imports from, lazily inside functions too."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("gis_core"):
            if node.module.count(".") == 0:
                out += [(node.lineno, f"gis_core.{a.name}") for a in node.names]
            else:
                out.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.startswith("gis_core.")]
    return out


def test_every_module_lives_in_a_capability_package() -> None:
    loose = [
        m
        for m in _gis_core_modules()
        if m != "gis_core" and _package(m) not in LAYERS and _package(m) not in ENTRY_POINTS
    ]
    assert loose == [], f"modules outside {LAYERS}: {loose}"


def test_packages_import_downward_only() -> None:
    upward = []
    for module, path in _gis_core_modules().items():
        if module == "gis_core" or _package(module) in ENTRY_POINTS:
            continue
        rank = LAYERS.index(_package(module))
        for line, target in _imports(path):
            if _package(target) in SCHEMA:
                continue
            if _package(target) in ENTRY_POINTS or LAYERS.index(_package(target)) > rank:
                upward.append(f"{path.relative_to(PROJECT_ROOT)}:{line} imports {target}")
    assert upward == [], "gis_core packages import upward:\n" + "\n".join(upward)


def test_the_direction_check_sees_an_upward_import(tmp_path: Path) -> None:
    """The walker finds a lazy import inside a function, the kind an upward import hides in."""
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from gis_core.analysis import frames\n    import gis_core.field.tracks\n")
    assert _imports(probe) == [(2, "gis_core.analysis"), (3, "gis_core.field.tracks")]


@pytest.mark.parametrize("top", ["gis_core", "api", "layers", "tests"])
def test_no_module_over_400_lines(top: str) -> None:
    long = {
        str(p.relative_to(PROJECT_ROOT)): n
        for p in (PROJECT_ROOT / top).rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}, f"modules over {MAX_LINES} lines: {long}"


def test_the_domain_never_imports_the_http_layer() -> None:
    """DESIGN.md: data flows one way, `api/` calls `gis_core`, never the other way round."""
    found = [
        f"{path.relative_to(PROJECT_ROOT)}:{node.lineno}"
        for path in GIS_CORE.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if (
            isinstance(node, ast.ImportFrom)
            and (node.module or "").split(".")[0] in {"api", "fastapi", "starlette"}
        )
        or (
            isinstance(node, ast.Import)
            and any(a.name.split(".")[0] in {"api", "fastapi", "starlette"} for a in node.names)
        )
    ]
    assert found == [], f"gis_core imports the HTTP layer: {found}"
