"""Setting up a machine: `sage doctor`, hardware-aware model picks, models.yaml edits."""

from __future__ import annotations
