"""Talking to local models: the Ollama client, role routing, tokens and context."""

from __future__ import annotations
