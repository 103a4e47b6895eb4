"""Deciding a patch hunk by hunk: `HunkReview` (approve, reject, edit, comment, split,
undo), splitting a hunk as `git add -p` does, and the reverse of a diff (what undo shows)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from sage_tui.core.patch.model import Hunk, Patch, parse_patch


def split_hunk(hunk: Hunk) -> list[Hunk]:
    """Split a hunk where unchanged lines separate its changes (`s` in `git add -p`).

    Each part keeps the unchanged lines around it; ids become `h3.1`, `h3.2`, ...
    A hunk with a single block of changes comes back whole.
    """
    lines = list(hunk.lines)
    blocks: list[tuple[int, int]] = []  # [start, end) of each run of changed lines
    i = 0
    while i < len(lines):
        if lines[i][:1] in ("+", "-"):
            start = i
            while i < len(lines) and lines[i][:1] in ("+", "-", "\\"):
                i += 1
            blocks.append((start, i))
        else:
            i += 1
    if len(blocks) < 2:
        return [hunk]
    parts: list[Hunk] = []
    for number, (start, end) in enumerate(blocks, start=1):
        lead = blocks[number - 2][1] if number > 1 else 0
        tail = blocks[number][0] if number < len(blocks) else len(lines)
        # context between two blocks is shared: the first part takes it after, the next before
        lo = lead + (start - lead + 1) // 2 if number > 1 else 0
        hi = end + (tail - end) // 2 if number < len(blocks) else len(lines)
        body = lines[lo:hi]
        old_before = sum(1 for line in lines[:lo] if line[:1] in (" ", "-"))
        new_before = sum(1 for line in lines[:lo] if line[:1] in (" ", "+"))
        old_len = sum(1 for line in body if line[:1] in (" ", "-"))
        new_len = sum(1 for line in body if line[:1] in (" ", "+"))
        source = hunk.source_start + old_before
        target = hunk.target_start + new_before
        parts.append(Hunk(f"{hunk.hunk_id}.{number}", hunk.index, hunk.path,
                          f"@@ -{source},{old_len} +{target},{new_len} @@", tuple(body),
                          source, old_len, target, new_len))
    return parts


@dataclass
class HunkReview:
    """Per-hunk decisions on one patch, with undo; `patch` follows edits."""

    patch: Patch
    decisions: dict[str, str] = field(default_factory=dict)  # hunk_id → approve/reject
    comments: dict[str, list[str]] = field(default_factory=dict)
    history: list[tuple[str, str, str | None, Patch]] = field(default_factory=list)

    def decide(self, hunk_id: str, decision: str, comment: str | None = None) -> Hunk:
        """Record `approve`, `reject` or `comment` for a hunk; returns the hunk."""
        hunk = self.patch.hunk(hunk_id)
        self.history.append((hunk_id, self.decisions.get(hunk_id, ""), comment, self.patch))
        if decision in ("approve", "reject"):
            self.decisions[hunk_id] = decision
        if comment:
            self.comments.setdefault(hunk_id, []).append(comment)
        return hunk

    def edit(self, hunk_id: str, new_text: str) -> Hunk:
        """Replace a hunk's new side and approve it."""
        self.history.append((hunk_id, self.decisions.get(hunk_id, ""), None, self.patch))
        self.patch = self.patch.with_new_side(hunk_id, new_text)
        self.decisions[hunk_id] = "approve"
        return self.patch.hunk(hunk_id)

    def split(self, hunk_id: str) -> list[Hunk]:
        """Split a hunk into its separately decidable parts (undoable)."""
        old = self.patch.hunk(hunk_id)
        parts = split_hunk(old)
        if len(parts) == 1:
            return parts
        self.history.append((hunk_id, self.decisions.get(hunk_id, ""), None, self.patch))
        self.decisions.pop(hunk_id, None)
        files = tuple(replace(f, hunks=tuple(p for h in f.hunks for p in
                                             (parts if h.hunk_id == hunk_id else [h])))
                      for f in self.patch.files)
        self.patch = replace(self.patch, files=files)
        return parts

    def undo(self) -> str | None:
        """Take back the last decision; returns its hunk id, or None when there is none."""
        if not self.history:
            return None
        hunk_id, previous, comment, patch = self.history.pop()
        self.patch = patch
        if previous:
            self.decisions[hunk_id] = previous
        else:
            self.decisions.pop(hunk_id, None)
        if comment and self.comments.get(hunk_id):
            self.comments[hunk_id].pop()
        return hunk_id

    def state(self, hunk_id: str) -> str:
        return self.decisions.get(hunk_id, "pending")

    @property
    def approved(self) -> list[str]:
        return [h.hunk_id for h in self.patch.hunks if self.decisions.get(h.hunk_id) == "approve"]

    @property
    def rejected(self) -> list[str]:
        return [h.hunk_id for h in self.patch.hunks if self.decisions.get(h.hunk_id) == "reject"]

    @property
    def pending(self) -> list[str]:
        return [h.hunk_id for h in self.patch.hunks if h.hunk_id not in self.decisions]

    def feedback(self) -> str:
        """What the model should hear about rejected hunks and comments."""
        notes = []
        for hunk in self.patch.hunks:
            said = self.comments.get(hunk.hunk_id, [])
            if self.decisions.get(hunk.hunk_id) == "reject":
                notes.append(f"- hunk {hunk.index} in {hunk.path} was rejected"
                             + (f": {'; '.join(said)}" if said else ""))
            elif said:
                notes.append(f"- on hunk {hunk.index} in {hunk.path}: {'; '.join(said)}")
        return "\n".join(notes)


