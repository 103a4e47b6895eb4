"""Timestamps as the session log writes them (a tiny module: the UI imports it at start-up)."""

from __future__ import annotations

import time
from typing import Any

_second: list[Any] = [-1, ""]  # the last whole second formatted, and its text


def now_iso() -> str:
    """The current UTC time with milliseconds and `Z`."""
    now = time.time()
    whole = int(now)
    if whole != _second[0]:
        _second[:] = [whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))]
    return f"{_second[1]}.{int((now - whole) * 1000):03d}Z"
