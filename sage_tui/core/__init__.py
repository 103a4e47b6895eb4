"""The SAGE engine: events, session log, models, tools and the orchestrator.

Nothing under this package imports `textual` or `rich` (a test enforces it): the
terminal UI, the headless runner and the tests are all clients of the core.
"""

from __future__ import annotations