def reverse_diff(diff: str) -> str:
    """The reverse of a unified diff (for showing what undo will do)."""
    out = []
    for line in diff.split("\n"):
        if line.startswith("--- "):
            out.append("+++ " + line[4:])
        elif line.startswith("+++ "):
            out.append("--- " + line[4:])
        elif line.startswith("@@ "):
            parts = line.split(" ")
            parts[1], parts[2] = "-" + parts[2][1:], "+" + parts[1][1:]
            out.append(" ".join(parts))
        elif line.startswith("new file mode"):
            out.append("deleted" + line[3:])
        elif line.startswith("deleted file mode"):
            out.append("new" + line[7:])
        elif line.startswith("+"):
            out.append("-" + line[1:])
        elif line.startswith("-"):
            out.append("+" + line[1:])
        else:
            out.append(line)
    # Header pairs came out as "+++" then "---", and each run of changed lines as
    # additions before removals: put both back in the usual order.
    fixed: list[str] = []
    run: list[str] = []
    for line in [*out, ""]:
        if line[:1] in ("+", "-") and not line.startswith(("+++ ", "--- ")):
            run.append(line)
            continue
        fixed += [r for r in run if r.startswith("-")] + [r for r in run if r.startswith("+")]
        run = []
        if line.startswith("--- ") and fixed and fixed[-1].startswith("+++ "):
            fixed.insert(len(fixed) - 1, line)
        else:
            fixed.append(line)
    return "\n".join(fixed[:-1])


def recorded_review(diff: str, patch_id: str, decided: dict[str, str]) -> HunkReview:
    """A patch's review as the log recorded it: its hunk decisions, split hunks split again
    (an edited hunk shows approved; the edit itself is in the applied files)."""
    review = HunkReview(parse_patch(diff, patch_id=patch_id))
    for hunk_id in sorted(decided, key=lambda h: h.count(".")):
        parent = hunk_id.rsplit(".", 1)[0]
        known = {h.hunk_id for h in review.patch.hunks}
        if hunk_id not in known and "." in hunk_id and parent in known:
            review.split(parent)
    known = {h.hunk_id for h in review.patch.hunks}
    for hunk_id, decision in decided.items():
        if hunk_id in known:
            review.decide(hunk_id, "approve" if decision == "edit" else decision)
    return review
