"""Patches as SAGE sees them: files, hunks with stable ids and hashes, and decisions.

`parse_patch` reads a unified diff (as models write them: fenced or not, with or
without `diff --git` headers) with unidiff and refuses what must never be applied:
paths into `.git`, absolute or `..` paths, symlink and submodule modes, binary
patches. `diagnose` checks each hunk against the files on disk and says, for one that
does not fit, where the closest match is. `HunkReview` records per-hunk decisions
(approve, reject, edit, comment) with undo. Applying lives in `core/apply.py`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

from unidiff.constants import LINE_TYPE_NO_NEWLINE
from unidiff.errors import UnidiffParseError
from unidiff.patch import Line, PatchSet

from sage_tui.core.errors import SageError

_FENCE = re.compile(r"^```[a-zA-Z]*\s*$")
_REFUSED_MODES = {"120000": "symbolic link", "160000": "submodule"}
_FILE_MODES = ("100644", "100755")
_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}
PROTECTED = (".git", ".sage")


class PatchError(SageError):
    """A diff that cannot be read or must not be applied; the message says why."""


@dataclass(frozen=True)
class Hunk:
    """One hunk: its place in the patch, its header, its body lines (with prefixes)."""

    hunk_id: str
    index: int
    path: str
    header: str
    lines: tuple[str, ...]
    source_start: int
    source_length: int
    target_start: int
    target_length: int

    @property
    def sha(self) -> str:
        """A content hash that identifies exactly what was decided on."""
        body = "\n".join((self.path, self.header, *self.lines))
        return hashlib.sha256(body.encode("utf-8", "surrogateescape")).hexdigest()[:16]

    @property
    def old_lines(self) -> list[str]:
        return [line[1:] for line in self.lines if line[:1] in (" ", "-")]

    @property
    def new_lines(self) -> list[str]:
        return [line[1:] for line in self.lines if line[:1] in (" ", "+")]

    @property
    def added(self) -> int:
        return sum(1 for line in self.lines if line.startswith("+"))

    @property
    def removed(self) -> int:
        return sum(1 for line in self.lines if line.startswith("-"))

    def text(self) -> str:
        return "\n".join((self.header, *self.lines)) + "\n"


@dataclass(frozen=True)
class FilePatch:
    """The change to one file (with its mode change, if the diff has one)."""

    path: str
    is_new: bool
    is_deleted: bool
    hunks: tuple[Hunk, ...]
    old_mode: str | None = None
    new_mode: str | None = None

    def header(self) -> str:
        """The file's diff header, names quoted as git quotes them."""
        a, b = quote_path(f"a/{self.path}"), quote_path(f"b/{self.path}")
        lines = [f"diff --git {a} {b}"]
        if self.is_new:
            lines.append(f"new file mode {self.new_mode or '100644'}")
        elif self.is_deleted:
            lines.append(f"deleted file mode {self.old_mode or '100644'}")
        elif self.new_mode and self.old_mode and self.new_mode != self.old_mode:
            lines += [f"old mode {self.old_mode}", f"new mode {self.new_mode}"]
        source = "/dev/null" if self.is_new else a
        target = "/dev/null" if self.is_deleted else b
        return "\n".join([*lines, f"--- {source}", f"+++ {target}"]) + "\n"


