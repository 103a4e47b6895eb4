"""Generated hostile diffs (paths, encodings, CR, NUL, duplicates, overlaps, modes) against the
real engine: only one-sentence `SageError`s, the tree unchanged on every failure, nothing
outside the workspace touched.

CI runs a small, seeded number of examples; `SAGE_HYPOTHESIS_EXAMPLES=3000` runs many.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import shutil
import subprocess
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sage_tui.core.errors import SageError
from sage_tui.core.patch.model import parse_patch
from sage_tui.factory import patch_engine
from tests.conftest import git_repo

EXAMPLES = int(os.environ.get("SAGE_HYPOTHESIS_EXAMPLES", "120"))
FILES = {
    "a.txt": b"alpha\nbeta\ngamma\ndelta\n",
    "sub/b.txt": b"one\ntwo\nthree\n",
    "crlf.txt": b"first\r\nsecond\r\nthird\r\n",
    "latin.txt": b"caf\xe9\nna\xefve\nend\n",
    "sub/dup.txt": b"x\nx\nx\nx\n",
}
PATHS = ["a.txt", "sub/b.txt", "crlf.txt", "latin.txt", "sub/dup.txt", "new.txt", "sub//b.txt",
         "./a.txt", "sub/./b.txt", "../outside/canary.txt", "/etc/hostname", ".git/config",
         ".GIT/hooks/pre-commit", ".sage/journal.json", ".Sage/x", "link.txt", "sub",
         '"caf\\303\\251.txt"', '"sub/\\342\\234\\223.txt"', '"bad\\9quote"', "spaced name.txt",
         "nul\0name", "a.txt\r", "deep/new/file.txt"]
LINES = [line.decode("utf-8", "surrogateescape") for data in FILES.values()
         for line in data.split(b"\n") if line] + ["", "\0", "\r", "text\r", "caf\udce9",
                                                   "    indented", "\\ No newline at end of file"]
MODES = ["", "old mode 100644\nnew mode 100755\n", "new mode 120000\n", "new mode 160000\n",
         "old mode 100644\nnew mode 100777\n", "new file mode 100644\n",
         "deleted file mode 100644\n", "GIT binary patch\n"]

counter = itertools.count()


def header(path: str, kind: str) -> str:
    source = "/dev/null" if kind == "new" else f"a/{path}" if not path.startswith('"') \
        else '"a/' + path[1:]
    target = "/dev/null" if kind == "delete" else f"b/{path}" if not path.startswith('"') \
        else '"b/' + path[1:]
    return f"--- {source}\n+++ {target}\n"


@st.composite
def file_section(draw: st.DrawFn) -> str:
    path = draw(st.sampled_from(PATHS))
    kind = draw(st.sampled_from(["change", "change", "new", "delete"]))
    mode = draw(st.sampled_from(MODES))
    text = (f"diff --git a/{path} b/{path}\n" + mode) if mode else ""
    text += header(path, kind)
    for _ in range(draw(st.integers(1, 3))):
        old = draw(st.lists(st.sampled_from(LINES), max_size=4)) if kind != "new" else []
        new = draw(st.lists(st.sampled_from(LINES), max_size=4)) if kind != "delete" else []
        start = draw(st.integers(0, 6))
        counted = draw(st.booleans())
        old_n = len(old) if counted else draw(st.integers(0, 6))
        new_n = len(new) if counted else draw(st.integers(0, 6))
        body = [" " + line for line in draw(st.lists(st.sampled_from(LINES), max_size=2))]
        body += ["-" + line for line in old] + ["+" + line for line in new]
        text += f"@@ -{start},{old_n} +{start},{new_n} @@\n" + "\n".join(body) + "\n"
    return text


SPELLINGS = {"a.txt": ["a.txt", "./a.txt", '"a.txt"'], "sub/b.txt": ["sub/b.txt", "sub//b.txt"],
             "crlf.txt": ["crlf.txt"], "latin.txt": ["latin.txt"], "sub/dup.txt": ["sub/dup.txt"]}


@st.composite
def plausible_section(draw: st.DrawFn) -> str:
    """A hunk built from a file's real lines (as a model would write it), maybe corrupted."""
    name = draw(st.sampled_from(sorted(FILES)))
    lines = FILES[name].decode("utf-8", "surrogateescape").split("\n")[:-1]
    at = draw(st.integers(0, len(lines) - 1))
    replacement = draw(st.sampled_from(["changed", "changed\r", "caf\udce9 new", "with\0nul",
                                        lines[at] + " more"]))
    body = [" " + line for line in lines[max(0, at - 1):at]]
    body += ["-" + lines[at], "+" + replacement]
    body += [" " + line for line in lines[at + 1:at + 2]]
    old_n = sum(1 for b in body if b[0] in " -")
    new_n = sum(1 for b in body if b[0] in " +")
    start = max(1, at)
    if draw(st.booleans()):  # models get the numbers wrong
        start += draw(st.integers(-2, 3))
    mode = draw(st.sampled_from(["", "", "old mode 100644\nnew mode 100755\n"]))
    path = draw(st.sampled_from(SPELLINGS[name]))
    text = (f"diff --git a/{name} b/{name}\n" + mode) if mode else ""
    return text + header(path, "change") + f"@@ -{start},{old_n} +{start},{new_n} @@\n" \
        + "\n".join(body) + "\n"


