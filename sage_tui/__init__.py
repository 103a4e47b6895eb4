"""SAGE TUI: a terminal workbench for local-model coding agents."""

from __future__ import annotations

__version__ = "0.1.0"