@dataclass(frozen=True)
class Patch:
    """A parsed patch. `patch_id` is derived from its content unless given."""

    patch_id: str
    files: tuple[FilePatch, ...]
    description: str = ""

    @property
    def hunks(self) -> list[Hunk]:
        return [h for f in self.files for h in f.hunks]

    @property
    def paths(self) -> list[str]:
        return [f.path for f in self.files]

    def hunk(self, hunk_id: str) -> Hunk:
        for hunk in self.hunks:
            if hunk.hunk_id == hunk_id:
                return hunk
        raise KeyError(hunk_id)

    def text(self, hunk_ids: Iterable[str] | None = None) -> str:
        """The unified diff of the chosen hunks (all by default), in patch order."""
        chosen = None if hunk_ids is None else set(hunk_ids)
        out: list[str] = []
        for file in self.files:
            hunks = [h for h in file.hunks if chosen is None or h.hunk_id in chosen]
            if hunks:
                out.append(file.header() + "".join(h.text() for h in hunks))
        return "".join(out)

    def with_new_side(self, hunk_id: str, new_text: str) -> Patch:
        """Replace a hunk's new side (what the file should read) and rebuild its body."""
        import difflib  # only an edited hunk needs it; read-only checks start without

        old = self.hunk(hunk_id)
        new_lines = new_text.split("\n")
        if new_lines and new_lines[-1] == "":
            new_lines.pop()
        body: list[str] = []
        for op, a1, a2, b1, b2 in difflib.SequenceMatcher(
                a=old.old_lines, b=new_lines, autojunk=False).get_opcodes():
            if op == "equal":
                body += [" " + line for line in old.old_lines[a1:a2]]
                continue
            body += ["-" + line for line in old.old_lines[a1:a2]]
            body += ["+" + line for line in new_lines[b1:b2]]
        header = (f"@@ -{old.source_start},{len(old.old_lines)} "
                  f"+{old.target_start},{len(new_lines)} @@")
        edited = replace(old, header=header, lines=tuple(body), target_length=len(new_lines),
                         source_length=len(old.old_lines))
        files = tuple(replace(f, hunks=tuple(edited if h.hunk_id == hunk_id else h
                                             for h in f.hunks)) for f in self.files)
        return replace(self, files=files)


