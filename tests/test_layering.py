"""Layering, read from the imports with ``ast``: the library and the networks never import Streamlit;
models/ imports nothing from forecaster/ or pandas; only the app (app.py, the pages and ui/) imports
Streamlit; imports only point down (pages -> ui -> forecaster -> models); no import cycle among the
project's modules; the dashboard's frame and Home page never import torch."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APP_DIRS = ("pages", "ui")  # the dashboard's page folder and its helpers
# what each layer may import of ours: imports only point down
LAYERS = {"pages": {"ui", "forecaster", "models"}, "ui": {"forecaster", "models"}, "forecaster": {"models"},
          "models": set()}
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
        "    from forecaster.data.ingest import load_panel\n"
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


# --- module graph: cycles and upward imports ------------------------------------------------------------

def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def module_imports(source: str, name: str, is_package: bool, known: set[str]) -> set[str]:
    """The project modules a module imports (absolute or relative, "from pkg import module" included),
    at any depth of the file except under ``if TYPE_CHECKING:`` (annotations only, never run)."""
    tree = ast.parse(source)
    skipped = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
               for n in ast.walk(node)}
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - (node.level - 1)] if package else []
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # "forecaster.config.X" -> "forecaster.config"
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    """Project module -> the project modules it imports."""
    files = {module_name(p): p for p in project_files()}
    known = set(files)
    return {name: module_imports(path.read_text(encoding="utf-8"), name, path.name == "__init__.py", known)
            for name, path in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first repeated last), or None. Importing a package runs its
    __init__, so a module importing a sibling also depends on that package's __init__ (already an edge
    here: "from . import x" names the package)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_cycle_finder_sees_a_cycle_and_a_clean_graph():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_import_reader_resolves_relative_and_from_package_imports():
    known = {"forecaster", "forecaster.config", "forecaster.model", "forecaster.model.training", "forecaster.run",
             "forecaster.run.fit", "forecaster.run.executor", "models"}
    source = ("from .. import config\nfrom ..model.training import train\nfrom . import executor\nimport models\n"
              "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .fit import fit\n")
    assert module_imports(source, "forecaster.run.jobs", False, known) == {
        "forecaster", "forecaster.config", "forecaster.model.training", "forecaster.run", "forecaster.run.executor",
        "models"}


def test_no_import_cycle_inside_the_project():
    graph = import_graph()
    graph.pop("forecaster", None)  # the package __init__ names its public API lazily (PEP 562), imports none
    assert find_cycle(graph) is None


def test_the_package_init_imports_nothing_at_import_time():
    """forecaster/__init__ resolves its public names on first use: importing it runs no submodule, so no
    module of the library can form a cycle through it."""
    assert import_graph()["forecaster"] == set()


def test_a_deliberate_cycle_is_caught(tmp_path):
    """The real tree with one extra import: the training loop importing the recommendation that imports it."""
    graph = import_graph()
    graph.pop("forecaster", None)
    graph["forecaster.model.training"] = graph["forecaster.model.training"] | {"forecaster.model.recommend"}
    cycle = find_cycle(graph)  # through the executor or directly: either way, a cycle through both
    assert cycle is not None and cycle[0] == cycle[-1]
    assert {"forecaster.model.recommend", "forecaster.model.training"} <= set(cycle)
    graph["forecaster.model.training"] -= {"forecaster.model.recommend"}
    assert find_cycle(graph) is None


# inside forecaster/: the stages of the pipeline, each importing only the stages before it (and itself),
# and the shared modules at the top of the package, which import only each other; cli and __main__ may
# import anything (they are the library's front door)
STAGES = {"data": set(), "model": {"data"}, "results": {"model", "data"}, "run": {"results", "model", "data"},
          "io": {"results", "model", "data"}}
SHARED = {"config", "labels", "errors", "text", "device"}
FRONT = {"cli", "__main__"}


def stage_offenders(graph: dict[str, set[str]]) -> list[str]:
    """Imports inside forecaster/ that point back up the pipeline (a later stage, or a stage from a shared
    module)."""
    offenders = []
    for name, targets in graph.items():
        parts = name.split(".")
        if parts[0] != "forecaster" or len(parts) < 2 or parts[1] in FRONT:
            continue
        allowed = SHARED | ({parts[1]} | STAGES[parts[1]] if parts[1] in STAGES else set())
        for target in targets:
            tparts = target.split(".")
            if tparts[0] == "forecaster" and len(tparts) > 1 and tparts[1] not in allowed:
                offenders.append(f"{name} -> {target}")
    return offenders


def test_the_library_is_grouped_by_stage():
    """Every module of forecaster/ is a shared module, the front door, or in a stage's subpackage."""
    stray = [name for name in import_graph() if name.startswith("forecaster.")
             and name.split(".")[1] not in SHARED | FRONT | set(STAGES)]
    assert stray == []
    assert {name.split(".")[1] for name in import_graph() if name.count(".") == 2} == set(STAGES)


