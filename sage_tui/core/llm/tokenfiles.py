"""Where tiktoken keeps its encoding files, and whether they are there.

tiktoken downloads `cl100k_base` / `o200k_base` on first use and caches them under
`TIKTOKEN_CACHE_DIR` (else `DATA_GYM_CACHE_DIR`, else `<tmp>/data-gym-cache`), named
by the sha1 of the download URL. Offline, that download fails; SAGE then counts
tokens with an estimate instead (marked `source: estimate`). This module only looks:
it never downloads and never imports tiktoken.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

_BASE_URL = "https://openaipublic.blob.core.windows.net/encodings/"

# name → sha256 of the file's contents (as tiktoken itself verifies them)
ENCODINGS: dict[str, str] = {
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}


@dataclass(frozen=True)
class EncodingFile:
    """One encoding's expected cache file and its state."""

    name: str
    path: Path
    present: bool
    valid: bool


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """The folder tiktoken reads its cache from, by its own rules."""
    environ = os.environ if env is None else env
    if "TIKTOKEN_CACHE_DIR" in environ:
        return Path(environ["TIKTOKEN_CACHE_DIR"])
    if "DATA_GYM_CACHE_DIR" in environ:
        return Path(environ["DATA_GYM_CACHE_DIR"])
    return Path(tempfile.gettempdir()) / "data-gym-cache"


def cache_name(encoding: str) -> str:
    """The cache file name tiktoken uses for an encoding (sha1 of its URL)."""
    return hashlib.sha1(f"{_BASE_URL}{encoding}.tiktoken".encode()).hexdigest()


def check(env: Mapping[str, str] | None = None, verify: bool = True,
          names: Iterable[str] | None = None) -> list[EncodingFile]:
    """Report each encoding's cache file (all, or those in `names`): present, and intact."""
    folder = cache_dir(env)
    found = []
    for name in ENCODINGS if names is None else names:
        digest = ENCODINGS.get(name)
        if digest is None:
            continue  # not an encoding SAGE knows
        path = folder / cache_name(name)
        present = path.is_file()
        valid = present and (not verify or hashlib.sha256(path.read_bytes()).hexdigest() == digest)
        found.append(EncodingFile(name, path, present, valid))
    return found
