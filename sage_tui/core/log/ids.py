"""Validating session ids, trace ids and the rotation size (light: read at start-up)."""

from __future__ import annotations

import re

from sage_tui.core.errors import ConfigError

SESSION_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
TRACE_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}")


def check_session_id(value: str, source: str = "SAGE_SESSION_ID") -> str:
    """Return `value` if it is usable as a session id, else raise `ConfigError`."""
    if not SESSION_ID_RE.fullmatch(value):
        raise ConfigError(
            f"{source} may hold only letters, digits, '-' and '_' (at most 128, starting "
            f"with a letter or digit), got {value!r}; choose another id."
        )
    return value


def check_trace_id(value: str, source: str = "SAGE_TRACE_ID") -> str:
    """Return `value` if it is usable as a trace id, else raise `ConfigError`."""
    if not TRACE_ID_RE.fullmatch(value):
        raise ConfigError(
            f"{source} may hold only letters, digits and '._:/-' (at most 128), got "
            f"{value!r}; use an id such as a 32-digit hex OpenTelemetry trace id."
        )
    return value


DEFAULT_MAX_MB = 20.0  # a session log part's size before it rotates


def parse_max_mb(value: str | float, source: str = "SAGE_SESSION_LOG_MAX_MB") -> float:
    """Parse a rotation size in megabytes (fractions allowed)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not number > 0 or number == float("inf"):
        raise ConfigError(
            f"{source} must be a positive number of megabytes, got {value!r}; try 20."
        )
    return number
