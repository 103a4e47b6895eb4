"""Attacks on `core/patch/edits.py`: every edit lands where and as it was meant, or is refused in
one sentence; the policy judges the files the queued patch touches."""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from sage_tui.core.patch.edits import EditError, from_blocks, from_diff, from_files, from_text
from sage_tui.core.patch.model import PatchError, parse_patch
from sage_tui.core.tools.builtin import builtin_tools
from sage_tui.core.tools.registry import ToolContext, ToolFailure
from sage_tui.core.workspace.workspace import Workspace
from tests.conftest import git_repo


def landed(diff: str, files: dict[str, str], refused_ok: bool = False) -> dict[str, str | None]:
    """What `git apply --recount` (as the engine runs it) makes of `files` with the diff; with
    `refused_ok`, {} when git refuses it (the engine then changes nothing)."""
    with tempfile.TemporaryDirectory() as folder:
        for name, text in files.items():
            (Path(folder) / name).parent.mkdir(parents=True, exist_ok=True)
            (Path(folder) / name).write_bytes(text.encode())
        done = subprocess.run(["git", "apply", "--recount", "--unsafe-paths", "-"],
                              input=parse_patch(diff).text(), text=True, cwd=folder,
                              capture_output=True)
        if refused_ok and done.returncode:
            return {}
        assert done.returncode == 0, done.stderr
        return {name: (Path(folder) / name).read_bytes().decode()
                if (Path(folder) / name).exists() else None for name in files}


NO_FINAL_NEWLINE = "".join(f"line{i}\n" for i in range(10)) + "last"


@pytest.mark.parametrize("make", [
    lambda read: from_blocks([("n.txt", "line1\n", "LINE1\n")], read),
    lambda read: from_files([{"path": "n.txt", "content": NO_FINAL_NEWLINE.replace("line1\n",
                                                                                  "LINE1\n")}], read),
    lambda read: from_diff("--- a/n.txt\n+++ b/n.txt\n@@ @@\n line0\n-line1\n+LINE1\n", read),
])
def test_an_edit_near_the_top_of_a_file_without_a_final_newline_joins_no_lines(make) -> None:  # type: ignore[no-untyped-def]
    files = {"n.txt": NO_FINAL_NEWLINE}
    assert landed(make(files.get), files)["n.txt"] == NO_FINAL_NEWLINE.replace("line1", "LINE1")


def test_a_deletion_whose_lines_are_not_the_file_is_refused_not_the_whole_file_deleted() -> None:
    files = {"calc.py": "def add(a, b):\n    return a - b\n"}
    for diff in ("--- a/calc.py\n+++ /dev/null\n@@ -1,1 +0,0 @@\n-nothing like calc\n",
                 "--- a/calc.py\n+++ /dev/null\n@@ @@\n-def add(a, b):\n"):
        try:
            exact = from_diff(diff, files.get)
        except PatchError:
            continue
        assert landed(exact, files, refused_ok=True).get("calc.py", "") is not None, \
            "deleted a file it never showed"


def test_a_well_formed_diff_that_fits_two_places_is_refused_not_left_to_gits_guess() -> None:
    twice = "x = 1\ny = 2\n\nx = 1\ny = 2\n"
    with pytest.raises(PatchError, match="fits 2 places"):
        from_diff("--- a/v.py\n+++ b/v.py\n@@ -2,2 +2,2 @@\n x = 1\n-y = 2\n+y = 3\n",
                  {"v.py": twice}.get)


def test_hunks_out_of_order_are_placed_by_their_own_line_numbers_or_refused() -> None:
    f = "x = 1\ny = 2\npad\nx = 1\ny = 2\na\nb\nc\nd\ne\n"
    diff = ("--- a/v.py\n+++ b/v.py\n@@ -7,9 +7,9 @@\n b\n+n1\n+n2\n+n3\n c\n"
            "@@ -1,9 +1,9 @@\n x = 1\n-y = 2\n+y = 3\n")  # the second hunk names line 1
    try:
        exact = from_diff(diff, {"v.py": f}.get)
    except PatchError:
        return
    assert landed(exact, {"v.py": f})["v.py"].startswith("x = 1\ny = 3\n")


