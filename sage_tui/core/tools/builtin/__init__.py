"""The built-in tools, one module each; the registry lists them in the order models see them.

Adding a tool: a module here with its function and a `TOOL` declaration, and one
entry in `BUILTINS` below.
"""

from __future__ import annotations

from sage_tui.core.tools.builtin import (
    list_files,
    propose_patch,
    read_file,
    run_command,
    run_tests,
    search_code,
)
from sage_tui.core.tools.registry import Tool, ToolRegistry

BUILTINS: tuple[Tool, ...] = (
    read_file.TOOL,
    list_files.TOOL,
    search_code.TOOL,
    propose_patch.TOOL,
    run_tests.TOOL,
    run_command.TOOL,
)

__all__ = ["BUILTINS", "builtin_tools"]


def builtin_tools() -> ToolRegistry:
    """The registry of built-in tools."""
    return ToolRegistry(list(BUILTINS))
