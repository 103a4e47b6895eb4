"""Workspace confinement: a hostile-path corpus, every one denied, the outside untouched."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from sage_tui.core.patch.model import PatchError, parse_patch
from sage_tui.core.tools.builtin import builtin_tools
from sage_tui.core.tools.registry import ToolContext, ToolFailure
from sage_tui.core.workspace.retrieval import RetrievalIndex
from sage_tui.core.workspace.workspace import PathDenied, Workspace
from tests.conftest import git_repo


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Workspace, Path]:
    canary = tmp_path / "canary"
    canary.mkdir()
    (canary / "secret.txt").write_text("outside secret\n")
    (canary / "hard.txt").write_text("outside, hard-linked\n")
    root = git_repo(tmp_path / "ws", {"src/app.py": "print('hi')\n", "README.md": "# ws\n"})
    (root / "out_dir").symlink_to(canary, target_is_directory=True)
    (root / "out_file").symlink_to(canary / "secret.txt")
    (root / "src" / "deep").mkdir()
    (root / "src" / "deep" / "up").symlink_to(tmp_path, target_is_directory=True)
    (root / "to_git").symlink_to(root / ".git" / "config")
    (root / "in_link").symlink_to(root / "src" / "app.py")  # stays inside: still refused
    os.mkfifo(root / "pipe")
    os.link(canary / "hard.txt", root / "hard.txt")
    return Workspace([root]), canary


HOSTILE = [
    ("../canary/secret.txt", "climbs out"),
    ("src/../../canary/secret.txt", "climbs out"),
    ("/etc/passwd", "outside the workspace"),
    (".git/config", "inside .git"),
    (".GIT/config", "inside .git"),
    ("src/.Git/HEAD", "inside .git"),
    (".git", "inside .git"),
    ("out_dir/secret.txt", "symbolic link"),
    ("out_file", "symbolic link"),
    ("src/deep/up/canary/secret.txt", "symbolic link"),
    ("to_git", "symbolic link"),
    ("in_link", "symbolic link"),
    (".sage/audit.jsonl", "inside .sage"),
    (".SAGE/x", "inside .sage"),
    ("src//../.sage", "inside .sage"),
    ("pipe", "FIFO"),
    ("src/app.py\0.txt", "NUL byte"),
    ("a/" * 3000 + "x", "too long"),
    ("x" * 300, "too long"),
    ("", "empty path"),
]


@pytest.mark.parametrize("path,reason", HOSTILE, ids=[h[1] + str(i) for i, h in enumerate(HOSTILE)])
def test_hostile_paths_are_denied_with_a_reason(layout: tuple[Workspace, Path], path: str,
                                                reason: str) -> None:
    ws, _ = layout
    for write in (False, True):
        with pytest.raises(PathDenied, match=reason):
            ws.resolve(path, write=write)


def test_devices_are_denied(layout: tuple[Workspace, Path]) -> None:
    ws, _ = layout
    with pytest.raises(PathDenied, match="outside the workspace"):
        ws.resolve("/dev/null")
    dev = ws.root / "devnull"
    dev.symlink_to("/dev/null")
    with pytest.raises(PathDenied):
        ws.resolve("devnull")


def test_ordinary_paths_resolve(layout: tuple[Workspace, Path]) -> None:
    ws, _ = layout
    assert ws.resolve("src/app.py") == ws.root / "src" / "app.py"
    assert ws.resolve("./src/../README.md") == ws.root / "README.md"
    assert ws.resolve(str(ws.root / "README.md")) == ws.root / "README.md"
    assert ws.resolve("new/file.py", write=True) == ws.root / "new" / "file.py"
    assert ws.relative(ws.root / "src" / "app.py") == "src/app.py"
    with pytest.raises(PathDenied, match="folder"):
        ws.resolve("src", write=True)


def test_a_hard_link_to_an_outside_file_is_never_written_through(
        layout: tuple[Workspace, Path]) -> None:
    ws, canary = layout
    before = snapshot(canary)
    ws.write_bytes("hard.txt", b"new contents\n")
    assert (ws.root / "hard.txt").read_bytes() == b"new contents\n"
    assert snapshot(canary) == before


def test_reads_refuse_a_swapped_in_symlink(layout: tuple[Workspace, Path],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    ws, _ = layout
    target = ws.root / "src" / "app.py"
    real_locate = ws.locate

    def swap_after_check(path: str) -> tuple[Path, str]:
        checked = real_locate(path)
        target.unlink()
        target.symlink_to(ws.root.parent / "canary" / "secret.txt")  # the race
        return checked

    monkeypatch.setattr(ws, "locate", swap_after_check)
    with pytest.raises(PathDenied, match="symbolic link"):
        ws.read_bytes("src/app.py")


def test_tools_deny_hostile_paths_and_the_canary_stays_identical(
        layout: tuple[Workspace, Path]) -> None:
    ws, canary = layout
    before = snapshot(canary)
    registry = builtin_tools()
    context = ToolContext(ws)
    for path, _ in HOSTILE:
        for tool, args in (("read_file", {"path": path}), ("list_files", {"path": path})):
            with pytest.raises((ToolFailure, PathDenied)):
                checked_tool, checked = registry.check(tool, args)
                checked_tool.run(context, checked)
    for target in ("../canary/secret.txt", ".git/config", "out_dir/secret.txt"):
        diff = f"--- a/{target}\n+++ b/{target}\n@@ -1 +1 @@\n-outside secret\n+pwned\n"
        with pytest.raises((ToolFailure, PatchError)):
            tool, args = registry.check("propose_patch", {"diff": diff})
            tool.run(context, args)
    assert context.proposed == []
    assert snapshot(canary) == before


@pytest.mark.parametrize("diff,message", [
    ("--- a/../x\n+++ b/../x\n@@ -1 +1 @@\n-a\n+b\n", "climbs out"),
    ("--- /etc/passwd\n+++ /etc/passwd\n@@ -1 +1 @@\n-a\n+b\n", "absolute path"),
    ("--- a/.git/hooks/pre-commit\n+++ b/.git/hooks/pre-commit\n@@ -1 +1 @@\n-a\n+b\n", ".git"),
    ("diff --git a/l b/l\nnew file mode 120000\n--- /dev/null\n+++ b/l\n@@ -0,0 +1 @@\n+/etc\n",
     "symbolic link"),
    ("diff --git a/m b/m\nnew file mode 160000\n--- /dev/null\n+++ b/m\n@@ -0,0 +1 @@\n+x\n",
     "submodule"),
    ("diff --git a/b.bin b/b.bin\nGIT binary patch\nliteral 1\nIcmZ?l0000\n", "binary"),
])
def test_dangerous_patches_are_refused_when_parsed(diff: str, message: str) -> None:
    with pytest.raises(PatchError, match=message):
        parse_patch(diff)


def test_search_and_retrieval_never_read_through_a_symlink_that_leads_out(
        layout: tuple[Workspace, Path]) -> None:
    ws, _ = layout
    tool, args = builtin_tools().check("search_code", {"query": "outside secret"})
    assert tool.run(ToolContext(ws), args).content == "No matches for 'outside secret'."
    tool, args = builtin_tools().check("search_code", {"query": "print('hi')"})
    found = tool.run(ToolContext(ws), args).content
    assert "src/app.py:1:" in found and "in_link:1:" not in found  # no link is read
    hits, _ = RetrievalIndex(Workspace([ws.root])).search("outside secret")
    assert all(hit.path not in ("out_file", "out_dir/secret.txt") for hit in hits)
    assert not any("outside secret" in hit.text for hit in hits)


@pytest.mark.parametrize("diff,target", [
    ("--- a/secrets/x\n+++ /dev/null\n@@ -1 +0,0 @@\n-a\n", "secrets/x"),
    ("--- secrets/x\n+++ secrets/x\n@@ -1 +1 @@\n-a\n+b\n", "secrets/x"),
    ("--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@\n-a\n+b\n--- /dev/null\n+++ b/n.py\n@@ -0,0 +1 @@\n+c\n",
     "a.py,n.py"),
    ("--- a/./src//x.py\n+++ b/./src//x.py\n@@ -1 +1 @@\n-a\n+b\n", "src/x.py"),
    ("not a diff", "."),
])
def test_the_policy_sees_every_file_a_patch_touches(layout: tuple[Workspace, Path], diff: str,
                                                    target: str) -> None:
    ws, _ = layout
    tool = builtin_tools().get("propose_patch")
    assert ",".join(tool.targets(ToolContext(ws), {"diff": diff})) == target
