"""Model server addresses as people write them: `OLLAMA_HOST` the way the official Ollama
client reads it, and an OpenAI-compatible server's base URL."""

from __future__ import annotations

DEFAULT_OLLAMA_HOST = "http://127.0.0.1:11434"


def openai_host(value: str) -> str:
    """An OpenAI-compatible server's base URL: `gpu:8000` → `http://gpu:8000` (no port is
    guessed: llama.cpp, vLLM and LM Studio each have their own)."""
    value = value.strip().rstrip("/")
    return value if "://" in value else f"http://{value}"


def normalize_ollama_host(value: str | None) -> str:
    """Turn an `OLLAMA_HOST` value into a base URL the way the Ollama client reads it.

    `""` → the default; `host` → `http://host:11434`; `:5000` → `http://127.0.0.1:5000`;
    a scheme without a port gets that scheme's port; a trailing slash is dropped.
    """
    text = (value or "").strip()
    if not text:
        return DEFAULT_OLLAMA_HOST
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "http", text
        default_port = "11434"
    else:
        scheme = scheme.lower()
        default_port = "443" if scheme == "https" else "80"
    hostport, _, path = rest.partition("/")
    if hostport.startswith("["):  # IPv6 literal
        close = hostport.find("]")
        host, port = hostport[: close + 1], hostport[close + 2:] if close + 1 < len(hostport) else ""
    else:
        host, _, port = hostport.partition(":")
    host = host or "127.0.0.1"
    port = port or default_port
    path = path.rstrip("/")
    return f"{scheme}://{host}:{port}" + (f"/{path}" if path else "")
