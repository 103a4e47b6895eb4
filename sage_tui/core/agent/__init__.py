"""The agent: the orchestrator, message routing, experts, the code flow and the tool loop."""

from __future__ import annotations
