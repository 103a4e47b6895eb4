"""Edits as models write them: loose diffs, search/replace blocks and whole files land as the
exact diff they mean, at one place only; anything ambiguous or missing is refused, naming the
closest lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from sage_tui.core.patch.edits import (
    EditError,
    from_blocks,
    from_diff,
    from_files,
    from_text,
    parse_blocks,
)
from sage_tui.core.patch.model import PatchError, parse_patch
from sage_tui.core.tools.builtin import builtin_tools
from sage_tui.core.tools.registry import ToolContext
from sage_tui.core.workspace.workspace import Workspace
from tests.conftest import git_repo

CALC = "def add(a, b):\n    return a - b\n\n\ndef greet(name):\n    return 'hello ' + name\n"
FIXED = CALC.replace("a - b", "a + b")


def read(files: dict[str, str]):  # type: ignore[no-untyped-def]
    return files.get


def result(diff: str, files: dict[str, str]) -> dict[str, str]:
    """What the exact diff makes of `files` (applied line by line, as git would)."""
    patch = parse_patch(diff)
    out = dict(files)
    for file in patch.files:
        old = out.get(file.path, "").split("\n")
        new: list[str] = []
        position = 0
        for hunk in file.hunks:
            start = max(hunk.source_start - 1, 0) if hunk.source_length else hunk.source_start
            new += old[position:start]
            position = start
            for line in hunk.lines:
                if line.startswith(" "):
                    new.append(old[position])
                    position += 1
                elif line.startswith("-"):
                    position += 1
                elif line.startswith("+"):
                    new.append(line[1:])
        new += old[position:]
        out[file.path] = "\n".join(new)
    return out


@pytest.mark.parametrize("diff", [
    # a bare @@ header, as Aider's udiff prompt has models write it
    "--- a/calc.py\n+++ b/calc.py\n@@ ... @@\n def add(a, b):\n-    return a - b\n+    return a + b\n",
    # counts that are off
    "--- a/calc.py\n+++ b/calc.py\n@@ -1,9 +1,9 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n",
    # a wrong line number, fenced, with prose around, CRLF
    "Here is the fix:\r\n```diff\r\n--- a/calc.py\r\n+++ b/calc.py\r\n@@ -40,3 +40,3 @@\r\n"
    " def add(a, b):\r\n-    return a - b\r\n+    return a + b\r\n```\r\nThat should do it.\r\n",
    # a blank context line that lost its leading space, and no @@ at all
    "--- a/calc.py\n+++ b/calc.py\n-    return a - b\n+    return a + b\n\n\n def greet(name):\n",
])
def test_a_loose_diff_lands_as_the_exact_one(diff: str) -> None:
    exact = from_diff(diff, read({"calc.py": CALC}))
    assert result(exact, {"calc.py": CALC})["calc.py"] == FIXED
    assert parse_patch(exact).hunks[0].header.startswith("@@ -1,")


def test_whitespace_is_forgiven_in_the_match_and_the_files_own_lines_are_kept() -> None:
    tabbed = CALC.replace("    return a - b", "\treturn a - b")
    diff = ("--- a/calc.py\n+++ b/calc.py\n@@ @@\n def  add(a, b):\n-    return a - b\n"
            "+\treturn a + b\n")
    exact = from_diff(diff, read({"calc.py": tabbed}))
    assert " def add(a, b):" in exact.split("\n")  # the context as the file has it
    assert result(exact, {"calc.py": tabbed})["calc.py"] == tabbed.replace("a - b", "a + b")


def test_a_hunk_that_fits_two_places_is_refused_not_guessed() -> None:
    twice = "x = 1\ny = 2\n\nx = 1\ny = 2\n"
    with pytest.raises(EditError, match=r"fits 2 places \(lines 1, 4\)"):
        from_diff("--- a/v.py\n+++ b/v.py\n@@ @@\n x = 1\n-y = 2\n+y = 3\n", read({"v.py": twice}))
    spaced = "x = 1\ny = 2\n\nx  = 1\ny = 2\n"  # exact once, and once more ignoring spaces
    exact = from_diff("--- a/v.py\n+++ b/v.py\n@@ @@\n x = 1\n-y = 2\n+y = 3\n",
                      read({"v.py": spaced}))
    assert result(exact, {"v.py": spaced})["v.py"] == "x = 1\ny = 3\n\nx  = 1\ny = 2\n"


def test_a_hunk_that_is_not_there_names_the_closest_lines() -> None:
    with pytest.raises(EditError, match="closest lines start at line 1"):
        from_diff("--- a/calc.py\n+++ b/calc.py\n@@ @@\n def add(a, b):\n-    return a * b\n"
                  "+    return a + b\n", read({"calc.py": CALC}))


def test_search_replace_blocks_land_once_or_are_refused() -> None:
    text = ("I'll fix it.\n\ncalc.py\n```python\n<<<<<<< SEARCH\n    return a - b   \n=======\n"
            "    return a + b\n>>>>>>> REPLACE\n```\n")
    assert parse_blocks(text)[0][0] == "calc.py"  # the path above the fence
    with pytest.raises(EditError, match="needs its file's path alone"):
        parse_blocks(text.replace("calc.py\n", "Change the add function now\n"))
    exact = from_text(text, read({"calc.py": CALC}))  # trailing spaces in SEARCH forgiven
    assert result(exact, {"calc.py": CALC})["calc.py"] == FIXED
    doubled = CALC + CALC
    with pytest.raises(EditError, match="occurs 2 times"):
        from_blocks([("calc.py", "    return a - b\n", "    return a + b\n")],
                    read({"calc.py": doubled}))
    new = from_blocks([("pkg/new.py", "", "x = 1\n")], read({}))
    assert new.startswith("--- /dev/null\n+++ b/pkg/new.py\n")


def test_whole_files_land_and_big_ones_are_refused() -> None:
    exact = from_files([{"path": "calc.py", "content": FIXED}], read({"calc.py": CALC}))
    assert result(exact, {"calc.py": CALC})["calc.py"] == FIXED
    with pytest.raises(EditError, match="send a diff or search/replace blocks"):
        from_files([{"path": "big.py", "content": "x = 1\n" * 10_000}], read({}))
    with pytest.raises(EditError, match="changes nothing"):
        from_files([{"path": "calc.py", "content": CALC}], read({"calc.py": CALC}))


@pytest.mark.parametrize("path", ["../outside.py", "/etc/passwd", "a/../../x.py"])
def test_a_path_out_of_the_workspace_is_refused_in_every_form(path: str) -> None:
    for attempt in (lambda: from_blocks([(path, "", "x\n")], read({})),
                    lambda: from_files([{"path": path, "content": "x\n"}], read({})),
                    lambda: from_diff(f"--- /dev/null\n+++ {path}\n@@ @@\n+x\n", read({}))):
        with pytest.raises(PatchError):
            attempt()


def test_the_coder_proposes_with_edits_and_the_queue_holds_the_exact_diff(tmp_path: Path) -> None:
    root = git_repo(tmp_path / "repo", {"calc.py": CALC})
    ctx = ToolContext(Workspace([root]))
    tool = builtin_tools().get("propose_patch")
    output = tool.run(ctx, {"edits": [{"path": "calc.py", "search": "    return a - b\n",
                                       "replace": "    return a + b\n"}]})
    assert output.ok and "Queued patch" in output.content
    [patch] = ctx.proposed
    assert patch.paths == ["calc.py"] and "-    return a - b" in patch.text()
    assert tool.targets(ctx, {"files": [{"path": "calc.py", "content": FIXED}]}) == ["calc.py"]


def test_the_coder_is_told_the_format_its_model_writes_best(tmp_path: Path) -> None:
    from sage_tui.config import _parse_models
    from sage_tui.core.errors import ConfigError
    from sage_tui.core.llm.routing import ModelRouter

    others = "".join(f"  {role}:\n    model: llama3.2:3b\n"
                     for role in ("router", "planner", "summarizer"))
    models = _parse_models("roles:\n  coder:\n    model: qwen2.5-coder:1.5b\n"
                           "  reviewer:\n    model: qwen2.5-coder:32b\n    edit_format: whole\n"
                           + others, "models.yaml", None)
    router = ModelRouter(models, "http://127.0.0.1:11434")
    assert router.primary("coder").edit_format == "whole"  # a small model: whole files
    assert router.primary("reviewer").edit_format == "whole"  # as models.yaml says
    assert ModelRouter(models, "h", force="qwen2.5-coder:32b").primary("coder").edit_format \
        == "udiff"
    with pytest.raises(ConfigError, match="edit_format must be one of udiff, search_replace, "
                                          "whole"):
        _parse_models("roles:\n  coder:\n    model: m:7b\n    edit_format: patch\n"
                      "  reviewer:\n    model: m:7b\n" + others, "models.yaml", None)
