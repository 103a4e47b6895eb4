"""What the attacker's pass on the record stream found, each written as the attack: a record
arriving mid-answer, a secret on the line after its name, a line longer than the hold, a token
cut by a length limit, a token in a dict key, and code that only looks like an assignment."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from sage_tui.config import Settings
from sage_tui.core.llm.scripted import Scenario, ScriptedBackend
from sage_tui.core.log.redaction import clip, redact, redact_value
from sage_tui.core.log.streaming import StreamRedactor
from sage_tui.factory import build_session
from sage_tui.ui.bridge import UiBridge
from sage_tui.ui.messages import AnswerDelta
from tests.conftest import git_repo
from tests.helpers import as_events

GH = "gh" + "p_" + "Zx81Qa" * 6
AWS = "AbCdEfGhIj" + "KlMnOpQrSt" + "UvWxYz0123" + "456789abcd"


class Posted:
    """Stands in for the app: keeps what the bridge posts."""

    def __init__(self) -> None:
        self.text = ""

    def post_message(self, message: Any) -> None:
        if isinstance(message, AnswerDelta):
            self.text += message.text


async def _stream_with_a_record_in_the_middle() -> str:
    app = Posted()
    bridge = UiBridge(app)  # type: ignore[arg-type]
    bridge.delta("the deploy key is " + GH[:15])
    bridge.sink({"event": "ERROR", "data": {}})  # e.g. the exporter's warning, from its thread
    bridge.delta(GH[15:] + " and more text")
    bridge.sink({"event": "ASSISTANT_MESSAGE", "data": {}})
    return app.text


def test_a_record_mid_answer_never_releases_half_a_token() -> None:
    shown = asyncio.run(_stream_with_a_record_in_the_middle())
    assert GH not in shown and GH[:12] not in shown and "[REDACTED:github_token]" in shown


@pytest.mark.parametrize("text", [
    f"aws_secret_access_key =\n{AWS}\nnext\n",
    f"Authorization:\nBearer {GH}x\nnext\n",
    "lorem token ipsum " * 4000 + GH + " end",  # a hint line longer than the hold
])
def test_streamed_text_is_redacted_as_the_log_redacts_it(text: str) -> None:
    redactor = StreamRedactor()
    shown = "".join(redactor.feed(c) for c in text) + redactor.finish()
    assert AWS not in shown and GH not in shown and GH[:12] not in shown


def test_a_length_limit_never_leaves_a_piece_of_a_token() -> None:
    line = "x" * 120 + " " + GH + " trailing words"
    clipped = clip(line, 160)
    assert GH[:12] not in clipped and redact(clipped) == clipped
    assert clip("ab ab ab", 4) == "ab "  # at a word's edge
    assert GH[:12] not in clip(GH, 20)  # a word longer than the limit: redacted first
    tail = clip("start " + GH + " end of output", 20, tail=True)
    assert GH[-12:] not in tail and tail.endswith("end of output")


def test_a_retrieval_hit_cut_mid_token_does_not_reach_the_log(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo", {"deploy.sh": "# " + "x" * 118 + " " + GH + " deploy\n"})
    backend = ScriptedBackend(Scenario.load({"rules": [
        {"when": {"role": "router"}, "reply": {"json": {"kind": "qa", "reasoningText": "x",
                                                        "experts": ["retrieval"]}}},
        {"when": {}, "reply": "ok"}]}))
    events: list[Any] = []
    session = build_session(repo, settings=Settings(mode="auto", force_local_model="m:7b",
                                                    ollama_host="http://192.0.2.2:11434"),
                            backend_for=lambda h: backend, subscribers=(as_events(events),),
                            remember=False)
    try:
        asyncio.run(session.orchestrator.run_turn("how does deploy work?"))
    finally:
        session.close_log()
    logged = json.dumps([e.data for e in events])
    sent = json.dumps([r.messages for r in backend.requests])
    assert GH[:12] not in logged and GH[:12] not in sent


def test_dict_keys_and_numbers_under_secret_names_are_redacted() -> None:
    out = json.dumps(redact_value({"args": {"path": "a.py", GH: "x"}, "password": 12345678,
                                   "passed": 3}))
    assert GH not in out and "12345678" not in out and '"passed": 3' in out


@pytest.mark.parametrize("code", [
    "  token: string;", "  api_key: Option<String>,", "PASSWORD=$(openssl rand -hex 16)",
    "TOKEN=`cat ~/.token`", "const url = `${base}/token/${id}`", "secret: Secret<String>,",
])
def test_code_that_names_a_secret_is_left_as_it_is(code: str) -> None:
    assert redact(code) == code
