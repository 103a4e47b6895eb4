"""`sage setup`: the recommended models land in models.yaml; the user's edits and comments stay."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sage_tui.config import load_models

HARDWARE = Path(__file__).parent / "fixtures" / "hardware"
HAND_EDITED = """# my models — tuned by hand, please keep this comment
defaults:
  options:
    num_ctx: 8192   # enough for my repos
roles:
  router:
    model: qwen2.5:0.5b          # tiny is fine for routing
  coder:
    model: codellama:7b
    options: {num_ctx: 32768, temperature: 0.1}   # long files
    host: http://gpu-box:11434
    fallback: [qwen2.5-coder:3b]
  summarizer:
    model: llama3.2:3b
profiles:
  mine:            # my own profile
    model: phi3:mini
"""


def setup(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sage_tui", "setup", *args], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "SAGE_HOME": str(home)},
                          stdin=subprocess.DEVNULL)


def test_apply_keeps_hand_edits_and_comments(tmp_path: Path) -> None:
    models = tmp_path / "config" / "models.yaml"
    models.parent.mkdir(parents=True)
    models.write_text(HAND_EDITED)
    hardware = str(HARDWARE / "desktop_16gb_8gb_nvidia.json")
    shown = setup(tmp_path, "suggest", "--hardware", hardware)
    assert shown.returncode == 0
    assert "-    model: codellama:7b" in shown.stdout and "+    model: qwen2.5-coder:7b" in shown.stdout
    assert models.read_text() == HAND_EDITED  # suggest writes nothing
    applied = setup(tmp_path, "apply", "--hardware", hardware)
    assert applied.returncode == 0, applied.stderr
    text = models.read_text()
    for kept in ("# my models — tuned by hand, please keep this comment",
                 "num_ctx: 8192   # enough for my repos", "# tiny is fine for routing",
                 "options: {num_ctx: 32768, temperature: 0.1}   # long files",
                 "host: http://gpu-box:11434", "fallback: [qwen2.5-coder:3b]",
                 "mine:            # my own profile", "model: phi3:mini"):
        assert kept in text, kept
    loaded = load_models(models)
    assert loaded.roles["coder"].model == "qwen2.5-coder:7b"
    assert loaded.roles["coder"].num_ctx == 32768 and loaded.roles["coder"].host == \
        "http://gpu-box:11434"
    assert loaded.roles["router"].model == "qwen2.5:1.5b"
    assert loaded.roles["planner"].model == "qwen2.5-coder:7b"  # added: it was missing
    assert loaded.profiles["mine"].model == "phi3:mini"
    [backup] = list(models.parent.glob("models.yaml.*.bak"))
    assert backup.read_text() == HAND_EDITED
    again = setup(tmp_path, "apply", "--hardware", hardware)
    assert "nothing to change" in again.stdout


def test_without_a_models_file_the_template_is_used(tmp_path: Path) -> None:
    out = setup(tmp_path, "apply", "--hardware", str(HARDWARE / "laptop_8gb.json"))
    assert out.returncode == 0, out.stderr
    models = tmp_path / "config" / "models.yaml"
    assert "# SAGE: which local Ollama model serves each role." in models.read_text()
    assert load_models(models).roles["coder"].model == "qwen2.5-coder:3b"
    assert not list(models.parent.glob("*.bak"))


def test_a_broken_models_file_is_left_alone(tmp_path: Path) -> None:
    models = tmp_path / "config" / "models.yaml"
    models.parent.mkdir(parents=True)
    models.write_text("roles: [\n")
    out = setup(tmp_path, "apply", "--hardware", str(HARDWARE / "laptop_8gb.json"))
    # models.yaml is read first (which roles are on OpenAI-compatible servers), so the
    # sentence is the models.yaml reader's, with the line
    assert out.returncode == 2 and "is not valid YAML at line 2" in out.stderr
    assert models.read_text() == "roles: [\n"
