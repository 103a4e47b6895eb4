"""Experts: short narrative packets with citations that go into a prompt (DESIGN.md §4).

* Memory: the project's remembered facts and lessons (`.sage/memory.json`) and the
  user's preferences (`<data>/memory.json`), updated after replies by the summarizer
  role, in the background.
* Summarizer: the rolling summary of this session, compressed by the summarizer role
  when the transcript grows.
* Retrieval: ranked search over the workspace with `file:line` citations and an
  explicit "no evidence" flag.
* Git: branch, status and recent commits.

Each packet is announced as an EXPERT_PACKET event, with the text the model is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sage_tui.core.agent.memory import MemoryStore
from sage_tui.core.agent.prompts import MEMORY_SYSTEM, SUMMARY_SYSTEM
from sage_tui.core.llm.client import LLMClient
from sage_tui.core.llm.context import Packet, PromptParts, untrusted
from sage_tui.core.llm.types import Message
from sage_tui.core.log.emitting import emitter
from sage_tui.core.log.events import EventName, ExpertPacket, Sink
from sage_tui.core.log.safetext import one_line
from sage_tui.core.workspace.gitcmd import git_argv, git_env
from sage_tui.core.workspace.retrieval import RetrievalIndex
from sage_tui.core.workspace.workspace import Workspace

SUMMARY_AFTER = 12  # transcript messages before older ones are folded into the summary
KEEP_RECENT = 6

MEMORY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "project_facts": {"type": "array", "items": {"type": "string"}},
        "user_preferences": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["project_facts", "user_preferences"],
}


@dataclass
class RollingSummary:
    """The session's summary so far and the transcript it has not absorbed yet."""

    text: str = ""
    absorbed: int = 0  # transcript messages already folded in

    def packet(self) -> Packet:
        if not self.text:
            return Packet("summarizer", "No earlier turns to summarise yet.", (), False)
        return Packet("summarizer", self.text, ("session summary",), True)


MAX_DIFF_CHARS = 40_000  # the review route's diff, before the context builder's clamp
MAX_INSTRUCTIONS = 20_000  # bytes read from each instructions file
INSTRUCTION_FILES = ("AGENTS.md", "CONVENTIONS.md")
MAX_PINNED = 24_000  # characters of pinned text in a prompt: pin a range (@f.py:10-40) for more
MENTION = re.compile(r"(?<![\w@])@([\w./\-]+?)(?::(\d+)-(\d+))?(?=[\s,;:!?)]|$)")


