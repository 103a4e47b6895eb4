"""UI test set-up: snapshot baselines live in the top-level `snapshots/` folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import pytest_textual_snapshot

ROOT = Path(__file__).resolve().parent.parent.parent


def _dirname(cls: Any, *, test_location: Any) -> str:
    return str(ROOT / "snapshots" / Path(test_location.filepath).stem)


pytest_textual_snapshot.SVGImageExtension.dirname = classmethod(_dirname)  # type: ignore[assignment]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
