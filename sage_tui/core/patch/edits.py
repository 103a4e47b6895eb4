"""Edits as models write them, made into one exact unified diff before anyone sees them.

Three forms land the same way (review, policy, apply and undo never see the difference):

* a unified diff, strict or loose: `@@` counts that are off, bare `@@ ... @@` headers, wrong
  line numbers, blank context lines that lost their leading space, CRLF, fences and prose
  around it. A loose hunk is placed by its context and removed lines: exactly first, then
  ignoring whitespace, and only ever at one location; ambiguous or missing is refused,
  naming the closest match. A diff that is already exact is kept byte for byte;
* search/replace blocks (`path`, then `<<<<<<< SEARCH`, the text, `=======`, the new
  text, `>>>>>>> REPLACE`): the SEARCH text must occur exactly once (trailing whitespace
  on its lines aside);
* a small file's whole new content (`files: [{path, content}]`).

Everything becomes `difflib`'s exact diff of the old and new content of each file, which
`parse_patch` then reads as any other diff.
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from sage_tui.core.patch.check import closest, percent
from sage_tui.core.patch.model import PatchError, _clean_path, _strip_fences, parse_patch

Reader = Callable[[str], "str | None"]  # workspace-relative path → text, None when absent
MAX_WHOLE_FILE = 40_000  # characters: past this, send a diff or search/replace blocks
BLOCK = re.compile(r"^<{5,9} SEARCH\s*\n(.*?)^={5,9}\s*\n(.*?)^>{5,9} REPLACE\s*$", re.M | re.S)


class EditError(PatchError):
    """An edit that cannot be placed at exactly one location; the message names the closest."""


@dataclass
class _File:
    path: str
    old: str | None  # None: the file does not exist yet
    new: str | None  # None: the edit deletes it


def _lines(text: str) -> list[str]:
    if not text:
        return []
    return text.split("\n")[:-1] if text.endswith("\n") else text.split("\n")


def _join(lines: list[str], newline_at_end: bool) -> str:
    return "\n".join(lines) + ("\n" if newline_at_end and lines else "")


def exact_diff(files: Iterable[_File]) -> str:
    """The exact unified diff that turns each file's old content into its new content."""
    out: list[str] = []
    for f in files:
        if f.old == f.new:
            continue
        old = _lines(f.old or "")
        new = _lines(f.new or "")
        body = list(difflib.unified_diff(old, new, n=3, lineterm=""))[2:]
        if not body:
            continue
        out.append(f"--- {'/dev/null' if f.old is None else 'a/' + f.path}")
        out.append(f"+++ {'/dev/null' if f.new is None else 'b/' + f.path}")
        for line in body:
            out.append(line)
        for side, text in (("-", f.old), ("+", f.new)):
            if text and not text.endswith("\n"):  # mark the last line of that side
                _mark_no_newline(out, side)
    if not out:
        raise EditError("The edit changes nothing: the new text is what the files already hold.")
    return "\n".join(out) + "\n"


def _mark_no_newline(out: list[str], side: str) -> None:
    for index in range(len(out) - 1, -1, -1):
        if out[index].startswith((side, " ")) and not out[index].startswith(("---", "+++")):
            out.insert(index + 1, "\\ No newline at end of file")
            return


def _same(a: str, b: str) -> bool:
    return a == b


def _same_words(a: str, b: str) -> bool:
    return a.split() == b.split()


def _locate(file: list[str], needle: list[str], path: str, hint: int | None) -> int:
    """The one place `needle` sits in `file`: exact, else ignoring whitespace."""
    if not needle:
        raise EditError(f"A hunk for {path} has no context or removed lines, so it cannot be "
                        "placed; include the lines around the change.")
    size = len(needle)
    for same in (_same, _same_words):
        hits = [i for i in range(len(file) - size + 1)
                if all(same(file[i + k], needle[k]) for k in range(size))]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            if hint is not None and hint in hits:  # its own line number picks one of them
                return hint
            where = ", ".join(str(h + 1) for h in hits[:5])
            raise EditError(f"A hunk for {path} fits {len(hits)} places (lines {where}); "
                            "include more context lines so it fits one.")
    line, score = closest(file, needle)
    near = (f"the closest lines start at line {line} ({percent(score)} alike)" if score
            else "none of its lines is in the file")
    raise EditError(f"A hunk for {path} does not match the file; {near}. Read the file and "
                    "send its exact lines.")


def _loose_hunks(body: list[str]) -> list[tuple[list[str], int | None]]:
    """A file section's hunks: each its lines (' ', '-', '+'; a bare blank line is context)
    and the old start line its header gives, if any."""
    hunks: list[tuple[list[str], int | None]] = []
    current: list[str] | None = None
    for line in body:
        if line.startswith("@@"):
            match = re.match(r"@@ -(\d+)", line)
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
    file = _lines(old)
    end_newline = old.endswith("\n") or not old
    shift = 0  # how far earlier hunks moved the lines below them
    for lines, hint in hunks:
        needle = [line[1:] for line in lines if line[0] in " -"]
        at = _locate(file, needle, path, None if hint is None else hint + shift)
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
        shift += len(replacement) - (k - at)
    return _join(file, end_newline)


