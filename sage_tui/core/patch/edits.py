"""Edits as models write them, made into one exact unified diff before anyone sees them.

Three forms land the same way (review, policy, apply and undo never see the difference):

* a unified diff, strict or loose: `@@` counts that are off, bare `@@ ... @@` headers, wrong
  line numbers, blank context lines that lost their leading space, CRLF, fences and prose
  around it. A loose hunk is placed by its context and removed lines: exactly first, then
  ignoring whitespace, and only ever at one location; ambiguous or missing is refused,
  naming the closest match. A diff that is already exact is kept byte for byte (the loose
  placing lives in `loosediff.py`);
* search/replace blocks (`path`, then `<<<<<<< SEARCH`, the text, `=======`, the new
  text, `>>>>>>> REPLACE`): the SEARCH text must occur exactly once (trailing whitespace
  on its lines aside);
* a small file's whole new content (`files: [{path, content}]`).

Everything becomes `difflib`'s exact diff of the old and new content of each file, which
`parse_patch` then reads as any other diff.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from sage_tui.core.patch.check import closest, percent
from sage_tui.core.patch.model import (
    PatchError,
    _clean_path,
    _strip_fences,
    quote_path,
)

Reader = Callable[[str], "str | None"]  # workspace-relative path → text, None when absent
MAX_WHOLE_FILE = 40_000  # characters: past this, send a diff or search/replace blocks
MAX_EDITS = 200  # hunks or blocks in one change: past this, the exact diff costs minutes
_START = re.compile(r"<{5,9} SEARCH\s*$")  # a block's lines, matched one line at a time
_DIVIDER = re.compile(r"={5,9}\s*$")
_END = re.compile(r">{5,9} REPLACE\s*$")


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
    import difflib  # a plain unified diff never comes here: `sage apply --check` starts without

    out: list[str] = []
    for f in files:
        if f.old == f.new:
            continue
        # lines with their "\n", so a last line without one differs from the same line with it
        old = re.findall(r"[^\n]*\n|[^\n]+$", f.old or "")
        new = re.findall(r"[^\n]*\n|[^\n]+$", f.new or "")
        body = list(difflib.unified_diff(old, new, n=3))[2:]
        if not body:
            continue
        out.append(f"--- {'/dev/null' if f.old is None else quote_path('a/' + f.path)}")
        out.append(f"+++ {'/dev/null' if f.new is None else quote_path('b/' + f.path)}")
        for line in body:
            out.append(line[:-1] if line.endswith("\n") else line)
            if not line.endswith("\n"):  # only the last line of a side ends without one
                out.append("\\ No newline at end of file")
    if not out:
        raise EditError("The edit changes nothing: the new text is what the files already hold.")
    return "\n".join(out) + "\n"


def _words(line: str) -> str:
    return " ".join(line.split())


def _occurrences(lines: list[str], block: list[str]) -> list[int]:
    """Where `block` starts in `lines`; only positions holding its first line are compared."""
    hits: list[int] = []
    index, stop = -1, len(lines) - len(block) + 1
    while True:
        try:
            index = lines.index(block[0], index + 1, stop)
        except ValueError:
            return hits
        if lines[index:index + len(block)] == block:
            hits.append(index)


def _is_crlf(text: str | None) -> bool:
    return text is not None and "\n" in text and text.count("\r\n") == text.count("\n")


def _width(line: str) -> int:
    wide = line.expandtabs(4)
    return len(wide) - len(wide.lstrip())


def _check_indent(file: list[str], needle: list[str], path: str, at: int) -> None:
    """Lines added under a match found only by ignoring whitespace would sit at the depth the
    model imagined, not the file's: refused unless every matched line is indented alike."""
    if any(_width(a) != _width(b) for a, b in zip(file, needle, strict=True) if a.strip() and b.strip()):
        raise EditError(f"An edit for {path} matches lines {at + 1}-{at + len(needle)} only "
                        "with other indentation, so its new lines would land at the wrong "
                        "depth; send the lines indented as the file has them.")


def _locate(file: list[str], needle: list[str], path: str, hint: int | None,
            words: list[str] | None = None) -> int:
    """The one place `needle` sits in `file`: exact, else ignoring whitespace (`words`: the
    file's lines with whitespace folded, when the caller keeps them)."""
    if not needle:
        raise EditError(f"A hunk for {path} has no context or removed lines, so it cannot be "
                        "placed; include the lines around the change.")
    for exact in (True, False):
        hits = _occurrences(file, needle) if exact else _occurrences(
            words if words is not None else [_words(line) for line in file],
            [_words(line) for line in needle])
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


def from_diff(text: str, read: Reader) -> str:
    """An exact diff for `text`: as it is when it is exact, else rebuilt from its hunks."""
    from sage_tui.core.patch.loosediff import exact_from_diff  # it builds on this module

    return exact_from_diff(text, read)


def named_paths(text: str) -> list[str]:
    """The files a diff or search/replace blocks name, normalised, without reading any of
    them (what the tool policy judges before anything is read)."""
    if any(_START.match(line) for line in text.replace("\r\n", "\n").split("\n")):
        return list(dict.fromkeys(_clean_path(path, prefixed=False)
                                  for path, _, _ in parse_blocks(text)))
    lines = _strip_fences(text.replace("\r\n", "\n")).split("\n")
    paths = []
    for first, second in itertools.pairwise(lines):
        if first.startswith("--- ") and second.startswith("+++ "):
            source, target = first[4:].split("\t")[0], second[4:].split("\t")[0]
            paths.append(_clean_path(source if target.strip() == "/dev/null" else target))
    return list(dict.fromkeys(paths))