def quote_path(path: str) -> str:
    """A diff path as git writes it: C-quoted when it holds anything but plain printable ASCII."""
    raw = path.encode("utf-8", "surrogateescape")
    if all(32 < byte < 127 and byte not in (34, 92) for byte in raw):
        return path
    out = []
    for byte in raw:
        if byte in (34, 92):
            out.append("\\" + chr(byte))
        elif 32 <= byte < 127:
            out.append(chr(byte))
        else:
            out.append(f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


def unquote_path(raw: str) -> str:
    """A C-quoted diff path (`"b/caf\\303\\251.txt"`) as the name it means; others as given.

    Raises:
        PatchError: the quoting is broken.
    """
    if not (len(raw) >= 2 and raw.startswith('"') and raw.endswith('"')):
        return raw
    body, out, i = raw[1:-1], bytearray(), 0
    while i < len(body):
        char = body[i]
        if char != "\\":
            out += char.encode("utf-8", "surrogateescape")
            i += 1
            continue
        code = body[i + 1:i + 2]
        if code in _ESCAPES:
            out.append(_ESCAPES[code])
            i += 2
        elif len(body[i + 1:i + 4]) == 3 and all(c in "01234567" for c in body[i + 1:i + 4]):
            out.append(int(body[i + 1:i + 4], 8) & 0xFF)
            i += 4
        else:
            raise PatchError(f"The diff path {raw} has a broken escape; quote it as git does.")
    return out.decode("utf-8", "surrogateescape")


def _strip_fences(text: str) -> str:
    lines = text.split("\n")
    if all(line.endswith("\r") for line in lines if line):  # the whole diff was saved as CRLF
        lines = [line[:-1] if line.endswith("\r") else line for line in lines]
    lines = [line for line in lines if not _FENCE.match(line.rstrip("\r"))]
    start = next((i for i, line in enumerate(lines)
                  if line.startswith(("diff --git ", "--- "))), None)
    if start is None:
        raise PatchError("The text holds no unified diff (no '--- a/file' / '+++ b/file' "
                         "header); send the change as a unified diff.")
    body = "\n".join(lines[start:])
    return body if body.endswith("\n") else body + "\n"


def _clean_path(raw: str, prefixed: bool = True) -> str:
    """The workspace-relative name a diff path means: unquoted, `./` and `//` folded.

    `prefixed=False` is for a name given as it is (an edit's or a file's `path`): neither
    C-quoted nor carrying git's `a/` or `b/`, so `a/x.py` stays `a/x.py`.
    """
    name = unquote_path(raw.strip()) if prefixed else raw.strip()
    if "\0" in name:
        raise PatchError("A diff path contains a NUL byte.")
    path = name[2:] if prefixed and name.startswith(("a/", "b/")) else name
    if path.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", path):
        raise PatchError(f"The diff names an absolute path {raw!r}; use paths relative to the "
                         "workspace, such as 'a/src/app.py'.")
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise PatchError(f"The diff path {raw!r} climbs out of the workspace with '..'.")
    if not parts:
        raise PatchError(f"The diff path {raw!r} names no file.")
    for part in parts:
        if part.lower() in PROTECTED:
            owner = "git's" if part.lower() == ".git" else "SAGE's own"
            raise PatchError(f"The diff touches {raw!r} inside {part.lower()}, {owner} folder, "
                             "which patches never change.")
    return "/".join(parts)


def _modes(info: Iterable[str]) -> tuple[str | None, str | None]:
    """(old mode, new mode) from a file's git header lines; refused modes raise."""
    old = new = None
    for line in (str(x).strip() for x in info):
        key, _, mode = line.rpartition(" ")
        if key in ("old mode", "deleted file mode"):
            old = mode
        elif key in ("new mode", "new file mode"):
            new = mode
        else:
            continue
        if mode not in _FILE_MODES:
            raise PatchError(f"The diff sets the mode {mode} ({line}); SAGE changes regular "
                             "files only (100644 or 100755).")
    return old, new


def screen(body: str) -> None:
    """Refuse what no diff may do, however loosely it is written: links, submodules, binaries.

    Raises:
        PatchError: naming the line.
    """
    for line in body.split("\n"):
        mode = line.rsplit(" ", 1)[-1]
        if line.startswith(("new file mode", "new mode", "old mode", "deleted file mode",
                            "index ")) and mode in _REFUSED_MODES:
            raise PatchError(f"The diff changes a {_REFUSED_MODES[mode]} ({line.strip()}); "
                             "SAGE refuses those, so change regular files only.")
        if line.startswith(("GIT binary patch", "Binary files ")):
            raise PatchError("The diff holds a binary change; SAGE applies text changes only.")


def parse_patch(text: str, patch_id: str | None = None, description: str = "") -> Patch:
    """Parse a unified diff.

    Raises:
        PatchError: a sentence saying what is wrong (header, counts, refused path or mode).
    """
    body = _strip_fences(text)
    screen(body)
    try:
        parsed = PatchSet(body)
    except (UnidiffParseError, ValueError) as exc:  # ValueError: a number too long to read
        detail = " ".join(str(exc).split())[:200]
        raise PatchError(f"The diff cannot be read: {detail}; check the @@ line counts against the "
                         "lines that follow them.") from exc
    if not parsed:
        raise PatchError("The diff changes no file; it needs '--- a/path', '+++ b/path' and "
                         "'@@' hunks.")
    files: list[FilePatch] = []
    number = 0
    for patched in parsed:
        if patched.is_rename:
            raise PatchError("The diff renames a file; write it as a deletion and a new file.")
        raw = patched.target_file if not patched.is_removed_file else patched.source_file
        path = _clean_path(raw)
        old_mode, new_mode = _modes(patched.patch_info or [])
        if not patched and old_mode and new_mode:
            raise PatchError(f"The diff only changes the mode of {path}; SAGE applies content "
                             f"changes, so run `chmod` on it yourself.")
        if not patched:
            raise PatchError(f"The diff has no hunk for {path}; add '@@' hunks with the change.")
        hunks = []
        for hunk in patched:
            number += 1
            lines = tuple(_line(line) for line in hunk)
            header = f"@@ -{hunk.source_start},{hunk.source_length} " \
                     f"+{hunk.target_start},{hunk.target_length} @@" \
                     + (f" {hunk.section_header}" if hunk.section_header else "")
            hunks.append(Hunk(f"h{number}", number, path, header, lines, hunk.source_start,
                              hunk.source_length, hunk.target_start, hunk.target_length))
        files.append(FilePatch(path, patched.is_added_file, patched.is_removed_file,
                               tuple(hunks), old_mode, new_mode))
    paths = [f.path for f in files]
    if len(set(paths)) != len(paths):
        twice = next(p for p in paths if paths.count(p) > 1)
        raise PatchError(f"The diff changes {twice} twice (perhaps spelled two ways); merge its "
                         "hunks under one header.")
    digest = hashlib.sha256(body.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return Patch(patch_id or f"p-{digest}", tuple(files), description)


def _line(line: Line) -> str:
    value = str(line.value)
    value = value[:-1] if value.endswith("\n") else value
    if line.line_type == LINE_TYPE_NO_NEWLINE:
        return "\\ No newline at end of file"
    return f"{line.line_type}{value}"
