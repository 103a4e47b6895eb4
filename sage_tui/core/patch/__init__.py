"""Patches: the model (parse), the diagnosis of hunks that do not fit, and the apply engine."""

from __future__ import annotations
