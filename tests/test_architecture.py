"""The core never imports the UI toolkit (DESIGN.md §1, STYLE.md 'Shape')."""

from __future__ import annotations

import json
import os
import pkgutil
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import sage_tui.core


def _core_modules() -> list[str]:
    return sorted(
        m.name for m in pkgutil.walk_packages(sage_tui.core.__path__, "sage_tui.core.")
    )


def test_core_modules_are_found() -> None:
    modules = _core_modules()
    assert "sage_tui.core.log.sessionlog" in modules
    assert "sage_tui.core.log.redaction" in modules


def test_importing_the_core_loads_no_textual() -> None:
    code = (
        "import importlib, json, sys\n"
        f"for name in {_core_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'textual')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_no_core_source_imports_textual_or_rich() -> None:
    # At run time `rich` can still appear: httpx's __init__ imports its own CLI (click,
    # rich, pygments) whenever rich is installed, and textual installs it. What the
    # core controls is its own imports.
    pattern = re.compile(r"^\s*(?:from|import)\s+(textual|rich)\b", re.MULTILINE)
    root = Path(sage_tui.core.__file__).parent
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.py")
                 if pattern.search(p.read_text(encoding="utf-8"))]
    assert len(list(root.rglob("*.py"))) > 10
    assert offenders == []


def test_the_check_itself_would_notice_textual() -> None:
    # Guard against a vacuous check: the same probe sees textual when it is imported.
    code = "import sys, textual.app; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


def test_version_starts_without_importing_textual() -> None:
    code = (
        "import sys\n"
        "from sage_tui.launcher import main\n"
        "try:\n    main(['--version'])\nexcept SystemExit:\n    pass\n"
        "print('textual' in sys.modules, 'ruamel.yaml' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False False"


ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=cwd, capture_output=True,
                          text=True, timeout=300, env=env)


def test_the_layer_contracts_hold() -> None:
    out = _lint_imports(ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 broken" in out.stdout and "7 kept" in out.stdout


@pytest.mark.parametrize("module,forbidden", [
    ("core/log/clock.py", "import sage_tui.config"),           # the core reads settings
    ("core/patch/check.py", "import sage_tui.core.agent.router"),  # a lower layer imports up
    ("core/llm/types.py", "import sage_tui.core.tools.registry"),  # llm knows tools
    ("core/workspace/state.py", "import textual"),             # the core imports a UI toolkit
    ("setup/prep.py", "import yaml"),                          # a second YAML library
])
def test_the_contracts_fail_on_a_forbidden_import(tmp_path: Path, module: str,
                                                 forbidden: str) -> None:
    shutil.copytree(ROOT / "sage_tui", tmp_path / "sage_tui",
                    ignore=shutil.ignore_patterns("__pycache__", "project"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "sage_tui" / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{forbidden}  # noqa\n",
                      encoding="utf-8")
    out = _lint_imports(tmp_path)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "BROKEN" in out.stdout and forbidden.split()[-1] in out.stdout
