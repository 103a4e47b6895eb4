"""The wheel holds everything `sage` needs at run time, and runs outside the source tree (issue 15).

Built offline from a copy of the tracked files with the installed build backend (setuptools,
in the `test` extra), unpacked, and run with this interpreter from another folder: the
shipped goldens, themes, presets, the demo's project and scenario must come from the wheel.
`.ci/run` also builds with `python -m build` and installs the wheel and the sdist in fresh venvs.
"""

from __future__ import annotations

import email
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _tracked(prefix: str) -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z", prefix], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    return [name for name in out.stdout.split("\0") if name]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the tracked files are unknown")
    setuptools = pytest.importorskip("setuptools", reason="the test extra is not installed")
    if tuple(int(p) for p in setuptools.__version__.split(".")[:2]) < (77, 0):
        pytest.skip(f"setuptools {setuptools.__version__} cannot build wheels alone; "
                    "the test extra installs a newer one")
    source = tmp_path_factory.mktemp("source")
    for name in _tracked("."):  # only what a clone has: no caches, no local leftovers
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    dist = tmp_path_factory.mktemp("dist")
    build = ("import sys; from setuptools import build_meta; "
             "print(build_meta.build_wheel(sys.argv[1]))")
    out = subprocess.run([sys.executable, "-c", build, str(dist)], cwd=source, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return dist / out.stdout.strip().splitlines()[-1]


@pytest.mark.slow
def test_the_wheel_ships_every_tracked_file_of_the_package(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = email.message_from_bytes(archive.read(info))
        entry_points = archive.read(info.replace("METADATA", "entry_points.txt")).decode()
    missing = sorted(set(_tracked("sage_tui")) - names)
    assert missing == []
    assert {"sage_tui/ui/app.tcss", "sage_tui/data/models.yaml", "sage_tui/demo/scenario.yaml",
            "sage_tui/eval/goldens/qa.jsonl", "sage_tui/py.typed"} <= names
    assert metadata["Name"] == "sage-workbench"
    assert metadata["License-Expression"] == "MIT"  # and the text it names, shipped beside it
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "Programming Language :: Python :: 3.13" in metadata.get_all("Classifier")
    requires = metadata.get_all("Requires-Dist")
    assert not [r for r in requires if r.lower().startswith(("pyyaml", "types-pyyaml"))]
    runtime = [r for r in requires if "extra ==" not in r]
    assert any(r.startswith("textual") and "<9" in r and "==" not in r for r in runtime)
    assert "sage = sage_tui.launcher:main" in entry_points
    assert "sage-workbench = sage_tui.launcher:main" in entry_points


@pytest.mark.slow
def test_the_unpacked_wheel_runs_from_another_folder(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "SAGE_HOME": str(tmp_path / "home")}
    env.pop("NO_COLOR", None)

    def sage(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "sage_tui", *args], cwd=elsewhere, env=env,
                              capture_output=True, text=True, timeout=300)

    where = subprocess.run([sys.executable, "-c", "import sage_tui; print(sage_tui.__file__)"],
                           cwd=elsewhere, env=env, capture_output=True, text=True, check=True)
    assert where.stdout.strip() == str(site / "sage_tui" / "__init__.py")  # not the checkout
    version = sage("--version")
    assert version.returncode == 0 and version.stdout.startswith("sage "), version.stderr
    golden = sage("eval", "golden")  # the shipped goldens and specs, the demo scenario's format
    assert golden.returncode == 0, golden.stdout + golden.stderr
    code = ("from importlib import resources; from sage_tui.config import default_models; "
            "from sage_tui.setup.prep import catalogue; from sage_tui.core.llm.scripted import Scenario; "
            "files = resources.files('sage_tui'); default_models(); assert catalogue(); "
            "Scenario.load(str(files / 'demo' / 'scenario.yaml')); "
            "assert (files / 'ui' / 'app.tcss').read_text(); "
            "assert (files / 'demo' / 'project' / 'textstats.py').is_file(); print('ok')")
    data = subprocess.run([sys.executable, "-c", code], cwd=elsewhere, env=env,
                          capture_output=True, text=True, timeout=120)
    assert data.stdout.strip() == "ok", data.stderr
