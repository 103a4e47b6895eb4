"""The role → model map: which model serves each role, with its options (parsed `models.yaml`).

`sage_tui.config` parses and checks the file; the core receives these plain values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EDIT_FORMATS = ("udiff", "search_replace", "whole")


def default_edit_format(model: str) -> str:
    """How a model writes changes best, by its size in the tag (Aider's edit-format results:
    small models do best rewriting whole small files, mid-sized ones with search/replace
    blocks, large ones with unified diffs): under 3B whole, under 30B search_replace."""
    import re

    match = re.search(r"(\d+(?:\.\d+)?)([bm])\b", model.lower())
    if match is None:
        return "search_replace"
    billions = float(match[1]) / (1000 if match[2] == "m" else 1)
    return "whole" if billions < 3 else "search_replace" if billions < 30 else "udiff"


@dataclass(frozen=True)
class RoleModel:
    """The model that serves one role, with its options (defaults merged in)."""

    role: str
    model: str
    options: Mapping[str, Any]
    fallback: tuple[str, ...] = ()
    host: str | None = None
    edit_format: str | None = None  # udiff, search_replace or whole; else by the model's size
    api: str = "ollama"  # or "openai": an OpenAI-compatible server at `host`
    api_key_env: str | None = None  # the environment variable holding that server's key

    @property
    def num_ctx(self) -> int:
        """The context window SAGE asks Ollama for (always sent)."""
        return int(self.options.get("num_ctx", 8192))


@dataclass(frozen=True)
class ModelsConfig:
    """The parsed `models.yaml`: roles, named profiles, and where it came from."""

    roles: Mapping[str, RoleModel]
    profiles: Mapping[str, RoleModel]
    source: Path | None
