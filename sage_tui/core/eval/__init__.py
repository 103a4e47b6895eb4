"""Regression as a product: golden traces and the smoke run."""

from __future__ import annotations
