"""The audit trail: every patch decision as one fsynced JSON line (who, what, which hash, ids)."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any


class AuditTrail:
    """Appends records to one `audit.jsonl`, each with the same context (session, trace, who)."""

    def __init__(self, path: Path, context: Mapping[str, Any] | None = None) -> None:
        self.path = path
        self.context = dict(context or {})

    def write(self, action: str, **data: Any) -> None:
        """Append one line (redacted as the session log is) and fsync it before returning."""
        import json  # not at import: `sage apply --check` starts without it

        from sage_tui.core.log.redaction import redact_value  # its rules load when needed

        record = redact_value({"ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                               "action": action, **self.context, **data})
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8", "backslashreplace")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