def test_stages_import_only_the_stages_before_them():
    assert stage_offenders(import_graph()) == []


def test_an_import_back_up_the_pipeline_is_caught():
    """The real tree with one extra import each: the training loop using the job registry, ingest using a
    metric, a shared module using the model."""
    graph = import_graph()
    graph["forecaster.model.training"] = graph["forecaster.model.training"] | {"forecaster.run.jobs"}
    graph["forecaster.data.ingest"] = graph["forecaster.data.ingest"] | {"forecaster.results.metrics"}
    graph["forecaster.config"] = graph["forecaster.config"] | {"forecaster.model.features"}
    assert stage_offenders(graph) == ["forecaster.config -> forecaster.model.features",
                                      "forecaster.data.ingest -> forecaster.results.metrics",
                                      "forecaster.model.training -> forecaster.run.jobs"]


def test_imports_only_point_down():
    offenders = []
    for name, targets in import_graph().items():
        layer = name.split(".")[0]
        if layer not in LAYERS:  # app.py, bench/, scripts/: the top, may import anything
            continue
        for target in targets:
            top = target.split(".")[0]
            if top != layer and top not in LAYERS[layer]:
                offenders.append(f"{name} -> {target}")
    assert offenders == []


FIRST_PAINT = ["ui.state", "ui.cached", "ui.jobs", "ui.router", "ui.runs", "ui.widgets", "forecaster.io.charts",
               "forecaster.text", "forecaster"]


def test_the_frame_and_home_page_never_import_torch():
    """app.py and pages/home.py import only these: the first visit after a server start renders without
    waiting for torch (seconds on a small machine); the Train, Evaluate and Forecast pages bring it."""
    import subprocess
    import sys

    for script in ("app.py", "pages/home.py"):
        mods = {m for m in imports_of(ROOT / script) if m in ("ui", "forecaster", "models")}
        assert "models" not in mods
    code = ("import sys; import " + ", ".join(FIRST_PAINT) +
            "; from forecaster import DataError, ForecasterError; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    for script in ("app.py", "pages/home.py"):
        used = {n for n in import_graph()[module_name(ROOT / script)] if n.startswith(("ui", "forecaster"))}
        assert used <= set(FIRST_PAINT) | {"ui"}, used


MAX_FUNCTION_LINES = 60


def long_functions(source: str, limit: int = MAX_FUNCTION_LINES) -> list[str]:
    """Functions (methods and nested ones too) longer than ``limit`` lines, decorators and docstring included."""
    return [f"{node.name} ({node.end_lineno - node.lineno + 1} lines)" for node in ast.walk(ast.parse(source))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > limit]


def test_the_length_check_sees_a_long_function():
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_FUNCTION_LINES))
    assert long_functions("def long():\n" + body) == [f"long ({MAX_FUNCTION_LINES + 1} lines)"]
    assert long_functions("def short():\n" + body[: body.rindex("    x")]) == []


def test_no_function_is_longer_than_60_lines():
    """Small functions that say why: one that grows past a screen gets split where its steps are."""
    files = project_files() + sorted((ROOT / "tests").rglob("*.py"))
    offenders = {str(p.relative_to(ROOT)): found for p in files if (found := long_functions(p.read_text(encoding="utf-8")))}
    assert offenders == {}
