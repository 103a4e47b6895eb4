"""`sage prep`: sensible, explained picks for the machines people have; pulling; errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sage_tui.core.errors import ConfigError
from sage_tui.setup.prep import Gpu, Hardware, catalogue, load_hardware, recommend
from tests.fake_ollama import FakeOllamaServer

HARDWARE = Path(__file__).parent / "fixtures" / "hardware"


def prep(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sage_tui", "prep", *args], capture_output=True,
                          text=True, timeout=120, env={**os.environ, **(env or {})},
                          stdin=subprocess.DEVNULL)


def picks(name: str) -> dict[str, Any]:
    out = prep("--json", "--hardware", str(HARDWARE / name))
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.parametrize("machine,coder,router,summarizer,where", [
    ("laptop_8gb.json", "qwen2.5-coder:3b", "qwen2.5:1.5b", "qwen2.5:1.5b", "RAM, no GPU"),
    ("desktop_16gb_8gb_nvidia.json", "qwen2.5-coder:7b", "qwen2.5:1.5b", "qwen2.5:1.5b",
     "8 GB VRAM on RTX 4060"),
    ("workstation_64gb_24gb_nvidia.json", "qwen2.5-coder:14b", "qwen2.5:1.5b", "llama3.2:3b",
     "24 GB VRAM on RTX 4090"),
    ("mac_32gb.json", "qwen2.5-coder:14b", "qwen2.5:1.5b", "llama3.2:3b", "unified memory"),
])
def test_sensible_explained_picks(machine: str, coder: str, router: str, summarizer: str,
                                  where: str) -> None:
    plan = picks(machine)
    by_role = {p["role"]: p for p in plan["picks"]}
    assert {r: by_role[r]["tag"] for r in ("planner", "coder", "reviewer")} == {
        "planner": coder, "coder": coder, "reviewer": coder}
    assert (by_role["router"]["tag"], by_role["summarizer"]["tag"]) == (router, summarizer)
    assert where in plan["where"]
    assert "GB to spare" in by_role["coder"]["why"]
    # what is picked fits: the shared big model and the router together, within the budget
    assert by_role["coder"]["need_gb"] + by_role["router"]["need_gb"] <= plan["budget_gb"]
    assert plan["pull"] == [f"ollama pull {t}" for t in dict.fromkeys(
        by_role[r]["tag"] for r in ("router", "planner", "coder", "reviewer", "summarizer"))]
    assert all("gemma3:270m" not in p["tag"] for p in plan["picks"])  # never the test profile


def test_the_human_readable_table() -> None:
    out = prep("--hardware", str(HARDWARE / "desktop_16gb_8gb_nvidia.json"))
    assert out.returncode == 0
    assert "fits in 8 GB VRAM with" in out.stdout and "GB to spare" in out.stdout
    assert "  ollama pull qwen2.5-coder:7b" in out.stdout


def test_a_bigger_gpu_never_gets_a_smaller_coder() -> None:
    qualities = {m.tag: m.quality for m in catalogue()}
    last = 0
    for vram in (4, 6, 8, 12, 16, 24, 48):
        plan = recommend(Hardware(64, 8, 900, (Gpu("nvidia", "GPU", vram),)))
        coder = next(p.tag for p in plan.picks if p.role == "coder")
        assert qualities[coder] >= last
        last = qualities[coder]


def test_cpu_only_machines_are_capped_and_told(tmp_path: Path) -> None:
    plan = recommend(Hardware(128, 32, 900))
    assert next(p.tag for p in plan.picks if p.role == "coder") == "qwen2.5-coder:7b"
    assert any("No GPU" in n for n in plan.notes)


def test_too_little_memory_and_disk(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="No catalogued model fits"):
        recommend(Hardware(4, 2, 100))
    plan = recommend(Hardware(16, 8, 1.0, (Gpu("nvidia", "RTX", 8),)))
    assert any("free some space" in n for n in plan.notes)


def test_bad_hardware_files(tmp_path: Path) -> None:
    bad = tmp_path / "hw.json"
    bad.write_text('{"cpu_cores": 4}')
    with pytest.raises(ConfigError, match="needs ram_gb"):
        load_hardware(bad)
    bad.write_text("not json")
    out = prep("--hardware", str(bad))
    assert out.returncode == 2 and "Cannot read the hardware file" in out.stderr


def test_this_machine_is_read() -> None:
    out = prep("--json")
    assert out.returncode == 0
    hardware = json.loads(out.stdout)["hardware"]
    assert hardware["ram_gb"] > 0 and hardware["cpu_cores"] >= 1


def test_pull_shows_progress_through_the_api(fake_ollama: Callable[..., FakeOllamaServer]) -> None:
    server = fake_ollama({"models": ["already:1b"], "rules": [{"when": {}, "reply": "x"}]})
    out = prep("--pull", "--hardware", str(HARDWARE / "desktop_16gb_8gb_nvidia.json"),
               env={"OLLAMA_HOST": server.host})
    assert out.returncode == 0, out.stderr
    pulled = [r.body["model"] for r in server.requests if r.path == "/api/pull"]
    assert pulled == ["qwen2.5:1.5b", "qwen2.5-coder:7b"]
    assert "qwen2.5-coder:7b: success (4.5 MB in 3 layers, " in out.stdout
    # one bar across the layers, with bytes, speed and time left: it ends at the sum of the
    # layers (4.5 MB), not at the first layer's 3.0 MB (which read 100 % before)
    bar = next(line for line in out.stdout.splitlines() if line.startswith("qwen2.5-coder:7b "))
    assert re.search(r"━+ 4\.5/4\.5 MB [\d.]+ [kMG]?B/s \d+:\d\d:\d\d$", bar), bar
    assert "3.0/3.0 MB" not in out.stdout and "%" not in out.stdout


def test_pull_without_ollama_is_one_sentence(dead_host: str) -> None:
    out = prep("--pull", "--hardware", str(HARDWARE / "laptop_8gb.json"),
               env={"OLLAMA_HOST": dead_host})
    assert out.returncode == 1 and "Cannot reach Ollama" in out.stderr
    assert "Traceback" not in out.stderr


def test_pull_with_json_keeps_stdout_one_document(
        fake_ollama: Callable[..., FakeOllamaServer]) -> None:
    # docs/cli.md: with --json, stdout is exactly one JSON document; progress goes to stderr
    server = fake_ollama({"models": ["already:1b"], "rules": [{"when": {}, "reply": "x"}]})
    out = prep("--json", "--pull", "--hardware", str(HARDWARE / "desktop_16gb_8gb_nvidia.json"),
               env={"OLLAMA_HOST": server.host})
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.splitlines()) == 1, out.stdout
    assert json.loads(out.stdout)["ok"] is True
    assert "qwen2.5-coder:7b: success" in out.stderr


def test_a_failed_pull_with_json_says_so_in_the_document(dead_host: str) -> None:
    out = prep("--json", "--pull", "--hardware", str(HARDWARE / "laptop_8gb.json"),
               env={"OLLAMA_HOST": dead_host})
    assert out.returncode == 1 and "Cannot reach Ollama" in out.stderr
    document = json.loads(out.stdout)  # one document, and it does not claim success
    assert document["ok"] is False and "Cannot reach Ollama" in document["error"]
