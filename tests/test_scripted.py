"""The scenario format: parsing errors name the rule; matching and `times` behave."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from sage_tui.core.errors import ConfigError
from sage_tui.core.llm.errors import ModelNotFound, ModelTimeout, ToolsUnsupported
from sage_tui.core.llm.scripted import RequestView, Scenario, ScenarioExhausted, ScriptedBackend
from sage_tui.core.llm.types import ChatRequest


def view(text: str, role: str = "coder", model: str = "m") -> RequestView:
    return RequestView(role, model, [{"role": "system", "content": "You are SAGE."},
                                     {"role": "user", "content": text}])


@pytest.mark.parametrize("data,message", [
    ({}, "'rules' must be a non-empty list"),
    ({"rules": [{"when": {"colour": "red"}, "reply": "x"}]}, r"rules\[0\]: 'when' may use only"),
    ({"rules": [{"when": {}}]}, r"rules\[0\] needs a 'reply' or a 'fault'"),
    ({"rules": [{"when": {}, "fault": "explode"}]}, "fault 'explode' is not one of"),
    ({"rules": [{"when": {}, "reply": "x"}, {"when": {}, "reply": {"text": 1}}]},
     r"rules\[1\]: 'reply' may use only"),
    ({"rules": [{"when": {}, "reply": "x", "times": 0}]}, "'times' must be a positive"),
    ({"rules": [{"when": {}, "reply": "x", "colour": 1}]}, "unknown key 'colour'"),
])
def test_bad_scenarios_are_config_errors(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Scenario.load(data)


def test_scenario_file_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("rules: [\n")
    with pytest.raises(ConfigError, match=r"s\.yaml is not valid YAML"):
        Scenario.load(path)
    with pytest.raises(ConfigError, match="Cannot read the scenario"):
        Scenario.load(tmp_path / "missing.yaml")


def test_rules_match_in_order_and_times_runs_out() -> None:
    scenario = Scenario.load({"rules": [
        {"when": {"role": "router"}, "reply": "route"},
        {"when": {"contains": "FLAG"}, "reply": "first", "times": 1},
        {"when": {"system_contains": "sage"}, "reply": "fallback"},
    ]})
    assert scenario.take(view("x", role="router")).reply.content == "route"  # type: ignore[union-attr]
    assert scenario.take(view("add a flag")).reply.content == "first"  # type: ignore[union-attr]
    assert scenario.take(view("add a flag")).reply.content == "fallback"  # type: ignore[union-attr]
    no_system = RequestView("coder", "m", [{"role": "user", "content": "x"}])
    with pytest.raises(ScenarioExhausted, match="has no reply for the coder call"):
        scenario.take(no_system)


def test_reply_pieces_and_counters() -> None:
    scenario = Scenario.load({"rules": [{"when": {}, "reply": {"content": "abcdefgh", "chunks": 3}}]})
    reply = scenario.take(view("x")).reply
    assert reply is not None and reply.pieces() == ["abc", "def", "gh"]
    prompt, completion = reply.counters([{"role": "user", "content": "two words"}])
    assert prompt == 6 and completion == 1


def chunks(backend: ScriptedBackend, **kwargs: object) -> list[object]:
    request = ChatRequest(model=str(kwargs.pop("model", "m")), messages=[
        {"role": "user", "content": "hi"}], options={"num_ctx": 1024}, **kwargs)  # type: ignore[arg-type]

    async def go() -> list[object]:
        return [c async for c in backend.chat(request)]

    return asyncio.run(go())


def test_scripted_backend_plays_faults_as_typed_errors() -> None:
    scenario = Scenario.load({"models": [{"name": "m", "capabilities": ["completion"]}],
                              "rules": [{"when": {"contains": "hi"}, "fault": "stall"}]})
    backend = ScriptedBackend(scenario)
    with pytest.raises(ModelNotFound):
        chunks(backend, model="other")
    with pytest.raises(ToolsUnsupported):
        chunks(backend, tools=[{"type": "function"}])
    with pytest.raises(ModelTimeout):
        chunks(backend, read_timeout=0.05)
