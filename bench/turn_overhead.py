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
answer text reaches their standard output. Target: <= 1.10x the bare script. Against the
fake server the figure is process start-up and SAGE's own work only.

With `--gguf PATH` the same is measured a second time against a real engine: llama.cpp
serving that GGUF through the in-repo Ollama shim (sage_tui/eval/ollama_shim.py, with
Gemma's chat template), every role on the one model it serves (a models.yaml in a scratch
SAGE_HOME), each role stopping after 8 tokens so rounds stay quick. The router's JSON is
cut short, so SAGE takes its fail-safe route (qa, with the memory expert) in every round.
Compared: from spawning each process to its first byte of answer text, both sending, before
that byte, exactly the same two chat requests (the router's, then the answer's with the
memory expert's packet), the bodies one in-process turn sent; every round of each side is
checked at the shim (same calls, same model, messages, options and format, nothing more).
A round waits until the engine is idle before the next starts. SAGE shows streamed text in
whole words (redaction), so its first byte can follow the first token by a token or more;
the report gives the median time from the shim sending the first text to each side showing it.

    python bench/turn_overhead.py [--turns 200] [--rounds 7] [--first-token] [--gguf PATH]
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

# Against a real engine every role stops after a few tokens, so rounds stay quick: the
# router's JSON is cut short and SAGE takes its fail-safe route (qa, with the memory
# expert), the same route and the same bodies in every round; the bare script sends those
# bodies too. Only the answer's first token is timed.
ROUTER_TOKENS = 8
ANSWER_TOKENS = 8


def first_output(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """When `argv` was spawned and when its first byte of standard output arrived
    (`time.perf_counter()`); the process is then killed."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, env=env, cwd=cwd)
    try:
        assert proc.stdout is not None
        if not proc.stdout.read(1):
            raise RuntimeError(f"{argv[:2]} printed nothing: {proc.communicate()[1]!r}")
        return start, time.perf_counter()
    finally:
        proc.kill()
        proc.wait()


def child_env(home: str, host: str) -> dict[str, str]:
    """The environment both sides are spawned with: byte-code caches as an install has
    them, this checkout's sage_tui, a scratch SAGE_HOME, and no inherited SAGE_*/OLLAMA_*."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"
           and not k.startswith(("SAGE_", "OLLAMA_"))}
    env.update(SAGE_HOME=home, OLLAMA_HOST=f"http://{host}", SAGE_MODE="silent",
               PYTHONPATH=str(ROOT))
    return env


def learn_bodies(host: str, workspace: Path) -> list[dict[str, Any]]:
    """One in-process qa turn with the settings `sage run` will read, then what it sent."""
    session = build_session(workspace, settings=Settings(ollama_host=f"http://{host}",
                                                         mode="silent"),
                            models=load_models(), remember=False)

    async def turn() -> None:
        try:
            await sage_turns(session, 1, QUESTION)
        finally:
            await session.aclose()

    try:
        asyncio.run(turn())
        return request_bodies(session, QUESTION)
    finally:
        session.close_log()


def paired(ours_argv: list[str], bare_argv: list[str], env: dict[str, str], cwd: Path,
           rounds: int, after: Any = None) -> tuple[list[float], list[float]]:
    """One warm-up each (byte-code caches, page cache, model load), then `rounds` paired
    rounds, bare first; `after(side, first_byte)` runs after every spawn (untimed)."""
    ours: list[float] = []
    bare: list[float] = []
    for index in range(rounds + 1):
        for side, argv, times in (("bare", bare_argv, bare), ("sage", ours_argv, ours)):
            start, first = first_output(argv, env, cwd)
            if after is not None:
                after(side, first)
            if index:
                times.append(first - start)
    return ours, bare


def bench_first_token(rounds: int) -> tuple[float, float]:
    """Medians (sage run, bare script) of process start to the first answer text, against
    the fake server answering at once: process start-up and SAGE's own work only."""
    workspace = Path(tempfile.mkdtemp(prefix="sage-bench-ws-"))
    home = tempfile.mkdtemp(prefix="sage-bench-home-")
    proc, host = serve_scenario()
    try:
        env = child_env(home, host)
        os.environ["SAGE_HOME"] = home
        bodies = json.dumps(learn_bodies(host, workspace))
        ours, bare = paired(*argvs(workspace, host, bodies), env, workspace, rounds)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return statistics.median(ours), statistics.median(bare)


def argvs(workspace: Path, host: str, bodies: str) -> tuple[list[str], list[str]]:
    """`sage run QUESTION` (this checkout's code, through the installed console script)
    and the bare script streaming `bodies`."""
    script = Path(tempfile.mkdtemp(prefix="sage-bench-")) / "bare_first_token.py"
    script.write_text(BARE_FIRST_TOKEN)
    sage = str(Path(sys.executable).with_name("sage"))
    return ([sage, "run", QUESTION, "--workspace", str(workspace)],
            [sys.executable, str(script), f"http://{host}", bodies])


def engine_models(model: str) -> str:
    """models.yaml for the scratch SAGE_HOME: every role on the one model the shim serves."""
    from sage_tui.core.log.payloads import ROLES

    lines = ["defaults:", "  options: {num_ctx: 4096, temperature: 0}", "roles:"]
    for role in ROLES:
        tokens = ROUTER_TOKENS if role == "router" else ANSWER_TOKENS
        lines.append(f"  {role}: {{model: '{model}', options: {{num_predict: {tokens}}}}}")
    return "\n".join(lines) + "\n"


def serve_gguf(gguf: Path) -> Any:
    """The in-repo Ollama shim over llama.cpp, keeping every chat body it is sent and when
    it sent each reply's first text, and counting open connections (a killed client's
    stream ends when its next token fails)."""
    import io
    import threading

    from sage_tui.eval.ollama_shim import LlamaOllamaServer, _Handler

    class Recording(_Handler):
        server: RecordingShim

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path == "/api/chat":
                self.server.chats.append((time.perf_counter(), json.loads(raw)))
            self.texted = False
            kept, self.rfile = self.rfile, io.BytesIO(raw)
            try:
                super().do_POST()
            finally:
                self.rfile = kept

        def _line(self, obj: Any) -> None:
            super()._line(obj)
            if not self.texted and (obj.get("message") or {}).get("content"):
                self.texted = True
                self.server.texts.append(time.perf_counter())

    class RecordingShim(LlamaOllamaServer):
        def __init__(self) -> None:
            # The GGUF may carry no chat template, and llama.cpp's fallback (chatml) makes
            # Gemma answer in markup with no spaces, which SAGE's stream (whole words, for
            # redaction) would hold back for many tokens; Gemma's own template gives prose.
            super().__init__(gguf, quiet=True, chat_template="gemma")
            self.RequestHandlerClass = Recording
            self.chats: list[tuple[float, dict[str, Any]]] = []  # (arrived, body)
            self.texts: list[float] = []  # when each reply's first text was sent
            self.open = 0
            self.lock = threading.Lock()

        def finish_request(self, request: Any, client_address: Any) -> None:
            with self.lock:
                self.open += 1
            try:
                super().finish_request(request, client_address)
            finally:
                with self.lock:
                    self.open -= 1

        def handle_error(self, request: Any, client_address: Any) -> None:
            if not isinstance(sys.exc_info()[1], ConnectionError):  # killed at its first token
                super().handle_error(request, client_address)

        def settle(self) -> None:
            """Wait until every client's request has ended, so no round queues behind the
            generation a killed client left running."""
            deadline = time.monotonic() + 600
            while self.open and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(0.05)  # llama.cpp notices the closed stream at its next token

    return RecordingShim().start()


def sent(body: dict[str, Any]) -> dict[str, Any]:
    """What makes two chat requests the same work for the engine."""
    return {key: body.get(key) or None for key in ("model", "messages", "options", "format")}


def bench_first_token_engine(rounds: int, gguf: Path) -> tuple[float, float, str]:
    """Medians (sage run, bare script) of process start to the first answer text, against
    llama.cpp serving `gguf` through the Ollama shim; and what SAGE's turns did."""
    workspace = Path(tempfile.mkdtemp(prefix="sage-bench-ws-"))
    home = tempfile.mkdtemp(prefix="sage-bench-home-")
    server = serve_gguf(gguf)
    try:
        config = Path(home) / "config"
        config.mkdir(parents=True)
        (config / "models.yaml").write_text(engine_models(server.model_name))
        env = child_env(home, server.host)
        os.environ["SAGE_HOME"] = home
        rebuilt = [sent(body) for body in learn_bodies(server.host, workspace)]
        bodies = [body for _, body in server.chats]  # what the in-process turn sent
        expected = [sent(body) for body in bodies]
        if len(expected) != len(rebuilt) or not all(
                ours["messages"][0]["content"].startswith(qa["messages"][0]["content"])
                for ours, qa in zip(expected, rebuilt, strict=False)):  # router, qa answer
            raise RuntimeError(f"the turn was not routed as qa: it sent {expected!r}")
        server.settle()
        seen = len(server.chats)
        held: dict[str, list[float]] = {"bare": [], "sage": []}

        def check(side: str, first_byte: float) -> None:
            nonlocal seen
            server.settle()
            got = [sent(body) for arrived, body in server.chats[seen:] if arrived < first_byte]
            seen = len(server.chats)  # `sage run` may send more (memory) before it is killed
            if got != expected:  # both sides: the same calls, the same bodies, nothing more
                raise RuntimeError(f"{side} sent {len(got)} chat requests before its first "
                                   f"answer token, not the {len(expected)} expected: {got!r}")
            held[side].append(first_byte - max(t for t in server.texts if t < first_byte))

        ours, bare = paired(*argvs(workspace, server.host, json.dumps(bodies)), env,
                            workspace, rounds, check)
        extra = ("" if rebuilt == expected else
                 ", its answer prompt with the expert context request_bodies() leaves out")
        how = (f"{routes(Path(home))}; the bare script sent the same {len(expected)} bodies"
               f"{extra}; "
               f"first text sent -> shown: bare {ms(held['bare'][1:]):.0f} ms, "
               f"sage {ms(held['sage'][1:]):.0f} ms (medians)")
    finally:
        server.stop()
    return statistics.median(ours), statistics.median(bare), how


def routes(home: Path) -> str:
    """How `sage run`'s turns were routed and which model calls they made, from the logs."""
    seen: dict[str, int] = {}
    for log in sorted((home / "data" / "sessions").glob("*.jsonl")):
        records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        route = next((r["data"] for r in records if r["event"] == "ROUTE_DECISION"), None)
        calls = [r["data"]["role"] for r in records if r["event"] == "MODEL_ROUTING_DECISION"]
        if route is not None:
            key = (f"route {route['route']} ({route['source']}, experts "
                   f"{','.join(route['experts']) or 'none'}), calls {'+'.join(calls)}")
            seen[key] = seen.get(key, 0) + 1
    return "; ".join(f"{key}: {count} sessions" for key, count in seen.items())


ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=7, help="first-token rounds (paired)")
    parser.add_argument("--first-token", action="store_true",
                        help="measure only the time to first output token")
    parser.add_argument("--gguf", type=Path, metavar="PATH",
                        help="also time the first token against llama.cpp serving this GGUF "
                             "(every role on it) through the Ollama shim")
    args = parser.parse_args()
    if args.gguf is not None and not args.gguf.is_file():
        parser.error(f"--gguf {args.gguf} is not a file")
    if not args.first_token:
        asyncio.run(main_async(max(4, args.turns)))
    rounds = max(1, args.rounds)
    ours, bare = bench_first_token(rounds)
    print(f"first output token, fake server answering at once (median of {rounds} paired "
          "rounds, process start included)")
    report_first_token(ours, bare)
    if args.gguf is not None:
        ours, bare, how = bench_first_token_engine(rounds, args.gguf)
        print(f"first output token, llama.cpp serving {args.gguf.name} through the Ollama shim "
              f"(median of {rounds} paired rounds; answer num_predict {ANSWER_TOKENS})")
        report_first_token(ours, bare)
        print(f"  sage run: {how}")


def report_first_token(ours: float, bare: float) -> None:
    print(f"  bare client script: {bare * 1000:7.0f} ms")
    print(f"  sage run:           {ours * 1000:7.0f} ms   ratio {ours / bare:.2f}x, added "
          f"{(ours - bare) * 1000:+.0f} ms (target <= 1.10x)")


if __name__ == "__main__":
    main()