def snapshot(folder: Path) -> dict[str, str]:
    out = {}
    for path in sorted(folder.rglob("*")):
        if ".git" in path.parts or ".sage" in path.parts:
            continue
        rel = str(path.relative_to(folder))
        if path.is_symlink():
            out[rel] = "link:" + os.readlink(path)
        elif path.is_file():
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest() + oct(path.stat().st_mode)
        else:
            out[rel] = "dir"
    return out


def make_template(base: Path) -> Path:
    root = git_repo(base / "template", {})
    for name, data in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    (root / "link.txt").symlink_to("a.txt")
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(root), "-c", "user.name=T", "-c", "user.email=t@t.invalid",
                    "commit", "-qm", "base"], check=True)
    return root


@settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 200,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(sections=st.lists(st.one_of(plausible_section(), file_section()), min_size=1, max_size=3),
       fenced=st.booleans(), crlf=st.booleans())
def test_hostile_diffs_fail_in_one_sentence_change_nothing_on_failure_and_nothing_outside(
        tmp_path_factory: object, sections: list[str], fenced: bool, crlf: bool) -> None:
    base = Path(str(tmp_path_factory.getbasetemp())) / "hostile"  # type: ignore[attr-defined]
    if not (base / "template").exists():
        base.mkdir(parents=True, exist_ok=True)
        make_template(base)
        (base / "outside").mkdir()
        (base / "outside" / "canary.txt").write_text("canary\n")
    root = base / f"ws{next(counter)}"
    shutil.copytree(base / "template", root, symlinks=True)
    outside = snapshot(base / "outside")
    before = snapshot(root)
    diff = "".join(sections)
    if crlf:
        diff = diff.replace("\n", "\r\n")
    if fenced:
        diff = f"Here is the change:\n```diff\n{diff}```\nThanks."
    try:
        try:
            patch = parse_patch(diff)
        except SageError as exc:
            event("refused when parsed")
            assert "\n" not in str(exc).strip(), str(exc)
            assert snapshot(root) == before
            return
        engine = patch_engine(root)
        result = engine.apply(patch)
        event("applied" if result.ok else "refused by the engine")
        if not result.ok:
            assert snapshot(root) == before, result.reason
            assert "Traceback" not in result.reason
            assert not engine.journal.exists()
        else:
            changed = {k for k in set(before) | set(snapshot(root))
                       if before.get(k) != snapshot(root).get(k)}
            touched = {p.split("/")[0] for p in result.files}
            assert all(c.split("/")[0] in touched | {"deep", "sub"} for c in changed), changed
            engine.undo()
            assert snapshot(root) == before  # and undo gives back exactly the old bytes
    except SageError as exc:
        assert "\n" not in str(exc).strip(), str(exc)
        assert snapshot(root) == before
    finally:
        assert snapshot(base / "outside") == outside
        shutil.rmtree(root, ignore_errors=True)
