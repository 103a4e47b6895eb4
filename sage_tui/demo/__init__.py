"""`sage demo`: the workbench on a scratch copy of a small project, played by a scripted model."""

from __future__ import annotations
