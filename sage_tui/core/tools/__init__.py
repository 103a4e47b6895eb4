"""Tools the agent may call, the policy that rules them, and workspace confinement."""

from __future__ import annotations
