"""Config mistakes as a user makes them: all reported at once, `[keys]` ids and themes
checked with a "did you mean", and a `sage doctor` that looks without creating folders and
checks the models a forced tag or a profile will really use."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from sage_tui.config import load_settings
from sage_tui.configvalues import ConfigProblems
from sage_tui.core.errors import ConfigError
from tests.fake_ollama import FakeOllamaServer


def sage(*args: str, env: dict[str, str] | None = None,
         base: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sage_tui", *args], capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL,
                          env={**(os.environ if base is None else base), **(env or {})})


def write_config(home: Path, text: str) -> Path:
    path = home / "config" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


TWO_MISTAKES = 'mode = "turbo"\nmax_prompt_chars_total = 12\ntheme = "nord"\n'
TYPOS = 'theme = "nrod"\n\n[keys]\n"app.help" = "f1"\n"review.aprove" = "Y"\n'


def test_two_mistakes_in_config_toml_are_both_named_with_their_lines(sage_home: Path) -> None:
    path = write_config(sage_home, TWO_MISTAKES)
    with pytest.raises(ConfigProblems) as caught:
        load_settings()
    assert caught.value.problems == [
        f"{path} sets mode to 'turbo', but it must be one of research, auto, silent (line 1).",
        f"{path} sets max_prompt_chars_total to 12, but it must be a whole number of characters "
        "of at least 1000; try 60000 (line 2).",
    ]
    assert isinstance(caught.value, ConfigError)  # every command still refuses to start


def test_file_and_environment_mistakes_are_listed_together_and_the_command_refuses(
        sage_home: Path, tmp_path: Path) -> None:
    path = write_config(sage_home, 'moed = "auto"\ncommit = "sometimes"\n')
    out = sage("run", "hello", env={"SAGE_TURN_TIMEOUT": "forever"})
    assert out.returncode == 2 and out.stdout == ""
    lines = out.stderr.splitlines()
    assert lines[0] == "Error: the configuration has 3 problems; fix each:"
    assert lines[1] == (f"  - {path}: 'moed' is not a setting; did you mean 'mode'? known settings: "
                        + lines[1].split("known settings: ")[1])
    assert lines[1].endswith("(line 1).")
    assert lines[2].startswith(f"  - {path} sets commit to 'sometimes'") and "(line 2)" in lines[2]
    assert lines[3].startswith("  - SAGE_TURN_TIMEOUT is set to 'forever'")
    assert "Traceback" not in out.stderr


def test_one_mistake_reads_as_one_sentence(sage_home: Path) -> None:
    write_config(sage_home, 'mode = "auto"\n')
    with pytest.raises(ConfigError, match=r"^SAGE_MODE is set to 'turbo', but .*silent\.$"):
        load_settings(env={"SAGE_MODE": "turbo", "SAGE_HOME": str(sage_home)})


def test_a_typod_key_id_and_theme_get_a_did_you_mean(sage_home: Path) -> None:
    from sage_tui.ui.actions import ui_names

    path = write_config(sage_home, TYPOS)
    assert load_settings().keys == {"app.help": "f1", "review.aprove": "Y"}  # headless: unused
    with pytest.raises(ConfigProblems) as caught:
        load_settings(names=ui_names())
    keys, theme = caught.value.problems
    assert keys == (f"{path}: [keys] names 'review.aprove', which is not an action id; did you "
                    "mean 'review.approve'? the help screen (?) lists every id (line 5).")
    assert theme.startswith(f"{path} sets theme to 'nrod', which is not a theme; did you mean "
                            "'nord'? themes are ") and theme.endswith("(line 1).")


def test_the_workbench_refuses_a_typod_key_id(sage_home: Path, tmp_path: Path) -> None:
    """`sage demo` in a terminal (a pty) stops before drawing anything."""
    write_config(sage_home, TYPOS)
    leader, follower = os.openpty()
    try:
        out = subprocess.run([sys.executable, "-m", "sage_tui", "demo"], stdin=follower,
                             stdout=follower, stderr=subprocess.PIPE, text=True, timeout=60,
                             env={**os.environ, "TERM": "xterm"})
    finally:
        os.close(follower)
        os.close(leader)
    assert out.returncode == 2
    assert out.stderr.startswith("Error: the configuration has 2 problems; fix each:\n")
    assert "did you mean 'review.approve'?" in out.stderr and "did you mean 'nord'?" in out.stderr


def test_doctor_no_longer_says_config_ok_for_typos(sage_home: Path, dead_host: str) -> None:
    write_config(sage_home, TYPOS + "[other]\n")
    out = sage("doctor", "--json", env={"OLLAMA_HOST": dead_host})
    config = {c["name"]: c for c in json.loads(out.stdout)["checks"]}["config"]
    assert out.returncode == 1 and config["status"] == "fail"
    assert config["message"] == "3 problems in the configuration, each below; fix them all."
    other, keys, theme = config["details"]
    assert "'other' is not a setting" in other and "(line 6)" in other
    assert "did you mean 'review.approve'?" in keys and "(line 5)" in keys
    assert "did you mean 'nord'?" in theme and "(line 1)" in theme


def test_doctor_names_every_problem_across_config_toml_and_models_yaml(
        sage_home: Path, dead_host: str) -> None:
    write_config(sage_home, TWO_MISTAKES)
    (sage_home / "config" / "models.yaml").write_text("roles:\n  codr: {model: x}\n")
    out = sage("doctor", "--json", env={"OLLAMA_HOST": dead_host})
    config = {c["name"]: c for c in json.loads(out.stdout)["checks"]}["config"]
    assert config["status"] == "fail" and len(config["details"]) == 3, config
    assert "mode to 'turbo'" in config["details"][0]
    assert "max_prompt_chars_total to 12" in config["details"][1]
    assert "roles.codr is not a role" in config["details"][2]


def test_doctor_lists_every_models_yaml_problem_with_its_line(sage_home: Path,
                                                             dead_host: str) -> None:
    from tests.test_config import THREE_MISTAKES

    path = sage_home / "config" / "models.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(THREE_MISTAKES, encoding="utf-8")
    out = sage("doctor", env={"OLLAMA_HOST": dead_host})
    assert out.returncode == 1 and "Traceback" not in out.stderr
    lines = out.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if "config" in line and "✗" in line)
    assert lines[start].endswith("3 problems in the configuration, each below; fix them all.")
    host, key, option = (line.strip() for line in lines[start + 1:start + 4])
    assert host.startswith(f"{path}: profiles.gpu.host is not a server address") and \
        host.endswith("(line 4).")
    assert key.startswith(f"{path}: roles.coder.optoins is not a known key; did you mean "
                          "'options'?") and key.endswith("(line 8).")
    assert option == f"{path}: roles.planner.options.num_ctx must be a whole number, got 'big' " \
                     "(line 12)."


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize("with_sage_home", [True, False])
def test_doctor_on_a_fresh_machine_creates_no_folder(tmp_path: Path, dead_host: str,
                                                     with_sage_home: bool) -> None:
    home = tmp_path / "home"
    xdg = {name: str(tmp_path / "xdg" / name.lower()) for name in (
        "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME")}
    home.mkdir()
    (tmp_path / "xdg").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SAGE_", "XDG_"))}
    env.update(HOME=str(home), OLLAMA_HOST=dead_host, **xdg)
    if with_sage_home:
        env["SAGE_HOME"] = str(tmp_path / "sage")
    before = _tree(tmp_path)
    out = sage("doctor", "--json", base=env)
    checks = {c["name"]: c for c in json.loads(out.stdout)["checks"]}
    assert checks["folders"]["status"] == "ok", checks["folders"]
    assert _tree(tmp_path) == before  # looked, created nothing
    created = [d for d in checks["folders"]["details"] if "will be created in" in d]
    assert len(created) == 4
    if not with_sage_home:
        assert all(str(tmp_path / "xdg") in d for d in checks["folders"]["details"])


def test_doctor_checks_the_forced_model_not_the_configured_ones(
        sage_home: Path, fake_ollama: Callable[..., FakeOllamaServer]) -> None:
    server = fake_ollama({"rules": [{"reply": "hi"}], "models": [{"name": "tiny:1b"}]})
    out = sage("doctor", "--json", env={"OLLAMA_HOST": server.host,
                                        "SAGE_FORCE_LOCAL_MODEL": "tiny:1b"})
    checks = {c["name"]: c for c in json.loads(out.stdout)["checks"]}
    assert checks["ollama"]["status"] == "ok", checks["ollama"]
    assert checks["config"]["details"][0].startswith("router: tiny:1b (SAGE_FORCE_LOCAL_MODEL) (num_ctx")
    assert all("tiny:1b" in d for d in checks["config"]["details"])


def test_doctor_checks_the_profiles_model(
        sage_home: Path, fake_ollama: Callable[..., FakeOllamaServer]) -> None:
    from sage_tui.config import default_models

    tag = default_models().profiles["test"].model
    server = fake_ollama({"rules": [{"reply": "hi"}], "models": [{"name": tag}]})
    out = sage("doctor", "--json", env={"OLLAMA_HOST": server.host, "SAGE_MODEL_PROFILE": "test"})
    checks = {c["name"]: c for c in json.loads(out.stdout)["checks"]}
    assert checks["ollama"]["status"] == "ok", checks["ollama"]
    assert all(f"{tag} (profile test)" in d for d in checks["config"]["details"])
    missing = fake_ollama({"rules": [{"reply": "hi"}], "models": [{"name": "other:1b"}]})
    out = sage("doctor", "--json", env={"OLLAMA_HOST": missing.host, "SAGE_MODEL_PROFILE": "test"})
    ollama = {c["name"]: c for c in json.loads(out.stdout)["checks"]}["ollama"]
    assert ollama["status"] != "ok" and f"ollama pull {tag}" in ollama["message"]