def _scan_blocks(lines: list[str]) -> list[tuple[int, str, str]]:
    """(index of its SEARCH line, search, replace) for each block, in one pass over the lines.

    A block with no divider, or more than one (an RST heading, conflict markers in the code),
    or a SEARCH line inside another block cannot be split for certain: it is refused.
    """
    found: list[tuple[int, str, str]] = []
    start: int | None = None
    dividers: list[int] = []
    for index, line in enumerate(lines):
        if _START.match(line):
            if start is not None:
                raise EditError("A '<<<<<<< SEARCH' line comes inside another search/replace "
                                "block; close each block with '>>>>>>> REPLACE', or send a diff.")
            start, dividers = index, []
        elif start is not None and _DIVIDER.match(line):
            dividers.append(index)
        elif start is not None and _END.match(line):
            if len(dividers) != 1:
                raise EditError(f"A search/replace block has {len(dividers)} '=======' lines, so "
                                "where SEARCH ends is not certain; send a diff for text that "
                                "holds such a line.")
            found.append((start, "".join(f"{x}\n" for x in lines[start + 1:dividers[0]]),
                          "".join(f"{x}\n" for x in lines[dividers[0] + 1:index])))
            start = None
    return found


def parse_blocks(text: str) -> list[tuple[str, str, str]]:
    """(path, search, replace) for each search/replace block; the path is the line above."""
    found = []
    lines = text.replace("\r\n", "\n").split("\n")
    for start, search, replace in _scan_blocks(lines):
        above = start - 1
        while above >= 0 and (not lines[above].strip() or lines[above].strip().startswith("```")):
            above -= 1  # the path sits above the fence
        path = lines[above].strip().strip("`*:# ").removeprefix("path=").strip() \
            if above >= 0 else ""
        if not path or " " in path:
            raise EditError("A search/replace block needs its file's path alone on the line "
                            "above it (or above its ``` fence).")
        found.append((path, search, replace))
    if not found:
        raise EditError("No search/replace block was found: a path line, '<<<<<<< SEARCH', the "
                        "text, '=======', the new text, '>>>>>>> REPLACE'.")
    return found


def from_blocks(blocks: Iterable[tuple[str, str, str]], read: Reader) -> str:
    """An exact diff for search/replace blocks, applied in order."""
    blocks = list(blocks)
    if len(blocks) > MAX_EDITS:
        raise EditError(f"The change has {len(blocks)} search/replace blocks; past {MAX_EDITS}, "
                        "split it into several proposals.")
    files: dict[str, _File] = {}
    for raw, search, replace in blocks:
        path = _clean_path(raw, prefixed=False)
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
    if _is_crlf(text) and "\r" not in search + replace:  # the file's CRLF on the new lines
        return _replace_once(text.replace("\r\n", "\n"), search, replace, path) \
            .replace("\n", "\r\n")
    if search.endswith("\n") and replace and not replace.endswith("\n"):
        replace += "\n"  # whole lines for whole lines: never the next line joined on
    hits, index = [], text.find(search)
    while index != -1:  # whole lines match whole lines only, never the tail of another line
        if not search.endswith("\n") or index == 0 or text[index - 1] == "\n":
            hits.append(index)
        index = text.find(search, index + 1)
    count = len(hits)
    if count == 1:
        return text[:hits[0]] + replace + text[hits[0] + len(search):]
    if count > 1:
        raise EditError(f"The SEARCH text occurs {count} times in {path}; include more lines so "
                        "it occurs once.")
    file, needle = _lines(text), _lines(search)
    trimmed = [line.rstrip() for line in file]  # trailing whitespace on either side aside
    at = _locate(trimmed, [line.rstrip() for line in needle], path, None)
    new = _lines(replace)
    if new:
        _check_indent(trimmed[at:at + len(needle)], needle, path, at)
    return _join(file[:at] + new + file[at + len(needle):], text.endswith("\n"))


def from_files(files: Iterable[Mapping[str, str]], read: Reader) -> str:
    """An exact diff for whole new contents of small files."""
    changed = []
    for item in files:
        path, content = _clean_path(str(item["path"]), prefixed=False), str(item["content"])
        if len(content) > MAX_WHOLE_FILE:
            raise EditError(f"The new content of {path} is {len(content):,} characters; past "
                            f"{MAX_WHOLE_FILE:,}, send a diff or search/replace blocks.")
        old = read(path)
        if _is_crlf(old) and "\r" not in content:  # the file keeps its line ends
            content = content.replace("\n", "\r\n")
        changed.append(_File(path, old, content))
    return exact_diff(changed)


def from_text(text: str, read: Reader) -> str:
    """What a person pastes (`sage apply`, `sage review`): a diff, or search/replace blocks."""
    lines = text.replace("\r\n", "\n").split("\n")
    if any(_START.match(line) for line in lines) and any(_END.match(line) for line in lines):
        return from_blocks(parse_blocks(text), read)
    return from_diff(text, read)
