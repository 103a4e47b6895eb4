"""`propose_patch`: queue a unified diff for review; it never writes by itself."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sage_tui.core.patch.check import diagnose
from sage_tui.core.patch.model import PatchError, parse_patch
from sage_tui.core.tools.registry import Tool, ToolContext, ToolFailure, ToolOutput
from sage_tui.core.workspace.workspace import PathDenied


def propose_patch(ctx: ToolContext, args: dict[str, Any]) -> ToolOutput:
    try:
        patch = parse_patch(args["diff"], description=str(args.get("description", "")))
    except PatchError as exc:
        raise ToolFailure("validation_error", str(exc),
                          "Send a unified diff: '--- a/path', '+++ b/path', then '@@ -l,n +l,n @@' "
                          "hunks whose counts match their lines; new files use '--- /dev/null'.") \
            from None
    for path in patch.paths:
        try:
            ctx.workspace.resolve(path, write=True)
        except PathDenied as exc:
            raise ToolFailure("permission_denied", str(exc),
                              "Change only files inside the workspace, by relative path.") from None

    def read(path: str) -> str | None:
        try:
            return ctx.workspace.read_bytes(path).decode("utf-8", "surrogateescape")
        except FileNotFoundError:
            return None

    problems = diagnose(patch, read)
    if problems:
        raise ToolFailure("validation_error", "; ".join(p.message for p in problems) + ".",
                          "Call read_file on the file and rebuild the hunk from its exact current "
                          "lines.")
    unique, n = patch.patch_id, 1
    while unique in ctx.patch_ids:  # the same diff again is a new proposal, never the old one
        n += 1
        unique = f"{patch.patch_id}-{n}"
    patch = replace(patch, patch_id=unique)
    ctx.patch_ids.add(unique)
    ctx.proposed.append(patch)
    hunks = len(patch.hunks)
    return ToolOutput(
        f"Queued patch {patch.patch_id}: {hunks} hunk{'s' if hunks != 1 else ''} in "
        f"{', '.join(patch.paths)}. It is applied after review; do not propose it again.",
        f"queued {patch.patch_id} ({hunks} hunks in {len(patch.paths)} files)",
        data={"patch_id": patch.patch_id})


def _patch_targets(ctx: ToolContext, args: dict[str, Any]) -> list[str]:
    """Every file a proposed diff touches, normalised, each judged on its own."""
    try:
        return [ctx.normalized(p) for p in parse_patch(str(args.get("diff", ""))).paths] or ["."]
    except PatchError:
        return ["."]  # the call fails validation in propose_patch with the reason


TOOL = Tool("propose_patch", "Propose a change as a unified diff. It is queued for review and "
            "applied only when approved; it never writes by itself.",
            {"type": "object", "additionalProperties": False, "required": ["diff"],
             "properties": {"diff": {"type": "string", "minLength": 1},
                            "description": {"type": "string"}}}, propose_patch,
            effect="propose", targets=_patch_targets)
