"""Token counts: Ollama's counters are the truth; before a call, an estimate.

`TokenCounter` uses tiktoken's `cl100k_base` when its files are already cached (it is
loaded once, off the event loop) and a fast estimator otherwise; it never downloads
and never fails a turn. `UsageLedger` keeps session totals and, per role, how full
the last prompt made the model's context window.
"""

from __future__ import annotations

import asyncio
import re
import threading
from dataclasses import dataclass
from typing import Any

from sage_tui.core.llm import tokenfiles
from sage_tui.core.log.events import TokenTotals

_WORDS = re.compile(r"\w+|[^\w\s]")
MESSAGE_OVERHEAD = 4  # role markers and separators per chat message
_CACHE_MIN_CHARS = 256
_CACHE_SIZE = 512


def estimate_tokens(text: str) -> int:
    """A tokenizer-free estimate: words and punctuation, plus one per 7 characters of
    word length (long identifiers split into several tokens)."""
    pieces = _WORDS.findall(text)
    return len(pieces) + sum(map(len, pieces)) // 7


class TokenCounter:
    """Counts tokens exactly when tiktoken's files are present, else estimates."""

    def __init__(self, encoding: str = "cl100k_base") -> None:
        self.encoding_name = encoding
        self._encoder: Any = None
        self._tried = False
        self._lock = threading.Lock()
        self._cache: dict[str, int] = {}

    @property
    def exact(self) -> bool:
        """True once tiktoken is loaded."""
        return self._encoder is not None

    def load_now(self) -> bool:
        """Load tiktoken if its cached files are intact (blocking); True when loaded."""
        with self._lock:
            if self._tried:
                return self.exact
            self._tried = True
            entry = next(iter(tokenfiles.check(names=(self.encoding_name,))), None)
            if entry is None or not entry.valid:
                return False  # never let tiktoken try a download
            try:
                import tiktoken  # reads TIKTOKEN_CACHE_DIR, the folder just checked

                self._encoder = tiktoken.get_encoding(self.encoding_name)
                self._cache.clear()  # counts so far were estimates
            except Exception:  # a broken install must not break a turn
                self._encoder = None
            return self.exact

    async def load(self) -> bool:
        """`load_now` in a worker thread, so the event loop never waits on it."""
        if self._tried:
            return self.exact
        return await asyncio.to_thread(self.load_now)

    def count(self, text: str) -> int:
        # System prompts and packets repeat call after call: remember long texts' counts.
        if len(text) >= _CACHE_MIN_CHARS:
            cached = self._cache.get(text)
            if cached is not None:
                return cached
        if self._encoder is not None:
            count = len(self._encoder.encode(text, disallowed_special=()))
        else:
            count = estimate_tokens(text)
        if len(text) >= _CACHE_MIN_CHARS:
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.clear()
            self._cache[text] = count
        return count



@dataclass
class RoleUsage:
    """One role's share of the session and its context window."""

    model: str
    num_ctx: int
    last_prompt: int = 0
    prompt_total: int = 0
    completion_total: int = 0
    estimated: bool = False

    @property
    def context_fraction(self) -> float:
        """Last prompt / num_ctx (may pass 1.0 when Ollama had to truncate)."""
        return self.last_prompt / self.num_ctx if self.num_ctx else 0.0


class UsageLedger:
    """Session token totals and per-role context use; the UI reads it live."""

    def __init__(self) -> None:
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.estimated = False
        self.calls = 0
        self.roles: dict[str, RoleUsage] = {}

    def record(self, role: str, model: str, num_ctx: int, prompt: int, completion: int,
               estimated: bool) -> TokenTotals:
        """Add one call; return the session totals for its TOKEN_USAGE event."""
        self.calls += 1
        self.prompt_tokens += prompt
        self.completion_tokens += completion
        self.estimated = self.estimated or estimated
        usage = self.roles.setdefault(role, RoleUsage(model, num_ctx))
        if (usage.model, usage.num_ctx) != (model, num_ctx):  # a fallback: totals carry on
            usage.model, usage.num_ctx, usage.last_prompt = model, num_ctx, 0
        if prompt:
            usage.last_prompt = prompt
        usage.prompt_total += prompt
        usage.completion_total += completion
        usage.estimated = usage.estimated or estimated
        return self.totals()

    def totals(self) -> TokenTotals:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "estimated": self.estimated}
