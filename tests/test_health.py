"""The one server check behind `sage doctor` and the workbench banner, against odd servers."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sage_tui.core.llm.health import check_server
from sage_tui.core.llm.ollama_backend import OllamaBackend


class NotOllama(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<html>not found</html>"
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def web_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), NotOllama)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


def check(host: str, timeout: float = 5.0) -> tuple[str, str]:
    async def run() -> tuple[str, str]:
        backend = OllamaBackend(host)
        try:
            health = await check_server(backend, host, ["qwen2.5-coder:7b"], timeout=timeout)
        finally:
            await backend.aclose()
        return health.status, health.message

    return asyncio.run(run())


def test_a_server_that_is_not_ollama_is_named_as_such(web_server: str) -> None:
    status, message = check(web_server)
    assert status == "fail"
    assert message == (f"The server at {web_server} does not answer like Ollama; check that "
                       "OLLAMA_HOST points at an Ollama server.")


def test_a_server_that_never_answers_fails_within_the_timeout(silent_server: str) -> None:
    status, message = check(silent_server, timeout=0.5)
    assert status == "fail" and "did not answer within 0.5 s" in message
    assert "model" not in message  # about the server, not a model call


def test_a_dead_port_says_how_to_start_ollama(dead_host: str) -> None:
    status, message = check(f"http://{dead_host}")
    assert status == "fail" and "ollama serve" in message
