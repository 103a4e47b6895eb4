"""The role → model map: which model serves each role, with its options (parsed `models.yaml`).

`sage_tui.config` parses and checks the file; the core receives these plain values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RoleModel:
    """The model that serves one role, with its options (defaults merged in)."""

    role: str
    model: str
    options: Mapping[str, Any]
    fallback: tuple[str, ...] = ()
    host: str | None = None

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
