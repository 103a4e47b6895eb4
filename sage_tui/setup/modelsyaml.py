"""`sage setup`: turn `sage prep`'s picks into a change to models.yaml, keeping the user's file.

The file is edited round-trip (ruamel.yaml), so comments, order, options, hosts,
fallbacks and profiles stay as the user wrote them; only each role's `model` changes.
Without a models.yaml, the change is made to a copy of the built-in template.
"""

from __future__ import annotations

import difflib
import io
import os
import shutil
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from sage_tui.config import load_models
from sage_tui.core.errors import ConfigError
from sage_tui.setup.prep import Plan


@dataclass(frozen=True)
class Change:
    path: Path
    before: str
    after: str
    exists: bool

    @property
    def diff(self) -> str:
        label = str(self.path) if self.exists else f"{self.path} (new, from the template)"
        return "".join(difflib.unified_diff(self.before.splitlines(keepends=True),
                                            self.after.splitlines(keepends=True),
                                            fromfile=label, tofile=str(self.path)))


def suggest(plan: Plan, path: Path) -> Change:
    """The models.yaml that would result from `plan` (nothing is written)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap

    exists = path.is_file()
    before = path.read_text(encoding="utf-8") if exists else \
        resources.files("sage_tui").joinpath("data/models.yaml").read_text(encoding="utf-8")
    yaml = YAML()  # round-trip: comments and order survive
    yaml.preserve_quotes = True
    try:
        data = yaml.load(before) or CommentedMap()
    except Exception as exc:  # ruamel raises many kinds; all mean "fix the file first"
        raise ConfigError(f"{path} cannot be read as YAML ({exc}); fix it, then run this again.") \
            from exc
    roles = data.setdefault("roles", CommentedMap())
    for pick in plan.picks:
        entry = roles.get(pick.role)
        if entry is None:
            roles[pick.role] = CommentedMap([("model", pick.tag)])
        elif entry.get("model") != pick.tag:
            entry["model"] = pick.tag
    out = io.StringIO()
    yaml.dump(data, out)
    return Change(path, before, out.getvalue(), exists)


def apply(change: Change) -> Path | None:
    """Write the change (backing up the old file); returns the backup's path.

    Raises:
        ConfigError: the result would not be a valid models.yaml (nothing is written).
    """
    staged = change.path.with_name(f".{change.path.name}.sage-new")
    change.path.parent.mkdir(parents=True, exist_ok=True)
    staged.write_text(change.after, encoding="utf-8")
    try:
        load_models(staged)
    except ConfigError:
        staged.unlink()
        raise
    backup = None
    if change.exists:
        backup = change.path.with_name(
            f"{change.path.name}.{time.strftime('%Y%m%d-%H%M%S')}.bak")
        shutil.copy2(change.path, backup)
    os.replace(staged, change.path)
    return backup