def _tool(tmp_path: Path, files: dict[str, str]) -> tuple[ToolContext, object]:
    root = git_repo(tmp_path / "repo", files)
    return ToolContext(Workspace([root])), builtin_tools().get("propose_patch")


@pytest.mark.parametrize("path", ["a/deploy/prod.yaml", " deploy/prod.yaml",
                                  '"deploy/prod.yaml"'])
def test_the_policy_judges_the_file_the_queued_patch_changes(tmp_path: Path, path: str) -> None:
    ctx, tool = _tool(tmp_path, {"deploy/prod.yaml": "replicas: 3\n"})
    args = {"edits": [{"path": path, "search": "replicas: 3\n", "replace": "replicas: 0\n"}]}
    judged = tool.targets(ctx, args)  # type: ignore[attr-defined]
    try:
        tool.run(ctx, args)  # type: ignore[attr-defined]
    except ToolFailure:
        return
    assert ctx.proposed[-1].paths == judged


def test_an_edit_path_under_a_folder_named_a_lands_in_that_folder() -> None:
    files = {"a/x.py": "y = 1\n", "x.py": "y = 1\n"}
    exact = from_files([{"path": "a/x.py", "content": "y = 2\n"}], files.get)
    assert landed(exact, files) == {"a/x.py": "y = 2\n", "x.py": "y = 1\n"}


def test_a_path_cannot_smuggle_diff_headers_past_the_policy(tmp_path: Path) -> None:
    ctx, tool = _tool(tmp_path, {"calc.py": "x = 1\n"})
    args = {"files": [{"path": "notes.txt\n@@ -0,0 +1 @@\n+hi\n--- a/calc.py\n+++ b/calc.py\n"
                                "@@ -1 +1 @@\n-x = 1\n+import os", "content": "pwned\n"}]}
    judged = tool.targets(ctx, args)  # type: ignore[attr-defined]
    try:
        tool.run(ctx, args)  # type: ignore[attr-defined]
    except ToolFailure:
        return
    assert ctx.proposed[-1].paths == judged and "calc.py" not in ctx.proposed[-1].paths


def test_block_parsing_takes_linear_time_on_hostile_text() -> None:
    text = "<<<<<<< SEARCH\n=======\n" * 400  # 9 KB: ~3 s before, and cubic
    started = time.monotonic()
    with pytest.raises(PatchError):
        from_text(text, {}.get)
    assert time.monotonic() - started < 0.5


def test_a_block_with_two_divider_lines_is_refused_not_split_at_the_first() -> None:
    rst = "Title\n=======\n\nBody\n"
    text = ("README.rst\n<<<<<<< SEARCH\nTitle\n=======\n=======\nNew Title\n=========\n"
            ">>>>>>> REPLACE\n")
    with pytest.raises(EditError):
        from_text(text, {"README.rst": rst}.get)


def test_a_replace_that_starts_with_a_blank_line_keeps_it() -> None:
    md = "# Notes\nfirst paragraph\n"
    text = "notes.md\n<<<<<<< SEARCH\nfirst paragraph\n=======\n\nfirst paragraph\n>>>>>>> REPLACE\n"
    exact = from_text(text, {"notes.md": md}.get)
    assert landed(exact, {"notes.md": md})["notes.md"] == "# Notes\n\nfirst paragraph\n"


def test_a_search_of_whole_lines_does_not_match_the_tail_of_another_line() -> None:
    with pytest.raises(EditError):
        from_blocks([("m.py", "x = 1\n", "x = 10\n")], {"m.py": "max = 1\ny = 2\n"}.get)


