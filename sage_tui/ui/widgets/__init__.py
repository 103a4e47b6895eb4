"""Workbench widgets: one main widget per module."""

from __future__ import annotations
