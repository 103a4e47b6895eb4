"""`propose_patch`: queue a change for review; it never writes by itself.

The change comes as a unified diff (exact or loose), search/replace blocks, or whole new
contents of small files (`core/patch/edits.py`); all become one exact diff first.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sage_tui.core.patch.check import diagnose
from sage_tui.core.patch.edits import Reader, from_blocks, from_files, from_text, named_paths
from sage_tui.core.patch.model import PatchError, _clean_path, parse_patch
from sage_tui.core.tools.registry import Tool, ToolContext, ToolFailure, ToolOutput
from sage_tui.core.workspace.workspace import PathDenied


def _reader(ctx: ToolContext) -> Reader:
    def read(path: str) -> str | None:
        try:
            return ctx.workspace.read_bytes(path).decode("utf-8", "surrogateescape")
        except FileNotFoundError:
            return None
        except IsADirectoryError:
            raise PatchError(f"{path} is a folder; give a file's path.") from None

    return read


def exact_diff(ctx: ToolContext, args: dict[str, Any]) -> str:
    """The exact diff the call's `diff`, `edits` or `files` amount to.

    Raises:
        PatchError: the edit cannot be placed, or the call holds none of them.
    """
    read = _reader(ctx)
    if sum(1 for key in ("diff", "edits", "files") if args.get(key)) > 1:
        raise PatchError("The call holds more than one of 'diff', 'edits' and 'files'; send "
                         "the change in one of them.")
    if args.get("edits"):
        return from_blocks([(str(e.get("path", "")), str(e.get("search", "")),
                             str(e.get("replace", ""))) for e in args["edits"]], read)
    if args.get("files"):
        return from_files(args["files"], read)
    if args.get("diff"):
        return from_text(str(args["diff"]), read)
    raise PatchError("The call holds no change: give 'diff', 'edits' or 'files'.")


def propose_patch(ctx: ToolContext, args: dict[str, Any]) -> ToolOutput:
    try:
        patch = parse_patch(exact_diff(ctx, args), description=str(args.get("description", "")))
    except PathDenied as exc:
        raise ToolFailure("permission_denied", str(exc),
                          "Change only files inside the workspace, by relative path.") from None
    except PatchError as exc:
        raise ToolFailure("validation_error", str(exc),
                          "Send a unified diff ('--- a/path', '+++ b/path', '@@' hunks with a few "
                          "unchanged lines around each change), or 'edits' whose 'search' text "
                          "occurs once in the file, or a small file's whole new 'content'.") \
            from None
    for path in patch.paths:
        try:
            ctx.workspace.resolve(path, write=True)
        except PathDenied as exc:
            raise ToolFailure("permission_denied", str(exc),
                              "Change only files inside the workspace, by relative path.") from None

    problems = diagnose(patch, _reader(ctx))
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
    """Every file a proposed change touches, normalised, each judged on its own."""
    named = [str(item.get("path", "")) for key in ("edits", "files")
             for item in args.get(key) or [] if isinstance(item, dict)]
    try:  # judged on the names alone: nothing is read before the policy has ruled
        paths = [_clean_path(p, prefixed=False) for p in named]  # as the patch will name them
        paths += named_paths(str(args["diff"])) if args.get("diff") else []
        return [ctx.normalized(p) for p in dict.fromkeys(paths)] or ["."]
    except (PatchError, OSError, ValueError):
        return ["."]  # the call fails validation in propose_patch with the reason


_PATHED = {"type": "string", "minLength": 1}
TOOL = Tool("propose_patch", "Propose a change: a unified diff, or search/replace edits (each "
            "'search' text must occur exactly once in its file), or the whole new content of "
            "small files. It is queued for review and applied only when approved; it never "
            "writes by itself.",
            {"type": "object", "additionalProperties": False,
             "properties": {
                 "diff": {"type": "string", "minLength": 1},
                 "edits": {"type": "array", "minItems": 1, "items": {
                     "type": "object", "additionalProperties": False,
                     "required": ["path", "search", "replace"],
                     "properties": {"path": _PATHED, "search": {"type": "string"},
                                    "replace": {"type": "string"}}}},
                 "files": {"type": "array", "minItems": 1, "items": {
                     "type": "object", "additionalProperties": False,
                     "required": ["path", "content"],
                     "properties": {"path": _PATHED, "content": {"type": "string"}}}},
                 "description": {"type": "string"}}}, propose_patch,
            effect="propose", targets=_patch_targets)