def test_a_replace_without_its_final_newline_does_not_join_two_lines() -> None:
    files = {"m.py": "x = 1\ny = 2\n"}
    exact = from_blocks([("m.py", "x = 1\n", "x = 2")], files.get)
    assert landed(exact, files)["m.py"] == "x = 2\ny = 2\n"


def test_a_crlf_file_keeps_crlf_on_the_lines_an_edit_adds() -> None:
    files = {"w.py": "a = 1\r\nb = 2\r\nc = 3\r\n"}
    for exact in (from_blocks([("w.py", "b = 2\n", "b = 3\nb2 = 4\n")], files.get),
                  from_diff("--- a/w.py\n+++ b/w.py\n@@ @@\n a = 1\n-b = 2\n+b = 3\n+b2 = 4\n",
                            files.get)):
        after = landed(exact, files)["w.py"]
        assert after.count("\n") == after.count("\r\n") == 4, repr(after)  # no LF-only lines


PY = "def f():\n    if a:\n        return x\n    return y\n"


@pytest.mark.parametrize("make", [
    lambda read: from_diff("--- a/p.py\n+++ b/p.py\n@@ @@\n if a:\n-    return x\n+    return z\n",
                           read),
    lambda read: from_blocks([("p.py", "if a:\n    return x\n", "if a:\n    return z\n")], read),
])
def test_a_match_found_only_by_ignoring_indentation_does_not_add_lines_at_the_wrong_depth(make) -> None:  # type: ignore[no-untyped-def]
    files = {"p.py": PY}
    try:
        exact = make(files.get)
    except EditError:
        return
    assert landed(exact, files)["p.py"] == PY.replace("return x", "return z")


@pytest.mark.parametrize("diff", [
    "diff --git a/link b/link\nnew file mode 120000\n--- /dev/null\n+++ b/link\n@@ @@\n+/etc/passwd\n",
    "diff --git a/old.py b/new.py\nsimilarity index 90%\nrename from old.py\nrename to new.py\n"
    "--- a/old.py\n+++ b/new.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n",
])
def test_a_loose_diff_refuses_what_an_exact_one_is_refused_for(diff: str) -> None:
    with pytest.raises(PatchError):
        from_diff(diff, {"old.py": "x = 1\n", "new.py": "x = 1\n"}.get)


def test_bad_input_is_one_sentence_never_another_exception(tmp_path: Path) -> None:
    from sage_tui.commands.patching import exact_patch

    root = git_repo(tmp_path / "repo", {"real.py": "a\n"})
    os.symlink("real.py", root / "link.py")
    with pytest.raises(PatchError):
        exact_patch(root, "--- a/link.py\n+++ b/link.py\n@@ @@\n-a\n+b\n")
    for header in ("@@ -" + "9" * 5000 + " @@", "@@ -" + "9" * 5000 + ",1 +1,1 @@"):
        with contextlib.suppress(PatchError):  # placed by its lines, or refused in a sentence
            from_diff(f"--- a/c.py\n+++ b/c.py\n{header}\n-a\n+b\n", {"c.py": "a\n"}.get)
    ctx = ToolContext(Workspace([root]))
    (root / "pkg").mkdir()
    with pytest.raises(ToolFailure, match="folder"):
        builtin_tools().get("propose_patch").run(ctx, {"edits": [
            {"path": "pkg", "search": "a", "replace": "b"}]})


def test_ten_thousand_hunks_take_seconds_not_minutes() -> None:
    n = 10_000
    text = "".join(f"line {i}\n" for i in range(n * 3))
    diff = "--- a/f\n+++ b/f\n" + "".join(f"@@ @@\n-line {i * 3}\n+LINE {i * 3}\n" for i in range(n))
    started = time.monotonic()
    with contextlib.suppress(PatchError):  # refused in one sentence is an answer too
        from_diff(diff, {"f": text}.get)
    assert time.monotonic() - started < 10
