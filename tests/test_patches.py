"""The patch model and engine: parsing, diagnostics, per-hunk decisions, atomic apply, undo."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from sage_tui.core.patch.check import diagnose, read_text_or_none
from sage_tui.core.patch.engine import UndoError
from sage_tui.core.patch.model import PatchError, parse_patch
from sage_tui.core.patch.review import HunkReview
from sage_tui.factory import patch_engine
from tests.conftest import git_repo
from tests.helpers import state_of

LINES = "".join(f"line {i}\n" for i in range(1, 31))
FILES = {"a.py": LINES, "b.py": "alpha\nbeta\ngamma\n", "gone.txt": "bye\n"}
TWO_FILES = """Here is the change:
```diff
diff --git a/a.py b/a.py
--- a/a.py
+++ b/a.py
@@ -2,3 +2,3 @@
 line 2
-line 3
+LINE THREE
 line 4
@@ -20,3 +20,4 @@
 line 20
 line 21
+inserted after 21
 line 22
--- a/b.py
+++ b/b.py
@@ -1,3 +1,3 @@
 alpha
-beta
+BETA
 gamma
--- /dev/null
+++ b/new/c.py
@@ -0,0 +1,2 @@
+created = True
+print(created)
--- a/gone.txt
+++ /dev/null
@@ -1 +0,0 @@
-bye
```
"""


def tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and ".git" not in p.parts
            and ".sage" not in p.parts}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return git_repo(tmp_path / "repo", FILES)


def test_parse_files_hunks_ids_and_hashes() -> None:
    patch = parse_patch(TWO_FILES)
    assert patch.paths == ["a.py", "b.py", "new/c.py", "gone.txt"]
    assert [h.hunk_id for h in patch.hunks] == ["h1", "h2", "h3", "h4", "h5"]
    assert [f.is_new for f in patch.files] == [False, False, True, False]
    assert patch.files[3].is_deleted
    assert parse_patch(TWO_FILES).patch_id == patch.patch_id  # stable for the same diff
    assert [h.sha for h in parse_patch(TWO_FILES).hunks] == [h.sha for h in patch.hunks]
    assert len({h.sha for h in patch.hunks}) == 5
    assert patch.hunks[1].added == 1 and patch.hunks[1].removed == 0


@pytest.mark.parametrize("text,message", [
    ("just prose, no diff", "holds no unified diff"),
    ("--- a/a.py\n+++ b/a.py\n@@ -1,3 +1,3 @@\n line 1\n-line 2\n", "cannot be read"),
    ("--- a/a.py\n+++ b/a.py\n", "has no hunk for a.py"),
])
def test_malformed_diffs_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(PatchError, match=message):
        parse_patch(text)


def test_diagnose_names_the_hunk_and_the_closest_match(repo: Path) -> None:
    stale = TWO_FILES.replace(" line 20\n line 21\n", " line 20\n line twenty-one\n")
    patch = parse_patch(stale)
    problems = diagnose(patch, read_text_or_none(repo))
    assert [(p.hunk_id, p.path) for p in problems] == [("h2", "a.py")]
    assert "closest match" in problems[0].message and "line 20" in problems[0].message
    missing = parse_patch("--- a/nope.py\n+++ b/nope.py\n@@ -1 +1 @@\n-x\n+y\n")
    assert "does not exist" in diagnose(missing, read_text_or_none(repo))[0].message
    exists = parse_patch("--- /dev/null\n+++ b/a.py\n@@ -0,0 +1 @@\n+x\n")
    assert "already exists" in diagnose(exists, read_text_or_none(repo))[0].message


def test_applying_exactly_the_approved_hunks(repo: Path) -> None:
    engine = patch_engine(repo)
    patch = parse_patch(TWO_FILES)
    result = engine.apply(patch, ["h1", "h4"])
    assert result.ok
    assert [(h.hunk_id, h.status) for h in result.hunks] == [
        ("h1", "applied"), ("h2", "skipped"), ("h3", "skipped"), ("h4", "applied"),
        ("h5", "skipped")]
    text = (repo / "a.py").read_text()
    assert "LINE THREE" in text and "inserted after 21" not in text
    assert (repo / "b.py").read_text() == FILES["b.py"]
    assert (repo / "new" / "c.py").read_text() == "created = True\nprint(created)\n"
    assert (repo / "gone.txt").exists()


def test_new_and_deleted_files_and_undo(repo: Path) -> None:
    engine = patch_engine(repo)
    before = tree(repo)
    result = engine.apply(parse_patch(TWO_FILES))
    assert result.ok and not (repo / "gone.txt").exists()
    assert (repo / "b.py").read_text() == "alpha\nBETA\ngamma\n"
    _, manifest = engine.undo(check_only=True)
    assert "-LINE THREE\n+line 3" in manifest["reverse"]
    engine.undo()
    assert tree(repo) == before
    with pytest.raises(UndoError, match="Nothing to undo"):
        engine.undo()


def test_undo_refuses_when_files_changed_since(repo: Path) -> None:
    engine = patch_engine(repo)
    engine.apply(parse_patch(TWO_FILES), ["h3"])
    (repo / "b.py").write_text("someone edited this\n")
    with pytest.raises(UndoError, match=r"b\.py changed since it was applied"):
        engine.undo()
    assert (repo / "b.py").read_text() == "someone edited this\n"


def test_a_patch_that_no_longer_applies_changes_nothing(repo: Path) -> None:
    engine = patch_engine(repo)
    patch = parse_patch(TWO_FILES)
    (repo / "b.py").write_text("alpha\nchanged by someone\ngamma\n")
    before = tree(repo)
    result = engine.apply(patch)
    assert not result.ok
    failed = [h for h in result.hunks if h.status == "failed" and h.reason.startswith("hunk")]
    assert [h.hunk_id for h in failed] == ["h3"]
    assert "b.py" in failed[0].reason and "closest match" in failed[0].reason
    assert tree(repo) == before
    assert not list((repo / ".sage").glob("staging/*"))


def test_whitespace_only_drift_is_caught_by_git(repo: Path) -> None:
    engine = patch_engine(repo)
    patch = parse_patch("--- a/b.py\n+++ b/b.py\n@@ -1,3 +1,3 @@\n alpha\n-beta\n+BETA\n gamma\n")
    (repo / "b.py").write_text("alpha\nbeta\ngamma")  # no final newline any more
    result = engine.check(patch)
    assert result.checked_only and (repo / "b.py").read_text() == "alpha\nbeta\ngamma"


def test_check_writes_nothing(repo: Path) -> None:
    engine = patch_engine(repo)
    before = tree(repo)
    result = engine.check(parse_patch(TWO_FILES))
    assert result.ok and all(h.status == "ok" for h in result.hunks)
    assert tree(repo) == before


def test_review_decisions_edit_undo_and_feedback() -> None:
    review = HunkReview(parse_patch(TWO_FILES))
    review.decide("h1", "approve")
    review.decide("h2", "reject", "keep line 21 as it is")
    review.decide("h3", "comment", "prefer lower case")
    assert review.approved == ["h1"] and review.rejected == ["h2"]
    assert review.pending == ["h3", "h4", "h5"]
    feedback = review.feedback()
    assert "hunk 2 in a.py was rejected: keep line 21 as it is" in feedback
    assert "on hunk 3 in b.py: prefer lower case" in feedback
    edited = review.edit("h3", "alpha\nBeta\ngamma\n")
    assert edited.lines == (" alpha", "-beta", "+Beta", " gamma")
    assert review.state("h3") == "approve"
    assert review.undo() == "h3"
    assert review.patch.hunk("h3").lines == (" alpha", "-beta", "+BETA", " gamma")
    assert review.state("h3") == "pending" and review.comments["h3"] == ["prefer lower case"]
    assert review.undo() == "h3" and "h3" not in review.comments.get("h3", []) and \
        review.comments["h3"] == []
    assert review.undo() == "h2" and review.state("h2") == "pending"


def test_an_edited_hunk_applies_as_edited(repo: Path) -> None:
    review = HunkReview(parse_patch(TWO_FILES))
    review.edit("h3", "alpha\nBeta (edited)\ngamma\n")
    result = patch_engine(repo).apply(review.patch, review.approved)
    assert result.ok and (repo / "b.py").read_text() == "alpha\nBeta (edited)\ngamma\n"


def test_audit_and_git_exclusion(repo: Path) -> None:
    engine = patch_engine(repo, {"session_id": "s1", "trace_id": "t1"})
    patch = parse_patch(TWO_FILES)
    engine.audit("hunk_decision", patch_id=patch.patch_id, hunk_id="h1",
                 hunk_sha=patch.hunks[0].sha, decision="approve", comment=None, who="person")
    engine.apply(patch, ["h1"])
    lines = [json.loads(x) for x in (state_of(repo) / "audit.jsonl").read_text().splitlines()]
    assert [x["action"] for x in lines] == ["hunk_decision", "applied"]
    assert all(x["session_id"] == "s1" and x["trace_id"] == "t1" for x in lines)
    assert lines[1]["hunks"] == [{"hunk_id": "h1", "hunk_sha": patch.hunks[0].sha}]
    import subprocess

    status = subprocess.run(["git", "-C", str(repo), "status", "--porcelain"],
                            capture_output=True, text=True).stdout
    assert ".sage" not in status and "a.py" in status


def test_a_hunk_that_almost_fits_is_never_called_100_percent_alike(repo: Path) -> None:
    lines = [f"value_{i} = {i}" for i in range(300)]
    (repo / "big.py").write_text("\n".join(lines) + "\n")
    old = list(lines[100:260])
    old[80] = "value_x = 'not in the file'"
    diff = ("--- a/big.py\n+++ b/big.py\n@@ -101,160 +101,1 @@\n"
            + "".join(f"-{line}\n" for line in old) + "+replaced = True\n")
    result = patch_engine(repo).check(parse_patch(diff))
    assert not result.ok
    assert "(99% alike) starts at line 101" in result.reason
