"""Layering, read from the imports with ``ast``: the library and the networks never import Streamlit;
models/ imports nothing from forecaster/ or pandas; only the app (app.py, the pages and ui/) imports
Streamlit. Folders that do not exist yet are simply empty."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APP_DIRS = ("pages", "pages", "ui")  # the dashboard's page folder and its helpers
SKIP_DIRS = {"tests", ".git", ".venv", "venv", "node_modules", "__pycache__", "build", "dist"}


def imported_modules(source: str, package: str = "") -> set[str]:
    """Top-level names of every module a source imports, anywhere in the file (functions included).
    Relative imports resolve against ``package`` ("models" for a file in models/)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                found.add(package or ".")  # "from . import x" stays inside the file's own package
                if node.level > 1 and node.module:  # "from ..forecaster import x" leaves it
                    found.add(node.module.split(".")[0])
            elif node.module:
                found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) in (
                "import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant):
            found.add(str(node.args[0].value).split(".")[0])
    return found


def python_files(folder: str) -> list[Path]:
    base = ROOT / folder
    return sorted(base.rglob("*.py")) if base.is_dir() else []


def project_files() -> list[Path]:
    files = []
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT)
        if not SKIP_DIRS.intersection(rel.parts[:-1]):
            files.append(path)
    return sorted(files)


def imports_of(path: Path) -> set[str]:
    rel = path.relative_to(ROOT)
    return imported_modules(path.read_text(encoding="utf-8"), rel.parts[0] if len(rel.parts) > 1 else "")


def test_import_reader_sees_every_form_of_import():
    source = (
        "import os, streamlit.components.v1 as c\n"
        "from pandas import DataFrame\n"
        "from . import sibling\n"
        "def later():\n"
        "    import torch.nn\n"
        "    from forecaster.ingest import load_panel\n"
        "    from ..sklearn import x\n"
        "    importlib.import_module('plotly.express')\n"
    )
    assert imported_modules(source, "models") == {"os", "streamlit", "pandas", "models", "torch", "forecaster",
                                                  "plotly", "sklearn"}


def test_the_library_packages_exist_and_are_scanned():
    assert len(python_files("forecaster")) >= 10
    assert len(python_files("models")) >= 2
    assert ROOT / "forecaster" / "cli.py" in project_files()


@pytest.mark.parametrize("package", ["forecaster", "models"])
def test_library_never_imports_streamlit(package):
    offenders = [str(p.relative_to(ROOT)) for p in python_files(package) if "streamlit" in imports_of(p)]
    assert offenders == []


def test_models_import_nothing_from_forecaster_or_pandas():
    offenders = {str(p.relative_to(ROOT)): sorted(imports_of(p) & {"forecaster", "pandas"})
                 for p in python_files("models")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_only_the_pages_and_ui_import_streamlit():
    offenders = []
    for path in project_files():
        rel = path.relative_to(ROOT)
        in_app = rel == Path("app.py") or rel.parts[0] in APP_DIRS
        if "streamlit" in imports_of(path) and not in_app:
            offenders.append(str(rel))
    assert offenders == []
