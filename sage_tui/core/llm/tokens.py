"""Token counts: the model servers' counters are the truth; before a call, a count.

`estimate_tokens` is the tokenizer-free fallback every counter starts from: it is meant
to err high, so a prompt clamped by it fits the model's window (measured against Gemma 3's
and cl100k's tokenizers on SAGE's own source: it overcounts by about 30 % at the median
and undercounted 1 text in 900, by 10 %; docs/models.md has the figures).
`core/llm/counting.py` turns it into per-model counts: the server's own tokenizer where
offered, else the estimate calibrated by the server's reported prompt counts. `UsageLedger`
keeps session totals and, per role, how full the last prompt made the model's context window.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from sage_tui.core.log.events import TokenTotals

# One piece per digit (SentencePiece vocabularies split numbers digit by digit), per
# camelCase or UPPER word part, per underscore run, per punctuation mark, and per letter
# outside ASCII (CJK text is about a token a character); long words add one per 8 letters.
_PIECES = re.compile(r"\d|[A-Z]?[a-z]+|[A-Z]+(?![a-z])|_+|[^\w\s]|\w")
MESSAGE_OVERHEAD = 4  # role markers and separators per chat message
_REMEMBER = (256, 65_536)  # texts this long are remembered: system prompts, packets repeat
_REMEMBERED: dict[str, int] = {}
_REMEMBER_MOST = 512


def estimate_tokens(text: str) -> int:
    """A tokenizer-free count of `text`'s tokens that errs high (see the module's note)."""
    low, high = _REMEMBER
    if low <= len(text) <= high:
        known = _REMEMBERED.get(text)
        if known is not None:
            return known
    pieces = _PIECES.findall(text)
    count = len(pieces) + sum(map(len, pieces)) // 8
    if low <= len(text) <= high:
        if len(_REMEMBERED) >= _REMEMBER_MOST:
            _REMEMBERED.clear()
        _REMEMBERED[text] = count
    return count


class Counts(Protocol):
    """Anything that counts a text's tokens: a model's counter, or one prompt's tally."""

    def count(self, text: str) -> int:
        """The number of tokens in `text`."""
        ...


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
