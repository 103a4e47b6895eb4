"""Implementations of the `sage` sub-commands, imported only when one runs."""

from __future__ import annotations
