"""A child process for the atomicity test: applies a many-file patch, then exits.

    python apply_writer.py WORKSPACE PATCHFILE
"""

from __future__ import annotations

import sys
from pathlib import Path

from sage_tui.core.patch.engine import PatchEngine
from sage_tui.core.patch.model import parse_patch
from sage_tui.core.workspace.workspace import Workspace


def main() -> None:
    workspace, patch_file = sys.argv[1:3]
    engine = PatchEngine(Workspace([Path(workspace)]))
    patch = parse_patch(Path(patch_file).read_text())
    print("ready", flush=True)
    sys.stdin.readline()  # the parent says go, then kills at a random moment
    result = engine.apply(patch)
    print("done" if result.ok else f"failed {result.reason}", flush=True)


if __name__ == "__main__":
    main()
