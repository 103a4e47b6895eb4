"""The record of a session: events, redaction, the session log, its files and readers."""

from __future__ import annotations
