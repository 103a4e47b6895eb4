"""Model server addresses as people write them: `OLLAMA_HOST` the way the official Ollama
client reads it, and an OpenAI-compatible server's base URL."""

from __future__ import annotations

import contextlib
import ipaddress
import re
from urllib.parse import urlsplit

DEFAULT_OLLAMA_HOST = "http://127.0.0.1:11434"


def openai_host(value: str) -> str:
    """An OpenAI-compatible server's base URL: `gpu:8000` → `http://gpu:8000` (no port is
    guessed: llama.cpp, vLLM and LM Studio each have their own).

    Raises:
        BadHost: as `normalize_ollama_host` does.
    """
    scheme, host, port, path = _parts(value.strip())
    return f"{scheme}://{host}" + (f":{port}" if port else "") + (f"/{path}" if path else "")


class BadHost(ValueError):
    """A server address that cannot be reached as written; the message says why."""


_HOSTNAME = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?")


def normalize_ollama_host(value: str | None) -> str:
    """Turn an `OLLAMA_HOST` value into a base URL the way the official Ollama client does.

    `""` → the default; `host` → `http://host:11434`; `:5000` → `http://127.0.0.1:5000`;
    a scheme without a port gets that scheme's port; a trailing slash is dropped; an IPv6
    address is written in brackets (`::1` and `[::1]:5000` both work).

    Raises:
        BadHost: another scheme than http/https, a name that is not a host name or an IP
            address, a user name, or a port outside 1-65535 (the message is the reason,
            without the name of the setting, which the caller knows).
    """
    text = (value or "").strip()
    if not text:
        return DEFAULT_OLLAMA_HOST
    scheme, host, port, path = _parts(text)
    if port is None:
        port = 11434 if "://" not in text else 443 if scheme == "https" else 80
    return f"{scheme}://{host}:{port}" + (f"/{path}" if path else "")


def _parts(text: str) -> tuple[str, str, int | None, str]:
    """(scheme, host, port or None, path without slashes at its ends) of an address."""
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "http", text
    scheme = scheme.lower()
    if scheme not in ("http", "https"):
        raise BadHost(f"it uses {scheme}://, and model servers are reached over http:// or "
                      "https://")
    hostport, _, path = rest.partition("/")
    with contextlib.suppress(ValueError):  # a bare IPv6 address: `::1`, `fe80::2`
        if ipaddress.IPv6Address(hostport):
            hostport = f"[{hostport}]"
    try:
        split = urlsplit(f"{scheme}://{hostport}")
        port = split.port
        if port == 0:
            raise ValueError("port 0")
    except ValueError:
        raise BadHost("its port is not a number from 1 to 65535") from None
    if split.username is not None:
        raise BadHost("it holds a user name (user@host); give the host alone")
    host = split.hostname or "127.0.0.1"
    try:
        if isinstance(ipaddress.ip_address(host), ipaddress.IPv6Address):
            host = f"[{host}]"
    except ValueError:
        if not _HOSTNAME.fullmatch(host):
            raise BadHost(f"{host!r} is not a host name or an IP address") from None
    return scheme, host, port, path.strip("/")
