"""`list_files`: the workspace's files (as git sees them), under a folder or matching a glob."""

from __future__ import annotations

import fnmatch
from typing import Any

from sage_tui.core.log.safetext import one_line
from sage_tui.core.tools.builtin.common import LIST_MAX, PATH, folder_prefix, not_found
from sage_tui.core.tools.registry import Tool, ToolContext, ToolOutput
from sage_tui.core.workspace.retrieval import list_workspace_files


def list_files(ctx: ToolContext, args: dict[str, Any]) -> ToolOutput:
    folder = args.get("path", ".")
    real, prefix = folder_prefix(ctx, folder)
    pattern = args.get("pattern")
    names = [n for n in list_workspace_files(ctx.root)
             if n.startswith(prefix) and not ctx.workspace.hidden(n)]
    if pattern:
        names = [n for n in names if fnmatch.fnmatch(n, pattern)
                 or fnmatch.fnmatch(n.rsplit("/", 1)[-1], pattern)]
    if not names and not real.exists():
        raise not_found(ctx, folder)
    shown = names[:LIST_MAX]
    more = f"\n[{len(names) - LIST_MAX} more not shown; narrow with path or pattern]" \
        if len(names) > LIST_MAX else ""
    return ToolOutput("\n".join(map(one_line, shown)) + more or "(no files)",
                      f"listed {len(names)} files under {prefix or '.'}")


TOOL = Tool("list_files", "List files (respecting .gitignore), optionally under a folder or "
            "matching a glob.",
            {"type": "object", "additionalProperties": False,
             "properties": {"path": PATH, "pattern": {"type": "string"}}}, list_files,
            effect="read")
