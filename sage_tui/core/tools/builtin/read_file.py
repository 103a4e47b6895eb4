"""`read_file`: a text file with line numbers, a window at a time."""

from __future__ import annotations

from typing import Any

from sage_tui.core.tools.builtin.common import PATH, READ_LIMIT_BYTES, READ_MAX_LINES, not_found
from sage_tui.core.tools.registry import Tool, ToolContext, ToolFailure, ToolOutput


def read_file(ctx: ToolContext, args: dict[str, Any]) -> ToolOutput:
    path = args["path"]
    try:
        data = ctx.workspace.read_bytes(path, READ_LIMIT_BYTES + 1)
    except FileNotFoundError:
        raise not_found(ctx, path) from None
    except IsADirectoryError:
        raise ToolFailure("validation_error", f"{path} is a folder.",
                          "Call list_files with this path to see its files.") from None
    if b"\0" in data[:8192]:
        raise ToolFailure("execution_error", f"{path} is a binary file; read_file shows text only.",
                          "Read a text file instead, or search_code for where it is used.")
    truncated = len(data) > READ_LIMIT_BYTES
    lines = data[:READ_LIMIT_BYTES].decode("utf-8", "replace").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    start = max(1, int(args.get("start_line", 1)))
    end = min(len(lines), int(args.get("end_line", start + READ_MAX_LINES - 1)))
    if start > max(len(lines), 1):
        raise ToolFailure("validation_error", f"{path} has {len(lines)} lines; start_line "
                          f"{start} is past the end.", f"Use a start_line from 1 to {len(lines)}.")
    end = min(end, start + READ_MAX_LINES - 1)
    body = "\n".join(f"{n:>5}  {lines[n - 1]}" for n in range(start, end + 1))
    more = ""
    if end < len(lines) or truncated:
        more = (f"\n[lines {start}-{end} of {len(lines)}{'+' if truncated else ''}; ask for "
                f"start_line={end + 1} to read on]")
    return ToolOutput(f"{path}:\n{body}{more}", f"read {path} lines {start}-{end}",
                      data={"path": path, "start": start, "end": end})


TOOL = Tool("read_file", "Read a text file, with line numbers (up to 400 lines at a time).",
            {"type": "object", "additionalProperties": False, "required": ["path"],
             "properties": {"path": PATH, "start_line": {"type": "integer", "minimum": 1},
                            "end_line": {"type": "integer", "minimum": 1}}}, read_file,
            effect="read")
