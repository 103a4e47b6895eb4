"""`sage prep` with roles on OpenAI-compatible servers: what each server serves, per role,
never an `ollama pull` for such a role, one sentence when a server cannot be asked, and
never the key in the output."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sage_tui.paths import sage_paths
from tests.fake_ollama import FakeOllamaServer
from tests.fake_openai import FakeOpenAI
from tests.test_prep import HARDWARE, prep

KEY = "sk-test-4f9a1c0b7e2d5a8c3b6e9f0d1a2b3c4d"
MACHINE = str(HARDWARE / "desktop_16gb_8gb_nvidia.json")


@pytest.fixture
def openai_server() -> Iterator[Callable[..., FakeOpenAI]]:
    servers: list[FakeOpenAI] = []

    def start(**kwargs: Any) -> FakeOpenAI:
        server = FakeOpenAI(**kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def write_models(roles: dict[str, dict[str, str]]) -> Path:
    """A models.yaml with these roles (the others keep the built-in Ollama models)."""
    text = "roles:\n" + "".join(
        f"  {role}:\n" + "".join(f"    {key}: {value}\n" for key, value in entry.items())
        for role, entry in roles.items())
    path = sage_paths().models_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def on_server(host: str, model: str, key_env: str | None = "PREP_TEST_KEY") -> dict[str, str]:
    entry = {"model": model, "api": "openai", "host": f"{host}/v1"}
    return {**entry, "api_key_env": key_env} if key_env else entry


def test_a_mixed_models_yaml(openai_server: Callable[..., FakeOpenAI],
                             fake_ollama: Callable[..., FakeOllamaServer]) -> None:
    server = openai_server(models=("qwen2.5-coder-14b-instruct", "llama-3.2-3b"), key=KEY)
    ollama = fake_ollama({"models": [], "rules": [{"when": {}, "reply": "x"}]})
    write_models({"coder": on_server(server.host, "qwen2.5-coder-14b-instruct"),
                  "reviewer": on_server(server.host, "not-loaded-7b")})
    env = {"PREP_TEST_KEY": KEY, "OLLAMA_HOST": ollama.host}

    out = prep("--json", "--hardware", MACHINE, env=env)
    assert out.returncode == 1, out.stderr  # the reviewer's model is not served
    plan = json.loads(out.stdout)
    assert [p["role"] for p in plan["picks"]] == ["router", "planner", "summarizer"]
    assert plan["pull"] == ["ollama pull qwen2.5:1.5b", "ollama pull qwen2.5-coder:7b"]
    [report] = plan["servers"]
    assert report == {
        "api": "openai", "host": f"{server.host}/v1", "api_key_env": "PREP_TEST_KEY",
        "key_set": True, "reachable": True, "error": None,
        "serves": ["llama-3.2-3b", "qwen2.5-coder-14b-instruct"],
        "roles": [{"role": "coder", "model": "qwen2.5-coder-14b-instruct", "served": True},
                  {"role": "reviewer", "model": "not-loaded-7b", "served": False}]}

    text = prep("--hardware", MACHINE, env=env)
    assert text.returncode == 1
    lines = text.stdout.splitlines()
    assert any(line.split()[:3] == ["coder", "qwen2.5-coder-14b-instruct", "served"]
               for line in lines)
    assert any(line.split()[:4] == ["reviewer", "not-loaded-7b", "NOT", "served:"]
               for line in lines)
    assert "serves: llama-3.2-3b, qwen2.5-coder-14b-instruct" in text.stdout
    assert "the model must be loaded on that server" in text.stdout
    assert "key from $PREP_TEST_KEY" in text.stdout
    pulls = [line.split()[-1] for line in lines if line.strip().startswith("ollama pull")]
    assert pulls == ["qwen2.5:1.5b", "qwen2.5-coder:7b"]  # none for the server's roles
    assert not any(line.split()[:1] in (["coder"], ["reviewer"]) and "GB" in line for line in lines)
    for result in (out, text):
        assert KEY not in result.stdout + result.stderr

    # --pull pulls the Ollama roles' models only
    pulled = prep("--pull", "--hardware", MACHINE, env=env)
    assert [r.body["model"] for r in ollama.requests if r.path == "/api/pull"] == [
        "qwen2.5:1.5b", "qwen2.5-coder:7b"]
    assert pulled.returncode == 1 and KEY not in pulled.stdout + pulled.stderr
    # (the server lists its models only for the right bearer key: the key was sent)


def test_every_role_on_a_server_has_nothing_to_pull(
        openai_server: Callable[..., FakeOpenAI],
        fake_ollama: Callable[..., FakeOllamaServer]) -> None:
    server = openai_server(models=("gemma-3-270m",))
    ollama = fake_ollama({"models": [], "rules": [{"when": {}, "reply": "x"}]})
    write_models({role: on_server(server.host, "gemma-3-270m", key_env=None)
                  for role in ("router", "planner", "coder", "reviewer", "summarizer")})
    out = prep("--hardware", MACHINE, env={"OLLAMA_HOST": ollama.host})
    assert out.returncode == 0, out.stderr
    assert "ollama pull" not in out.stdout
    assert "Nothing to pull with Ollama" in out.stdout
    pulled = prep("--pull", "--hardware", MACHINE, env={"OLLAMA_HOST": ollama.host})
    assert pulled.returncode == 0 and "Nothing to pull" in pulled.stdout
    assert not [r for r in ollama.requests if r.path == "/api/pull"]
    plan = json.loads(prep("--json", "--hardware", MACHINE).stdout)
    assert plan["picks"] == [] and plan["pull"] == []
    assert all(role["served"] for role in plan["servers"][0]["roles"])


def test_an_unreachable_server_is_one_sentence(dead_host: str) -> None:
    write_models({"coder": on_server(f"http://{dead_host}", "qwen2.5-coder-14b-instruct")})
    out = prep("--hardware", MACHINE, env={"PREP_TEST_KEY": KEY})
    assert out.returncode == 1
    assert "Traceback" not in out.stdout + out.stderr and KEY not in out.stdout + out.stderr
    sentence = f"Cannot reach the OpenAI-compatible server at http://{dead_host}/v1; start it"
    assert sum(sentence in line for line in out.stdout.splitlines()) == 1
    assert "unknown (the server could not be asked)" in out.stdout
    report = json.loads(prep("--json", "--hardware", MACHINE).stdout)["servers"][0]
    assert report["reachable"] is False and report["error"].startswith("Cannot reach")
    assert report["roles"] == [{"role": "coder", "model": "qwen2.5-coder-14b-instruct",
                                "served": None}]


@pytest.mark.parametrize("given", ["sk-wrong-0123456789abcdef", None])
def test_a_refused_key_is_one_sentence(openai_server: Callable[..., FakeOpenAI],
                                       given: str | None) -> None:
    server = openai_server(models=("gemma-3-270m",), key=KEY)
    write_models({"coder": on_server(server.host, "gemma-3-270m")})
    env = {"PREP_TEST_KEY": given} if given else {}
    out = prep("--hardware", MACHINE, env=env)
    assert out.returncode == 1
    assert "refused the key (HTTP 401)" in out.stdout
    assert ("key from $PREP_TEST_KEY" if given else "$PREP_TEST_KEY is not set") in out.stdout
    for secret in (KEY, given or KEY):
        assert secret not in out.stdout + out.stderr
    report = json.loads(prep("--json", "--hardware", MACHINE, env=env).stdout)["servers"][0]
    assert report["key_set"] is bool(given) and "refused the key" in report["error"]
    assert report["serves"] == [] and report["roles"][0]["served"] is None


def test_setup_apply_leaves_a_server_role_alone(sage_home: Path) -> None:
    from sage_tui.config import load_models
    from tests.test_setup import setup

    path = write_models({"coder": on_server("http://127.0.0.1:9", "my-served-model"),
                         "router": {"model": "qwen2.5:0.5b"}})
    out = setup(sage_home, "apply", "--hardware", MACHINE)
    assert out.returncode == 0, out.stderr
    roles = load_models(path).roles
    assert (roles["coder"].model, roles["coder"].api) == ("my-served-model", "openai")
    assert roles["router"].model == "qwen2.5:1.5b"  # an Ollama role still gets its pick
