"""The context builder: system prompt + expert packets + summary + transcript, within budget.

A role's budget is its `num_ctx` minus room for the reply, and the whole prompt must
also fit `SAGE_MAX_PROMPT_CHARS_TOTAL`. Over budget, it drops the oldest transcript
messages first, then shortens expert packets (longest first), then the rolling
summary, and only then drops packets and the summary. The system prompt and the
current message are never dropped; if they alone do not fit, the prompt is sent as
is and the clamp report says it overflows (Ollama would cut it silently otherwise).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sage_tui.core.llm.tokens import MESSAGE_OVERHEAD, Counts
from sage_tui.core.llm.types import Message
from sage_tui.core.log.events import ContextClamped

MIN_PART_CHARS = 240
CUT_MARK = " …[cut]"
_MARKER = re.compile(r"<(/?)(untrusted)", re.IGNORECASE)
_LABEL = re.compile(r"[^A-Za-z0-9 _.:/-]")


def untrusted(source: str, text: str) -> str:
    """`text` (a file, a tool's output, memory, a summary) as a labelled block of data.

    The system prompts say that instructions inside such a block are not instructions.
    The block's tag carries a digest of its own text, so the text cannot hold the line
    that closes it (that would need a digest of itself), whatever lookalike characters
    it tries; plain `<untrusted` markers inside are defused as well, and the label keeps
    only plain characters.
    """
    tag = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    label = _LABEL.sub("_", source)[:60]
    safe = _MARKER.sub(lambda m: f"‹{m.group(1)}{m.group(2)}", text)
    return f'<untrusted-{tag} source="{label}">\n{safe}\n</untrusted-{tag}>'

@dataclass(frozen=True)
class Packet:
    """An expert's contribution to a prompt: short narrative text with citations."""

    expert: str
    text: str
    citations: tuple[str, ...] = ()
    evidence: bool = True

    def render(self) -> str:
        sources = f"\nSources: {', '.join(self.citations)}" if self.citations else ""
        return untrusted(self.expert, f"{self.text}{sources}")


@dataclass
class PromptParts:
    """What a prompt is made of, before clamping."""

    system: str
    current: str
    packets: list[Packet] = field(default_factory=list)
    summary: str = ""
    transcript: list[Message] = field(default_factory=list)
    followup: list[Message] = field(default_factory=list)  # tool calls and results, kept whole


@dataclass(frozen=True)
class BuiltPrompt:
    """The messages to send and, when the budget bit, what was cut."""

    messages: list[Message]
    tokens: int
    chars: int
    clamp: ContextClamped | None = None

    @property
    def overflow(self) -> bool:
        return bool(self.clamp and self.clamp.get("overflow"))


def reply_reserve(num_ctx: int, options: Mapping[str, Any] | None = None) -> int:
    """Tokens kept free for the model's reply."""
    predict = (options or {}).get("num_predict")
    if isinstance(predict, int) and predict > 0:
        return min(predict, num_ctx // 2)
    return min(1024, num_ctx // 4)


def _compose(parts: PromptParts, packets: Sequence[Packet], summary: str,
             transcript: Sequence[Message]) -> list[Message]:
    system = parts.system
    if packets:
        system += "\n\n## Context from SAGE's experts\n" + "\n\n".join(p.render() for p in packets)
    if summary:
        system += "\n\n## Earlier in this session\n" + untrusted("session summary", summary)
    return [{"role": "system", "content": system}, *transcript,
            {"role": "user", "content": parts.current}, *parts.followup]


def _shorten(text: str) -> str:
    keep = max(MIN_PART_CHARS, len(text) // 2)
    return text[:keep].rstrip() + CUT_MARK


def prompt_texts(parts: PromptParts) -> list[str]:
    """Every text `build_prompt` sizes before it clamps (to have them counted first)."""
    return [parts.system, parts.current, *(str(m.get("content") or "") for m in parts.followup),
            *(p.render() for p in parts.packets), parts.summary,
            *(str(m.get("content") or "") for m in parts.transcript)]


def build_prompt(parts: PromptParts, *, role: str, num_ctx: int, max_chars: int,
                 counter: Counts, options: Mapping[str, Any] | None = None) -> BuiltPrompt:
    """Assemble the messages for one call, clamped to the role's budget."""
    budget = max(1, num_ctx - reply_reserve(num_ctx, options))
    count = counter.count

    def size(text: str) -> tuple[int, int]:
        return count(text) + MESSAGE_OVERHEAD, len(text)

    fixed_tokens, fixed_chars = size(parts.system)
    current_tokens, current_chars = size(parts.current)
    for message in parts.followup:  # never dropped: the loop caps each tool result instead
        extra_tokens, extra_chars = size(str(message.get("content") or ""))
        current_tokens += extra_tokens
        current_chars += extra_chars
    packet_sizes = [size(p.render()) for p in parts.packets]
    summary_size = size(parts.summary) if parts.summary else (0, 0)
    transcript_sizes = [size(str(m.get("content") or "")) for m in parts.transcript]

    def total() -> tuple[int, int]:
        tokens = fixed_tokens + current_tokens + summary_size[0]
        chars = fixed_chars + current_chars + summary_size[1]
        tokens += sum(t for t, _ in packet_sizes) + sum(t for t, _ in transcript_sizes)
        chars += sum(c for _, c in packet_sizes) + sum(c for _, c in transcript_sizes)
        return tokens, chars

    def fits() -> bool:
        tokens, chars = total()
        return tokens <= budget and chars <= max_chars

    before = total()
    if fits():
        messages = _compose(parts, parts.packets, parts.summary, parts.transcript)
        return BuiltPrompt(messages, before[0], before[1])

    dropped: list[str] = []
    transcript = list(parts.transcript)
    removed = 0
    while transcript and not fits():
        transcript.pop(0)
        transcript_sizes.pop(0)
        removed += 1
    if removed:
        dropped.append(f"{removed} oldest message{'s' if removed > 1 else ''}")

    packets = list(parts.packets)
    originals = {p.expert: len(p.text) for p in packets}
    while not fits():
        longest = max(range(len(packets)), key=lambda i: len(packets[i].text), default=None)
        if longest is None or len(packets[longest].text) <= MIN_PART_CHARS + len(CUT_MARK):
            break
        packets[longest] = replace(packets[longest], text=_shorten(packets[longest].text))
        packet_sizes[longest] = size(packets[longest].render())
    for p in packets:
        if len(p.text) != originals[p.expert]:
            dropped.append(f"{p.expert} packet {originals[p.expert]:,}→{len(p.text):,} chars")

    summary = parts.summary
    while summary and not fits() and len(summary) > MIN_PART_CHARS + len(CUT_MARK):
        summary = _shorten(summary)
        summary_size = size(summary)
    if summary != parts.summary:
        dropped.append(f"summary {len(parts.summary):,}→{len(summary):,} chars")

    while packets and not fits():
        gone = packets.pop()
        packet_sizes.pop()
        dropped.append(f"{gone.expert} packet")
    if summary and not fits():
        summary = ""
        summary_size = (0, 0)
        dropped.append("summary")

    after = total()
    overflow = not fits()
    clamp: ContextClamped = {
        "role": role, "budget": budget, "before": before[0], "after": after[0],
        "dropped": dropped, "max_chars": max_chars, "chars_before": before[1],
        "chars_after": after[1], "overflow": overflow,
    }
    if overflow:
        clamp["warning"] = (
            f"The {role} prompt needs about {after[0]:,} tokens and {after[1]:,} characters even "
            f"after clamping, over its budget of {budget:,} tokens (num_ctx {num_ctx:,}) or "
            f"{max_chars:,} characters; raise num_ctx for {role} in models.yaml or shorten the "
            "message."
        )
    return BuiltPrompt(_compose(parts, packets, summary, transcript), after[0], after[1], clamp)