@dataclass
class Experts:
    """Runs the experts a route asks for and announces each packet."""

    workspace: Path
    llm: LLMClient
    sink: Sink
    memory: MemoryStore
    summary: RollingSummary = field(default_factory=RollingSummary)
    index: RetrievalIndex | None = None
    instruction_files: tuple[str, ...] = INSTRUCTION_FILES  # the project's conventions
    files: Workspace | None = None  # confined reads, with the policy's read rules
    pinned: dict[str, tuple[int, int] | None] = field(default_factory=dict)  # @path mentions

    def __post_init__(self) -> None:
        if self.files is None:
            self.files = Workspace([self.workspace])
        if self.index is None:
            self.index = RetrievalIndex(self.files)

    async def gather(self, names: Sequence[str], query: str, route: str = "qa") -> list[Packet]:
        """Packets from `names`, concurrently, announced in the order asked. The review route's
        Git packet holds the working tree's diff (the context builder clamps it)."""
        jobs = {"memory": self._memory, "summarizer": self._summary,
                "retrieval": self._retrieval,
                "git": self._git_with_diff if route == "review" else self._git,
                "instructions": self._instructions, "pinned": self._pinned}
        chosen = [n for n in dict.fromkeys(names) if n in jobs]
        if route in ("qa", "code"):  # the planner and the coder always follow the project's rules
            chosen = ["instructions", *chosen]
        if self.pinned:  # what the person pinned with @path, every turn until dropped
            chosen = [*chosen, "pinned"]
        results = await asyncio.gather(*(jobs[n](query) for n in chosen))
        results = [(p, e) for p, e in results
                   if p.expert not in ("instructions", "pinned") or p.evidence]
        for packet, extra in results:
            announced: ExpertPacket = {
                "expert": packet.expert, "chars": len(packet.text), "evidence": packet.evidence,
                "citations": list(packet.citations), "text": packet.text}
            if "health" in extra:
                announced["health"] = extra["health"]
            emitter(self.sink)(EventName.EXPERT_PACKET, announced)
        return [packet for packet, _ in results]

    async def _memory(self, query: str) -> tuple[Packet, dict[str, Any]]:
        return await asyncio.to_thread(self.memory.packet), {}

    async def _summary(self, query: str) -> tuple[Packet, dict[str, Any]]:
        return self.summary.packet(), {}

    async def _retrieval(self, query: str) -> tuple[Packet, dict[str, Any]]:
        assert self.index is not None
        loop = asyncio.get_running_loop()
        emit = emitter(self.sink)
        # Cancelling the turn cannot stop the worker thread, so it is told: the build stops at
        # its next file (Ctrl+C exits, the next turn does not wait) and reports no more.
        stop = threading.Event()

        def announce(done: int, total: int) -> None:
            if not stop.is_set():
                emit(EventName.INDEX_PROGRESS, {"done": done, "total": total})

        def progress(done: int, total: int) -> None:  # called from the worker thread
            if not stop.is_set():
                loop.call_soon_threadsafe(announce, done, total)

        try:
            hits, health = await asyncio.to_thread(self.index.search, query, 5, progress, stop)
        finally:
            stop.set()
        extra: dict[str, Any] = {"health": {"files": health.files, "skipped": health.skipped,
                                            "stale": health.stale}}
        if health.note:
            extra["health"]["note"] = health.note
        if not hits:
            text = f"No evidence: nothing in the workspace matches this message ({health.describe()})."
            return Packet("retrieval", text, (), False), extra
        lines = [f"- {one_line(h.citation)}: {h.text}" for h in hits]
        text = "Workspace matches:\n" + "\n".join(lines) + f"\n({health.describe()})"
        return Packet("retrieval", text, tuple(h.citation for h in hits), True), extra

    async def _git(self, query: str) -> tuple[Packet, dict[str, Any]]:
        status = await _git(self.workspace, "status", "--porcelain=v1", "--branch")
        if status is None:
            return Packet("git", "The workspace is not a git repository.", (), False), {}
        log = await _git(self.workspace, "log", "-5", "--pretty=format:%h %s (%cs)") or ""
        lines = status.splitlines()
        branch = lines[0].removeprefix("## ") if lines and lines[0].startswith("##") else "?"
        changes = [line for line in lines[1:] if line.strip()]
        text = f"Branch {branch}. "
        text += (f"{len(changes)} changed: " + ", ".join(c.strip() for c in changes[:12])
                 + (" …" if len(changes) > 12 else "") + "." if changes else "Working tree clean.")
        if log.strip():
            text += "\nRecent commits:\n" + "\n".join(f"- {c}" for c in log.splitlines())
        else:
            text += "\nNo commits yet."
        return Packet("git", text, ("git status", "git log"), True), {}

    def pin(self, text: str) -> list[str]:
        """Pin every `@path` (or `@path:10-40`) that `text` mentions and that exists; the
        pinned, as written."""
        assert self.files is not None
        added = []
        for match in MENTION.finditer(text):
            path, start, end = match.group(1).rstrip("."), match.group(2), match.group(3)
            lines = (int(start), int(end)) if start and end else None
            if lines is not None and not 1 <= lines[0] <= lines[1]:
                continue  # @f.py:8-3 is no range
            try:
                rel = self.files.normalize(path)
            except (OSError, ValueError):
                continue  # outside the workspace, or refused: not pinned
            if self.readable(rel):  # not hidden by the policy, not a link, a file
                self.pinned[rel] = lines
                added.append(rel)
        if added:
            self._pins_changed()
        return added

    def restore_pins(self, pins: Sequence[str]) -> None:
        """Pin again what a continued session had pinned (each still checked; no event)."""
        for pin in pins:
            path, _, span = pin.partition(":")
            first, _, last = span.partition("-")
            lines = (int(first), int(last)) if first.isdigit() and last.isdigit() else None
            with contextlib.suppress(OSError, ValueError):
                rel = self.files.normalize(path) if self.files is not None else path
                if self.readable(rel):
                    self.pinned[rel] = lines

    def pins(self) -> list[str]:
        """The pinned files as written: path, or path:first-last."""
        return [path + (f":{lines[0]}-{lines[1]}" if lines else "")
                for path, lines in self.pinned.items()]

    def _pins_changed(self) -> None:
        emitter(self.sink)(EventName.CONTEXT_CHANGED, {"pinned": self.pins(), "by": "person"})

    def readable(self, path: str) -> bool:
        """Whether the confined workspace lets `path` be read (hidden files and links not)."""
        assert self.files is not None
        try:
            self.files.read_bytes(path, 1)
        except (OSError, ValueError):
            return False
        return True

    def unpin(self, which: str) -> list[str]:
        """Unpin one file (`all`: every one); what was unpinned."""
        which = which.lstrip("@")
        gone = list(self.pinned) if which == "all" else [p for p in self.pinned if p == which]
        for path in gone:
            del self.pinned[path]
        if gone:
            self._pins_changed()
        return gone

    async def _pinned(self, query: str) -> tuple[Packet, dict[str, Any]]:
        """The pinned files (or line ranges), read through the confined workspace."""
        assert self.files is not None
        parts, cited = [], []
        for path, lines in self.pinned.items():
            try:
                raw = await asyncio.to_thread(self.files.read_bytes, path, MAX_PINNED * 4)
            except (OSError, ValueError) as exc:
                parts.append(f"{path}: cannot be read ({type(exc).__name__}).")
                continue
            numbered = raw.decode("utf-8", "replace").splitlines()
            first, last = lines or (1, len(numbered))
            shown = numbered[first - 1:last]
            parts.append(f"{path}" + (f" (lines {first}-{last})" if lines else "") + ":\n"
                         + "\n".join(f"{n:>5}  {t}" for n, t in enumerate(shown, start=first)))
            cited.append(f"{path}:{first}-{first + len(shown) - 1}" if shown else path)
        if not parts:
            return Packet("pinned", "", (), False), {}
        text = "\n\n".join(parts)
        if len(text) > MAX_PINNED:  # the transcript must not be dropped for one big file
            text = text[:MAX_PINNED] + "\n[... cut: pin a line range, @path:10-40, to see more]"
        return Packet("pinned", "Files the user pinned into this conversation:\n\n" + text,
                      tuple(cited), True), {}

    async def _instructions(self, query: str) -> tuple[Packet, dict[str, Any]]:
        """AGENTS.md, CONVENTIONS.md and the `instructions_file`, read through the confined
        workspace (a file the policy hides stays hidden); repository content, so untrusted."""
        assert self.files is not None
        workspace = self.files
        parts, cited = [], []
        for name in self.instruction_files:
            try:
                raw = await asyncio.to_thread(workspace.read_bytes, name, MAX_INSTRUCTIONS)
            except (OSError, ValueError):
                continue  # absent, hidden, a link, a folder: no instructions from it
            text = raw.decode("utf-8", "replace").strip()
            if text:
                parts.append(f"{name}:\n{text}")
                cited.append(name)
        if not parts:
            return Packet("instructions", "", (), False), {}
        return Packet("instructions", "The project's own conventions (from its files):\n\n"
                      + "\n\n".join(parts), tuple(cited), True), {}

    async def _git_with_diff(self, query: str) -> tuple[Packet, dict[str, Any]]:
        packet, extra = await self._git(query)
        plain = ("--no-color", "--no-ext-diff", "--no-textconv")  # no program of the repo's
        diff = await _git(self.workspace, "diff", "HEAD", *plain) if packet.evidence else None
        if not diff:
            diff = await _git(self.workspace, "diff", *plain) or ""
        if not diff.strip():
            return packet, extra
        if len(diff) > MAX_DIFF_CHARS:
            diff = diff[:MAX_DIFF_CHARS] + f"\n[... {len(diff) - MAX_DIFF_CHARS:,} characters cut]"
        return Packet("git", f"{packet.text}\nThe working tree's changes:\n{diff}",
                      (*packet.citations, "git diff"), True), extra

    async def update_memory(self, exchange: Sequence[Message]) -> None:
        """Ask the summarizer for durable facts in the last exchange and store them."""
        lines = "\n".join(f"{m['role']}: {m['content']}" for m in exchange)
        parts = PromptParts(system=MEMORY_SYSTEM,
                            current="Exchange:\n" + untrusted("conversation", lines),
                            packets=[self.memory.packet()])
        result = await self.llm.call("summarizer", parts, format=MEMORY_SCHEMA)
        data = json.loads(result.content)
        if not isinstance(data, dict):
            raise ValueError("memory reply is not an object")
        facts = [str(x) for x in data.get("project_facts") or [] if str(x).strip()]
        prefs = [str(x) for x in data.get("user_preferences") or [] if str(x).strip()]
        if facts or prefs:
            await asyncio.to_thread(self.memory.remember, facts, prefs)

    async def update_summary(self, transcript: Sequence[Message]) -> None:
        """Fold older transcript messages into the rolling summary once it grows."""
        summary = self.summary  # `/clear` puts a new one in place: this one is then stale
        pending = len(transcript) - summary.absorbed
        if pending <= SUMMARY_AFTER:
            return
        upto = len(transcript) - KEEP_RECENT
        older = transcript[summary.absorbed:upto]
        lines = "\n".join(f"{m['role']}: {m['content']}" for m in older)
        current = ("Summary so far:\n" + untrusted("session summary", summary.text or "(none)")
                   + "\n\nNew messages:\n" + untrusted("conversation", lines))
        result = await self.llm.call("summarizer", PromptParts(system=SUMMARY_SYSTEM,
                                                               current=current))
        if result.content.strip() and summary is self.summary:
            self.summary.text = result.content.strip()
            self.summary.absorbed = upto
            emitter(self.sink)(EventName.SUMMARY_UPDATED, {"text": self.summary.text,
                                                           "absorbed": upto})


async def _git(workspace: Path, *args: str) -> str | None:
    try:
        argv = await asyncio.to_thread(git_argv, *args, workspace=workspace)
        proc = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL, env=git_env())
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=15)
    except (TimeoutError, OSError):
        return None
    return out.decode("utf-8", "replace") if proc.returncode == 0 else None
