"""The workspace: confined file operations, SAGE's folders in it, and the retrieval index."""

from __future__ import annotations
