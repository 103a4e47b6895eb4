"""`sage replay`: a recorded session played back through the same path as live records.

Records are shown at their recorded pace divided by `speed` (no pause longer than
two seconds), each through the function the live workbench uses, so replay shows
what the live session showed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from sage_tui.core.log.tracefmt import parse_ts
from sage_tui.ui.records import Record

MAX_PAUSE = 2.0


async def play(records: Iterable[Record], show: Callable[[Record], Awaitable[None]],
               speed: float) -> int:
    """Show every record in order; return how many were shown.

    Args:
        speed: How many times faster than recorded; 0 or less plays without pauses.
    """
    previous: float | None = None
    shown = 0
    for record in records:
        parsed = parse_ts(record.get("ts"))
        moment = parsed.timestamp() if parsed is not None else None
        if previous is not None and moment is not None and speed > 0:
            await asyncio.sleep(min(MAX_PAUSE, max(0.0, moment - previous) / speed))
        previous = moment if moment is not None else previous
        await show(record)
        shown += 1
    return shown


async def replay_into(app: Any) -> None:
    """Play the app's recorded records through its own `show_record`, then say it ended."""
    from sage_tui.ui.widgets.conversation import Conversation

    shown = await play(app.replay_records, app.show_record, app.replay_speed)
    app.workbench.query_one(Conversation).add_note(f"End of the recording ({shown} events).")
