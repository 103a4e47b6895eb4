"""The Textual workbench: a client of the core, like the log and the headless runner."""

from __future__ import annotations
