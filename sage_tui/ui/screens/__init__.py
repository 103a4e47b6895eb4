"""Workbench screens and modals."""

from __future__ import annotations
