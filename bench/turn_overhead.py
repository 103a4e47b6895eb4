"""What SAGE adds to a model call: a whole `qa` turn beside bare `ollama.AsyncClient().chat`.

Both talk to the same fake Ollama server (tests/fake_ollama.py, in its own process so
it does not share the client's GIL) answering at once, so the difference is SAGE's own
work: routing, experts, context building, token accounting, and writing every event to
the session log (redaction included).

A qa turn makes two model calls (the router's classification, then the answer), so
it is compared with two bare streaming calls that send exactly the request bodies SAGE
sends; the answer call alone is compared with one. Targets: turn <= 1.10x the bare
calls and under 5 ms added; a fast-path answer under 10 ms. The same turn with OpenTelemetry
export on, to a collector that does not answer, is measured beside it (target: < 1 ms added).

Time to first output token, process start included: `sage run QUESTION` (the console
script, running this checkout's code) beside a bare script that imports the official
client and streams the same two request bodies, each spawned in alternating rounds after
one warm-up, with byte-code caches as an install has them, and timed until the first
answer text reaches their standard output. Target: <= 1.10x the bare script.

    python bench/turn_overhead.py [--turns 200] [--rounds 7] [--first-token]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import ollama

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sage_tui.config import Settings, load_models
from sage_tui.core.llm.context import PromptParts
from sage_tui.core.llm.ollama_backend import CONNECT_TIMEOUT
from sage_tui.factory import build_session

SCENARIO = {"rules": [
    {"when": {"role": "router"}, "reply": {"json": {"kind": "qa", "reasoningText": "question",
                                                    "experts": []}, "chunks": 1}},
    {"when": {}, "reply": {"content": "The answer is in cli.py:12, where main() parses the "
                                      "arguments and starts the server.", "chunks": 8}},
]}
QUESTION = "where are the command line arguments parsed?"


async def bare_calls(host: str, bodies: list[dict[str, Any]], turns: int,
                     timeout: Any = None) -> list[float]:
    """Bare streaming chats sending exactly the bodies SAGE sent (same messages, options,
    format), so the difference is SAGE's own work, not a longer prompt."""
    client = ollama.AsyncClient(host=host, timeout=timeout)
    times = []
    for _ in range(turns):
        start = time.perf_counter()
        for body in bodies:
            async for _part in await client.chat(model=body["model"], stream=True,
                                                 messages=body["messages"],
                                                 options=body.get("options"),
                                                 format=body.get("format")):
                pass
        times.append(time.perf_counter() - start)
    await client.close()  # type: ignore[no-untyped-call]
    return times


async def sage_turns(session: object, turns: int, text: str) -> list[float]:
    from sage_tui.factory import Session

    assert isinstance(session, Session)
    orchestrator = session.orchestrator
    times = []
    for _ in range(turns):
        start = time.perf_counter()
        result = await orchestrator.run_turn(text)
        times.append(time.perf_counter() - start)
        assert result.status == "ok", result.error
        orchestrator.transcript.clear()  # every turn the same size
    return times


async def sage_answer_calls(session: object, turns: int) -> list[float]:
    from sage_tui.factory import Session

    assert isinstance(session, Session)
    times = []
    for _ in range(turns):
        start = time.perf_counter()
        await session.llm.call("coder", PromptParts("You help.", QUESTION))
        times.append(time.perf_counter() - start)
    return times


def ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def serve_scenario() -> tuple[subprocess.Popen[str], str]:
    """The fake server in its own process, so it does not share the client's GIL."""
    folder = Path(tempfile.mkdtemp(prefix="sage-bench-"))
    (folder / "scenario.json").write_text(json.dumps(SCENARIO))
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.Popen([sys.executable, "-m", "tests.fake_ollama",
                             str(folder / "scenario.json"), "--port", "0"],
                            cwd=root, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    url = proc.stdout.readline().split()[3]  # "fake Ollama on http://127.0.0.1:PORT playing ..."
    return proc, url.removeprefix("http://")


async def main_async(turns: int) -> None:
    workspace = Path(tempfile.mkdtemp(prefix="sage-bench-ws-"))
    os.environ["SAGE_HOME"] = tempfile.mkdtemp(prefix="sage-bench-home-")
    proc, host = serve_scenario()
    try:
        settings = Settings(ollama_host=f"http://{host}", mode="silent")
        session = build_session(workspace, settings=settings, models=load_models(),
                                remember=False)
        traced = build_session(workspace, settings=replace(
            settings, session_id="bench-otel", otel_endpoint=dead_collector()),
            models=load_models(), remember=False)
        assert traced.telemetry is not None, "pip install -e '.[otel]' to measure the exporter"
        await sage_turns(traced, 5, QUESTION)
        # Warm up (connections, tokenizer probe, first-use imports) and learn what SAGE sends.
        await sage_turns(session, 5, QUESTION)
        turn_bodies = request_bodies(session, QUESTION)
        answer_bodies = turn_bodies[-1:]
        await bare_calls(host, turn_bodies, 5)
        bare2: list[float] = []
        timed2: list[float] = []
        ours: list[float] = []
        bare1: list[float] = []
        answer: list[float] = []
        exported: list[float] = []
        same_timeouts = httpx.Timeout(settings.model_timeout, connect=CONNECT_TIMEOUT)
        for _ in range(4):  # interleave rounds so drift hits both sides alike
            bare2 += await bare_calls(host, turn_bodies, turns // 4)
            timed2 += await bare_calls(host, turn_bodies, turns // 4, same_timeouts)
            ours += await sage_turns(session, turns // 4, QUESTION)
            bare1 += await bare_calls(host, answer_bodies, turns // 4)
            answer += await sage_answer_calls(session, turns // 4)
            exported += await sage_turns(traced, turns // 4, QUESTION)
        fast = await sage_turns(session, turns, "which models do you use?")
        await session.aclose()
        session.close_log()
        await traced.aclose()
        traced.close_log()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    print(f"turns measured: {len(ours)} (median of each); fake Ollama in its own process")
    print(f"bare AsyncClient.chat x2 (streamed):  {ms(bare2):7.2f} ms   (no timeouts: the default)")
    print(f"  the same with SAGE's timeouts:      {ms(timed2):7.2f} ms   "
          f"(connect {CONNECT_TIMEOUT:g} s, read {settings.model_timeout:g} s)")
    print(f"SAGE qa turn (router + answer):       {ms(ours):7.2f} ms   "
          f"ratio {ms(ours) / ms(bare2):.2f}x, added {ms(ours) - ms(bare2):+.2f} ms "
          "(target <= 1.10x, < 5 ms)")
    print(f"  against bare calls with the same timeouts: ratio {ms(ours) / ms(timed2):.2f}x, "
          f"added {ms(ours) - ms(timed2):+.2f} ms")
    print(f"bare AsyncClient.chat x1 (streamed):  {ms(bare1):7.2f} ms")
    print(f"SAGE answer call (LLMClient.call):    {ms(answer):7.2f} ms   "
          f"ratio {ms(answer) / ms(bare1):.2f}x, added {ms(answer) - ms(bare1):+.2f} ms")
    print(f"fast-path answer (no model):          {ms(fast):7.2f} ms   (target < 10 ms)")
    print(f"qa turn, OTel export to a dead collector: {ms(exported):7.2f} ms   added "
          f"{ms(exported) - ms(ours):+.2f} ms a turn (target < 1 ms)")


def dead_collector() -> str:
    """An OTLP endpoint on a port nobody listens on."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def request_bodies(session: Any, question: str) -> list[dict[str, Any]]:
    """The two request bodies SAGE sends for a qa turn (router, then answer)."""
    from sage_tui.core.agent.prompts import ANSWER_SYSTEM, ROUTER_SYSTEM
    from sage_tui.core.agent.router import ROUTE_SCHEMA
    from sage_tui.core.llm.context import build_prompt

    llm = session.llm
    out = []
    for role, system, fmt in (("router", ROUTER_SYSTEM, ROUTE_SCHEMA),
                              ("coder", ANSWER_SYSTEM["qa"], None)):
        choice = llm.router.primary(role)
        counter = llm.counters.get(choice.api, choice.host, choice.model, llm.backend(choice))
        built = build_prompt(PromptParts(system, question), role=role, num_ctx=choice.num_ctx,
                             max_chars=llm.max_prompt_chars, counter=counter)
        out.append({"model": choice.model, "messages": built.messages,
                    "options": dict(choice.options), "format": fmt})
    return out


BARE_FIRST_TOKEN = """
import asyncio, json, sys
import ollama

async def main():
    host, bodies = sys.argv[1], json.loads(sys.argv[2])
    client = ollama.AsyncClient(host=host)
    for index, body in enumerate(bodies):
        async for part in await client.chat(model=body["model"], stream=True,
                                            messages=body["messages"],
                                            options=body.get("options"),
                                            format=body.get("format")):
            if index == len(bodies) - 1 and part.message.content:
                sys.stdout.write(part.message.content)
                sys.stdout.flush()

asyncio.run(main())
"""


def first_output(argv: list[str], env: dict[str, str], cwd: Path, timeout: float = 60) -> float:
    """Seconds from spawning `argv` until its first byte of standard output."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, env=env, cwd=cwd)
    try:
        assert proc.stdout is not None
        if not proc.stdout.read(1):
            raise RuntimeError(f"{argv[:2]} printed nothing: {proc.communicate()[1]!r}")
        return time.perf_counter() - start
    finally:
        proc.kill()
        proc.wait()


def bench_first_token(rounds: int) -> tuple[float, float]:
    """Medians (sage run, bare script) of process start to the first answer text."""
    workspace = Path(tempfile.mkdtemp(prefix="sage-bench-ws-"))
    home = tempfile.mkdtemp(prefix="sage-bench-home-")
    proc, host = serve_scenario()
    try:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(SAGE_HOME=home, OLLAMA_HOST=f"http://{host}", SAGE_MODE="silent",
                   PYTHONPATH=str(ROOT))  # this checkout's sage_tui, not the installed one
        os.environ["SAGE_HOME"] = home
        session = build_session(workspace, settings=Settings(ollama_host=f"http://{host}",
                                                             mode="silent"),
                                models=load_models(), remember=False)
        asyncio.run(sage_turns(session, 1, QUESTION))  # learn what SAGE sends
        bodies = json.dumps(request_bodies(session, QUESTION))
        session.close_log()
        script = Path(tempfile.mkdtemp(prefix="sage-bench-")) / "bare_first_token.py"
        script.write_text(BARE_FIRST_TOKEN)
        sage = str(Path(sys.executable).with_name("sage"))
        ours_argv = [sage, "run", QUESTION, "--workspace", str(workspace)]
        bare_argv = [sys.executable, str(script), f"http://{host}", bodies]
        first_output(bare_argv, env, workspace)  # warm-up: byte-code caches, page cache
        first_output(ours_argv, env, workspace)
        ours, bare = [], []
        for _ in range(rounds):
            bare.append(first_output(bare_argv, env, workspace))
            ours.append(first_output(ours_argv, env, workspace))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return statistics.median(ours), statistics.median(bare)


ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=7, help="first-token rounds (paired)")
    parser.add_argument("--first-token", action="store_true",
                        help="measure only the time to first output token")
    args = parser.parse_args()
    if not args.first_token:
        asyncio.run(main_async(max(4, args.turns)))
    rounds = max(1, args.rounds)
    ours, bare = bench_first_token(rounds)
    print(f"first output token, bare client script: {bare * 1000:7.0f} ms  "
          f"(median of {rounds}, process start included)")
    print(f"first output token, sage run:           {ours * 1000:7.0f} ms")
    print(f"first token ratio, sage run / bare client: {ours / bare:.2f}x  (target <= 1.10x)")


if __name__ == "__main__":
    main()
