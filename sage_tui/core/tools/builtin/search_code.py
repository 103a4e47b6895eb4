"""`search_code`: `path:line: text` for a string or a regex across the workspace's text files."""

from __future__ import annotations

import re
from typing import Any

from sage_tui.core.log.redaction import clip
from sage_tui.core.log.safetext import code_line, one_line
from sage_tui.core.tools.builtin.common import PATH, READ_LIMIT_BYTES, SEARCH_MAX, folder_prefix
from sage_tui.core.tools.registry import Tool, ToolContext, ToolFailure, ToolOutput
from sage_tui.core.workspace.retrieval import list_workspace_files


def search_code(ctx: ToolContext, args: dict[str, Any]) -> ToolOutput:
    query = args["query"]
    _, prefix = folder_prefix(ctx, args.get("path", "."))
    try:
        pattern = re.compile(query if args.get("regex") else re.escape(query), re.IGNORECASE)
    except re.error as exc:
        raise ToolFailure("validation_error", f"query is not a valid regular expression ({exc}).",
                          "Escape special characters or call with regex false.") from None
    hits: list[str] = []
    total = 0
    for name in list_workspace_files(ctx.root):
        if not name.startswith(prefix):
            continue
        try:  # through the workspace: a symlink that leads out is refused, not followed
            data = ctx.workspace.read_bytes(name, READ_LIMIT_BYTES + 1)
        except OSError:
            continue
        if b"\0" in data[:8192] or len(data) > READ_LIMIT_BYTES:
            continue
        for number, line in enumerate(data.decode("utf-8", "replace").split("\n"), start=1):
            if pattern.search(line):
                total += 1
                if len(hits) < SEARCH_MAX:
                    hits.append(f"{one_line(name)}:{number}: {clip(code_line(line), 160)}")
    if not hits:
        return ToolOutput(f"No matches for {query!r}.", f"no matches for {query!r}")
    more = f"\n[{total - SEARCH_MAX} more matches]" if total > SEARCH_MAX else ""
    return ToolOutput("\n".join(hits) + more, f"{total} matches for {query!r}")


TOOL = Tool("search_code", "Search the workspace's text files for a string (or a regex); "
            "returns path:line: text.",
            {"type": "object", "additionalProperties": False, "required": ["query"],
             "properties": {"query": {"type": "string", "minLength": 1}, "path": PATH,
                            "regex": {"type": "boolean"}}}, search_code,
            effect="read")