def from_diff(text: str, read: Reader) -> str:
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
        if body is not None:  # a well-formed diff that no longer fits: its hunk-by-hunk
            return text  # report (which hunk, the closest lines) says more
        raise


def _fits(body: str, read: Reader) -> bool:
    """Every hunk fits, and where it lands is not in doubt: its lines occur once in the file,
    or at the very line its header names (else git would take the occurrence nearest to a
    line number that may be wrong)."""
    from sage_tui.core.patch.check import diagnose

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
            size = len(block)
            hits = [i for i in range(len(lines) - size + 1) if lines[i:i + size] == block]
            if len(hits) > 1 and hunk.source_start - 1 not in hits:
                return False
    return True


def _rebuild(text: str, read: Reader) -> str:
    lines = _strip_fences(text).split("\n")
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
    files: list[_File] = []
    for source, target, body in sections:
        deleting = target.strip() == "/dev/null"
        path = _clean_path(source if deleting else target)
        old = None if source.strip() == "/dev/null" else read(path)
        if old is None and source.strip() != "/dev/null":
            raise EditError(f"{path} does not exist; a new file's diff starts '--- /dev/null'.")
        hunks = _loose_hunks(body)
        if deleting:
            files.append(_File(path, old, None))
        elif old is None:
            added = [line[1:] for lines, _ in hunks for line in lines if line[0] == "+"]
            files.append(_File(path, None, _join(added, True)))
        else:
            files.append(_File(path, old, _apply_loose(old, hunks, path)))
    return exact_diff(files)


def named_paths(text: str) -> list[str]:
    """The files a diff or search/replace blocks name, normalised, without reading any of
    them (what the tool policy judges before anything is read)."""
    if BLOCK.search(text.replace("\r\n", "\n")):
        return list(dict.fromkeys(_clean_path(path) for path, _, _ in parse_blocks(text)))
    lines = _strip_fences(text.replace("\r\n", "\n")).split("\n")
    paths = []
    for first, second in itertools.pairwise(lines):
        if first.startswith("--- ") and second.startswith("+++ "):
            source, target = first[4:].split("\t")[0], second[4:].split("\t")[0]
            paths.append(_clean_path(source if target.strip() == "/dev/null" else target))
    return list(dict.fromkeys(paths))


def parse_blocks(text: str) -> list[tuple[str, str, str]]:
    """(path, search, replace) for each search/replace block; the path is the line above."""
    found = []
    text = text.replace("\r\n", "\n")
    for match in BLOCK.finditer(text):
        above = [line.strip() for line in text[:match.start()].split("\n") if line.strip()]
        while above and above[-1].startswith("```"):  # the path sits above the fence
            above.pop()
        path = above[-1].strip("`*:# ").removeprefix("path=").strip() if above else ""
        if not path or " " in path:
            raise EditError("A search/replace block needs its file's path alone on the line "
                            "above it (or above its ``` fence).")
        found.append((path, match.group(1), match.group(2)))
    if not found:
        raise EditError("No search/replace block was found: a path line, '<<<<<<< SEARCH', the "
                        "text, '=======', the new text, '>>>>>>> REPLACE'.")
    return found


def from_blocks(blocks: Iterable[tuple[str, str, str]], read: Reader) -> str:
    """An exact diff for search/replace blocks, applied in order."""
    files: dict[str, _File] = {}
    for raw, search, replace in blocks:
        path = _clean_path(raw)
        if path not in files:
            files[path] = _File(path, read(path), read(path))
        f = files[path]
        if f.new is None:
            if search.strip():
                raise EditError(f"{path} does not exist; a new file's block has an empty SEARCH.")
            f.new = replace
            continue
        f.new = _replace_once(f.new, search, replace, path)
    return exact_diff(files.values())


def _replace_once(text: str, search: str, replace: str, path: str) -> str:
    if not search.strip():
        raise EditError(f"A block for {path} has an empty SEARCH, but the file exists; search "
                        "for the lines to change.")
    count = text.count(search)
    if count == 1:
        return text.replace(search, replace, 1)
    if count > 1:
        raise EditError(f"The SEARCH text occurs {count} times in {path}; include more lines so "
                        "it occurs once.")
    file, needle = _lines(text), _lines(search)
    trimmed = [line.rstrip() for line in file]  # trailing whitespace on either side aside
    at = _locate(trimmed, [line.rstrip() for line in needle], path, None)
    new = _lines(replace)
    return _join(file[:at] + new + file[at + len(needle):], text.endswith("\n"))


def from_files(files: Iterable[Mapping[str, str]], read: Reader) -> str:
    """An exact diff for whole new contents of small files."""
    changed = []
    for item in files:
        path, content = _clean_path(str(item["path"])), str(item["content"])
        if len(content) > MAX_WHOLE_FILE:
            raise EditError(f"The new content of {path} is {len(content):,} characters; past "
                            f"{MAX_WHOLE_FILE:,}, send a diff or search/replace blocks.")
        changed.append(_File(path, read(path), content))
    return exact_diff(changed)


def from_text(text: str, read: Reader) -> str:
    """What a person pastes (`sage apply`, `sage review`): a diff, or search/replace blocks."""
    if BLOCK.search(text.replace("\r\n", "\n")):
        return from_blocks(parse_blocks(text), read)
    return from_diff(text, read)
