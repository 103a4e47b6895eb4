"""Loose unified diffs, as models write them, placed by their lines (`edits.from_diff`).

A hunk whose `@@` counts or line numbers are off, or that has a bare `@@ ... @@` header,
blank context lines without their leading space, CRLF, fences or prose around it, is placed
by its context and removed lines: exactly first, then ignoring whitespace (the file's own
context lines are kept), and only ever at one location; otherwise it is refused, naming the
places or the closest lines. A well-formed diff that fits one place is kept as written.
"""

from __future__ import annotations

import re

from sage_tui.core.patch.check import diagnose
from sage_tui.core.patch.edits import (
    MAX_EDITS,
    EditError,
    Reader,
    _check_indent,
    _File,
    _is_crlf,
    _join,
    _lines,
    _locate,
    _occurrences,
    _words,
    exact_diff,
)
from sage_tui.core.patch.model import PatchError, _clean_path, _strip_fences, parse_patch, screen


def _loose_hunks(body: list[str]) -> list[tuple[list[str], int | None]]:
    """A file section's hunks: each its lines (' ', '-', '+'; a bare blank line is context)
    and the old start line its header gives, if any."""
    hunks: list[tuple[list[str], int | None]] = []
    current: list[str] | None = None
    for line in body:
        if line.startswith("@@"):
            match = re.match(r"@@ -(\d{1,9})\b", line)
            current = []
            hunks.append((current, int(match.group(1)) - 1 if match else None))
        elif line.startswith(("\\", "index ", "new file mode", "deleted file mode")):
            continue
        elif line == "" or line[0] in " -+":
            if current is None:  # no @@ at all: one hunk
                current = []
                hunks.append((current, None))
            current.append(line if line else " ")
        elif current is not None:
            current = None  # prose after the hunk ends it
    for lines, _ in hunks:
        while lines and lines[-1] == " ":  # trailing blank lines: as likely prose as context
            lines.pop()
    return [(lines, hint) for lines, hint in hunks if lines]


def _apply_loose(old: str, hunks: list[tuple[list[str], int | None]], path: str) -> str:
    if _is_crlf(old):  # matched and written as LF, the file's CRLF put back on every line
        return _apply_loose(old.replace("\r\n", "\n"), hunks, path).replace("\n", "\r\n")
    file = _lines(old)
    words = [_words(line) for line in file]
    end_newline = old.endswith("\n") or not old
    hints = [hint for _, hint in hunks if hint is not None]
    if hints != sorted(hints):  # hunks out of order: `shift` cannot map their line numbers
        hunks = [(lines, None) for lines, _ in hunks]
    shift = 0  # how far earlier hunks moved the lines below them
    for lines, hint in hunks:
        needle = [line[1:] for line in lines if line[0] in " -"]
        at = _locate(file, needle, path, None if hint is None else hint + shift, words)
        if any(line[0] == "+" for line in lines):
            _check_indent(file[at:at + len(needle)], needle, path, at)
        replacement, k = [], at
        for line in lines:
            if line[0] == " ":
                replacement.append(file[k])  # the file's own context line, whitespace and all
                k += 1
            elif line[0] == "-":
                k += 1
            else:
                replacement.append(line[1:])
        file[at:k] = replacement
        words[at:k] = [_words(line) for line in replacement]
        shift += len(replacement) - (k - at)
    return _join(file, end_newline)


def exact_from_diff(text: str, read: Reader) -> str:
    """An exact diff for `text`: as it is when it is exact, else rebuilt from its hunks."""
    try:
        parse_patch(text)
        body = _strip_fences(text)
    except PatchError:
        body = None
    if body is not None and _fits(body, read):
        return text
    try:
        return _rebuild(text.replace("\r\n", "\n"), read)
    except PatchError:
        if body is not None and diagnose(parse_patch(body), read):  # a well-formed diff that
            return text  # no longer fits: its hunk-by-hunk report says more
        raise  # it fits, but not at one place only: never left to git's nearest-line guess


def _fits(body: str, read: Reader) -> bool:
    """Every hunk fits, and where it lands is not in doubt: its lines occur once in the file,
    or at the very line its header names (else git would take the occurrence nearest to a
    line number that may be wrong)."""
    patch = parse_patch(body)
    if diagnose(patch, read):
        return False
    for file in patch.files:
        text = read(file.path)
        if file.is_new or text is None:
            continue
        lines = _lines(text)
        for hunk in file.hunks:
            block = list(hunk.old_lines)
            if not block:
                continue
            hits = _occurrences(lines, block)
            if len(hits) > 1 and hunk.source_start - 1 not in hits:
                return False
    return True


def _rebuild(text: str, read: Reader) -> str:
    lines = _strip_fences(text).split("\n")
    screen("\n".join(lines))
    if any(line.startswith(("rename from ", "rename to ", "copy from ", "copy to "))
           for line in lines):
        raise EditError("The diff renames or copies a file; write it as a deletion and a new "
                        "file.")
    sections: list[tuple[str, str, list[str]]] = []
    index = 0
    while index < len(lines):
        if lines[index].startswith("--- ") and index + 1 < len(lines) \
                and lines[index + 1].startswith("+++ "):
            sections.append((lines[index][4:].split("\t")[0], lines[index + 1][4:].split("\t")[0],
                             []))
            index += 2
            continue
        if sections and not lines[index].startswith("diff --git "):
            sections[-1][2].append(lines[index])
        index += 1
    if not sections:
        raise EditError("The text holds no '--- a/file' / '+++ b/file' header; send a unified "
                        "diff, search/replace blocks or whole files.")
    if sum(1 for _, _, body in sections for line in body if line.startswith("@@")) > MAX_EDITS:
        raise EditError(f"The diff has more than {MAX_EDITS} hunks; split it into several "
                        "proposals.")
    files: list[_File] = []
    for source, target, body in sections:
        deleting = target.strip() == "/dev/null"
        path = _clean_path(source if deleting else target)
        old = None if source.strip() == "/dev/null" else read(path)
        if old is None and source.strip() != "/dev/null":
            raise EditError(f"{path} does not exist; a new file's diff starts '--- /dev/null'.")
        if not deleting and source.strip() != "/dev/null" and _clean_path(source) != path \
                and read(_clean_path(source)) is not None:
            raise EditError(f"The diff names two files, {_clean_path(source)} and {path}, for "
                            "one change; give the same path on its '---' and '+++' lines.")
        hunks = _loose_hunks(body)
        if deleting:
            shown = [line[1:] for lines, _ in hunks for line in lines]
            if any(line[0] == "+" for lines, _ in hunks for line in lines) or \
                    [_words(line) for line in shown] != [_words(line) for line in
                                                         _lines(old or "")]:
                raise EditError(f"The diff deletes {path} but its lines are not all of the "
                                "file's; read the file and remove every line, or change it "
                                "instead.")
            files.append(_File(path, old, None))
        elif old is None:
            added = [line[1:] for lines, _ in hunks for line in lines if line[0] == "+"]
            files.append(_File(path, None, _join(added, True)))
        else:
            files.append(_File(path, old, _apply_loose(old, hunks, path)))
    return exact_diff(files)
