"""Where SAGE keeps its files.

`SAGE_HOME`, when set, puts config, data, state and cache under one root (tests and
scripts set it); otherwise the platform's conventional folders are used through
platformdirs. Nothing here is read at import time: each call looks at the
environment as it is then, so a test can point `SAGE_HOME` anywhere.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

APP_NAME = "sage-tui"


@dataclass(frozen=True)
class SagePaths:
    """The four folders SAGE writes to, resolved for one environment."""

    config: Path
    data: Path
    state: Path
    cache: Path

    @property
    def sessions(self) -> Path:
        """Folder of session logs (`<data>/sessions`)."""
        return self.data / "sessions"

    @property
    def config_file(self) -> Path:
        """The user's settings file (`<config>/config.toml`)."""
        return self.config / "config.toml"

    @property
    def models_file(self) -> Path:
        """The role → model map (`<config>/models.yaml`)."""
        return self.config / "models.yaml"

    def all(self) -> dict[str, Path]:
        """Each folder by name, for diagnostics."""
        return {"config": self.config, "data": self.data, "state": self.state, "cache": self.cache}


def sage_paths(home: str | os.PathLike[str] | None = None,
               env: Mapping[str, str] | None = None) -> SagePaths:
    """Resolve SAGE's folders.

    Args:
        home: An explicit root; wins over `SAGE_HOME`.
        env: The environment to read (defaults to `os.environ`).
    """
    environ = os.environ if env is None else env
    root = home if home is not None else environ.get("SAGE_HOME") or None
    if root is not None:
        base = Path(root).expanduser()
        return SagePaths(base / "config", base / "data", base / "state", base / "cache")
    import platformdirs  # deferred: only needed without SAGE_HOME

    dirs = platformdirs.PlatformDirs(APP_NAME, appauthor=False)
    return SagePaths(
        Path(dirs.user_config_dir),
        Path(dirs.user_data_dir),
        Path(dirs.user_state_dir),
        Path(dirs.user_cache_dir),
    )
