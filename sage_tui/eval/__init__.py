"""Regression as a product: golden traces, replayed specs and the smoke run (clients of the core)."""

from __future__ import annotations
