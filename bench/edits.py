"""How often an edit a model writes lands as meant: per format, on real changes.

The corpus is this repository's own history: every change to a text file of up to 40 KB in
the newest commits (the file before, the file after, `git diff` between them). From each,
edits are written in the three formats `propose_patch` takes, exact and corrupted the way
models corrupt them:

* unified diff: counts off, line numbers off, bare `@@ ... @@` headers, blank context lines
  without their leading space, context re-indented with tabs, no `a/`/`b/` prefixes, fenced,
  prose around it, CRLF;
* search/replace blocks: exact, trailing whitespace on SEARCH lines, fenced under the path,
  CRLF;
* whole file: the new content.

Each is labelled with its intended result (the file after the commit). Each goes through
`core/patch/edits.py` against the file before, and the exact diff it yields is applied with
`git apply`: landed correctly, refused (one sentence), or landed wrong. Landed wrong must be 0.

    python bench/edits.py [--commits 60]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sage_tui.core.patch.edits import (  # noqa: E402
    from_blocks,
    from_diff,
    from_files,
    from_text,
)
from sage_tui.core.patch.model import PatchError, parse_patch  # noqa: E402

MAX_BYTES = 40_000


@dataclass(frozen=True)
class Change:
    path: str
    before: str
    after: str
    diff: str


def git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True,
                          check=True).stdout


def history(commits: int) -> Iterator[Change]:
    """Modified text files of the newest `commits` commits (first parents only)."""
    for sha in git("log", "--first-parent", f"-{commits}", "--format=%H").split():
        listed = git("diff-tree", "--no-commit-id", "-r", "--diff-filter=M", "--name-only",
                     f"{sha}^", sha).split("\n")
        for path in filter(None, listed):
            if not path.endswith((".py", ".md", ".toml", ".yaml", ".txt", ".cfg", ".tcss")):
                continue
            try:
                before, after = git("show", f"{sha}^:{path}"), git("show", f"{sha}:{path}")
            except subprocess.CalledProcessError:
                continue
            if len(before) > MAX_BYTES or len(after) > MAX_BYTES or "\r" in before + after:
                continue
            diff = git("diff", "--no-color", "--no-ext-diff", "-U3", f"{sha}^", sha, "--", path)
            if diff and "Binary" not in diff:
                yield Change(path, before, after, diff[diff.index("--- "):])


def _hunks(diff: str) -> list[list[str]]:
    hunks: list[list[str]] = []
    for line in diff.split("\n")[2:]:
        if line.startswith("@@"):
            hunks.append([line])
        elif hunks and line:
            hunks[-1].append(line)
    return hunks


def _diff_with(change: Change, edit: Callable[[str], str | None]) -> str:
    head = change.diff.split("\n")[:2]
    body = [edit(line) for hunk in _hunks(change.diff) for line in hunk]
    return "\n".join(head + [line for line in body if line is not None]) + "\n"


def _counts_off(line: str) -> str:
    if not line.startswith("@@"):  # a header, not a line of content that mentions one
        return line
    return re.sub(r"@@ -(\d+),?(\d*) \+(\d+),?(\d*) @@",
                  lambda m: f"@@ -{m[1]},{int(m[2] or 1) + 2} +{m[3]},{int(m[4] or 1) + 3} @@", line)


def _numbers_off(line: str) -> str:
    if not line.startswith("@@"):
        return line
    return re.sub(r"@@ -(\d+)(,?\d*) \+(\d+)(,?\d*) @@",
                  lambda m: f"@@ -{int(m[1]) + 7}{m[2]} +{int(m[3]) + 7}{m[4]} @@", line)


def udiff_variants(change: Change) -> dict[str, str]:
    exact = change.diff
    return {
        "exact": exact,
        "counts off": _diff_with(change, _counts_off),
        "line numbers off": _diff_with(change, _numbers_off),
        "bare @@": _diff_with(change, lambda line: "@@ ... @@" if line.startswith("@@") else line),
        "blank context unspaced": _diff_with(change, lambda line: "" if line == " " else line),
        "context re-indented": _diff_with(
            change, lambda line: " " + line[1:].replace("    ", "\t") if line.startswith(" ")
            else line),
        "no a/ b/ prefixes": exact.replace("--- a/", "--- ", 1).replace("+++ b/", "+++ ", 1),
        "fenced": f"```diff\n{exact}```\n",
        "prose around": f"Here is the change you asked for:\n\n{exact}\nThis keeps the tests "
                        "green.\n",
        "CRLF": exact.replace("\n", "\r\n"),
        _no_context_kind(change): _no_context(change),
        "a removed line misremembered": _misremembered(change),
    }


def _no_context(change: Change) -> str:
    """Each hunk without the unchanged lines around it (those between changes stay: without
    them the hunk would mean another edit), under a bare header. Recoverable where the
    changed lines occur once; elsewhere it must be refused."""
    out = change.diff.split("\n")[:2]
    for hunk in _hunks(change.diff):
        body = hunk[1:]
        changed = [i for i, line in enumerate(body) if line[:1] in ("-", "+")]
        if changed:
            out += ["@@ ... @@", *body[changed[0]:changed[-1] + 1]]
    return "\n".join(out) + "\n"


def _no_context_kind(change: Change) -> str:
    """Its label: placeable when every hunk's remaining old lines occur once in the file as
    it is when that hunk comes (else nothing can say where it goes)."""
    before = change.before.split("\n")
    for hunk in _hunks(change.diff):
        body = hunk[1:]
        changed = [i for i, line in enumerate(body) if line[:1] in ("-", "+")]
        old = [line[1:] for line in body[changed[0]:changed[-1] + 1] if line[:1] in (" ", "-")]
        size = len(old)
        hits = sum(1 for i in range(len(before) - size + 1) if before[i:i + size] == old)
        if not old or hits != 1:
            return AMBIGUOUS
    return "no surrounding context"


AMBIGUOUS = "no surrounding context, ambiguous"


def _misremembered(change: Change) -> str:
    """The first removed line with one letter changed: the model remembered the file wrong.
    Unrecoverable: it must be refused (no such line is in the file)."""
    lines = change.diff.split("\n")
    for index, line in enumerate(lines):
        if line.startswith("-") and not line.startswith("---") and re.search(r"[a-z]", line):
            at = re.search(r"[a-z]", line).start()  # type: ignore[union-attr]
            lines[index] = line[:at] + ("x" if line[at] != "x" else "y") + line[at + 1:]
            return "\n".join(lines)
    return ""


UNRECOVERABLE = {"a removed line misremembered", AMBIGUOUS}  # refused is the right outcome


def blocks_of(change: Change) -> list[tuple[str, str, str]]:
    out = []
    for hunk in _hunks(change.diff):
        old = [line[1:] for line in hunk[1:] if line[:1] in (" ", "-")]
        new = [line[1:] for line in hunk[1:] if line[:1] in (" ", "+")]
        if any(line.startswith("\\") for line in hunk):
            return []  # no newline at the end: whole files say it better
        out.append((change.path, "\n".join(old) + "\n", "\n".join(new) + "\n"))
    return out


def block_text(blocks: list[tuple[str, str, str]], trailing: str = "", fence: bool = False) -> str:
    parts = []
    for path, search, replace in blocks:
        search = "".join(line + trailing + "\n" for line in search.split("\n")[:-1])
        body = f"<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n"
        parts.append(f"{path}\n```python\n{body}```\n" if fence else f"{path}\n{body}")
    return "\n".join(parts)


def search_replace_variants(change: Change) -> dict[str, Callable[[Callable], str]]:
    blocks = blocks_of(change)
    if not blocks:
        return {}
    return {
        "exact": lambda read: from_blocks(blocks, read),
        "trailing whitespace": lambda read: from_text(block_text(blocks, "  "), read),
        "fenced under the path": lambda read: from_text(block_text(blocks, fence=True), read),
        "CRLF": lambda read: from_text(block_text(blocks).replace("\n", "\r\n"), read),
    }


def landed(change: Change, diff: str) -> str:
    """What `git apply` makes of the file before with the exact diff."""
    diff = parse_patch(diff).text()  # as the engine gets it: paths and line ends normalised
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / change.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(change.before)
        done = subprocess.run(["git", "apply", "--unsafe-paths", "-"], input=diff, text=True,
                              cwd=folder, capture_output=True)
        if done.returncode != 0:
            return "\0git apply failed: " + done.stderr
        return target.read_text()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commits", type=int, default=60)
    args = parser.parse_args()
    changes = list(history(args.commits))
    tally: dict[tuple[str, str], Counter[str]] = {}
    wrong: list[str] = []

    def judge(fmt: str, kind: str, change: Change, make: Callable[[], str]) -> None:
        counter = tally.setdefault((fmt, kind), Counter())
        try:
            outcome = landed(change, make())
        except PatchError:
            counter["refused"] += 1
            return
        if outcome.startswith("\0"):  # a diff kept as written that no longer fits: the
            counter["refused"] += 1  # engine refuses it whole, hunk by hunk, as git does
            return
        if outcome == change.after:
            counter["correct"] += 1
        else:
            counter["wrong"] += 1
            wrong.append(f"{fmt}/{kind}: {change.path}")

    for change in changes:
        read = {change.path: change.before}.get
        for kind, text in udiff_variants(change).items():
            if text:
                judge("unified diff", kind, change, lambda t=text, r=read: from_diff(t, r))
        for kind, make in search_replace_variants(change).items():
            judge("search/replace", kind, change, lambda m=make, r=read: m(r))
        whole = [{"path": change.path, "content": change.after}]
        judge("whole file", "new content", change, lambda w=whole, r=read: from_files(w, r))

    print(f"{len(changes)} real changes from the newest {args.commits} commits of this repository")
    print()
    print("| format | corruption | cases | landed correctly | refused | landed wrong |")
    print("|---|---|---:|---:|---:|---:|")
    totals: dict[str, Counter[str]] = {}
    formats = ("unified diff", "search/replace", "whole file")
    for (fmt, kind), counter in sorted(tally.items(), key=lambda item: (
            formats.index(item[0][0]), item[0][1] in UNRECOVERABLE)):
        cases = sum(counter.values())
        if kind not in UNRECOVERABLE:
            totals.setdefault(fmt, Counter()).update(counter)
        label = f"{kind} (must be refused)" if kind in UNRECOVERABLE else kind
        print(f"| {fmt} | {label} | {cases} | {counter['correct'] / cases:.1%} | "
              f"{counter['refused']} | {counter['wrong']} |")
    for fmt, counter in totals.items():
        cases = sum(counter.values())
        print(f"| **{fmt}** | every recoverable one | {cases} | "
              f"{counter['correct'] / cases:.1%} | {counter['refused']} | {counter['wrong']} |")
    if wrong:
        print("\nLANDED WRONG (must be none):\n" + "\n".join(wrong[:20]))
        raise SystemExit(1)


if __name__ == "__main__":
    main()
