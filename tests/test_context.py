"""The context builder clamps in the promised order and reports what it cut."""

from __future__ import annotations

from sage_tui.core.llm.context import CUT_MARK, Packet, PromptParts, build_prompt, reply_reserve
from sage_tui.core.llm.counting import ModelCounter

COUNTER = ModelCounter()  # no server: the plain estimate, deterministic in tests


def words(n: int, tag: str) -> str:
    return " ".join(f"{tag}{i}" for i in range(n))


def parts(transcript: int = 10, packet_words: int = 300) -> PromptParts:
    return PromptParts(
        system="SYSTEM PROMPT",
        current="CURRENT QUESTION",
        packets=[Packet("retrieval", words(packet_words, "r"), ("a.py:1",)),
                 Packet("git", words(packet_words // 3, "g"), ("git status",))],
        summary=words(200, "s"),
        transcript=[{"role": "user" if i % 2 == 0 else "assistant", "content": words(100, f"m{i}_")}
                    for i in range(transcript)],
    )


def contents(built: object) -> str:
    return "\n".join(m["content"] for m in built.messages)  # type: ignore[attr-defined]


def test_within_budget_nothing_is_cut() -> None:
    built = build_prompt(parts(transcript=2, packet_words=20), role="coder", num_ctx=32768,
                         max_chars=100_000, counter=COUNTER)
    assert built.clamp is None
    assert built.messages[0]["role"] == "system" and built.messages[-1]["content"] == "CURRENT QUESTION"
    assert ' source="retrieval">' in built.messages[0]["content"]
    assert "Sources: a.py:1" in contents(built)


def test_oldest_transcript_goes_first() -> None:
    whole = build_prompt(parts(), role="coder", num_ctx=32768, max_chars=10**6, counter=COUNTER)
    first, second = (COUNTER.count(m["content"]) + 4 for m in parts().transcript[:2])
    budget = whole.tokens - first - second // 2  # one message is not enough, two are
    reserve = {"num_predict": 100}  # exactly 100 tokens kept for the reply
    built = build_prompt(parts(), role="coder", num_ctx=budget + 100,
                         max_chars=10**6, counter=COUNTER, options=reserve)
    assert built.clamp is not None and not built.overflow
    assert built.clamp["dropped"] == ["2 oldest messages"]
    text = contents(built)
    assert "m0_0 " not in text and "m1_0 " not in text and "m2_0 " in text
    assert words(300, "r") in text and words(200, "s") in text  # packets and summary untouched
    assert built.clamp["after"] <= built.clamp["budget"] < built.clamp["before"]


def test_then_packets_shrink_longest_first_then_summary() -> None:
    built = build_prompt(parts(), role="coder", num_ctx=800, max_chars=10**6, counter=COUNTER)
    assert built.clamp is not None and not built.overflow
    dropped = built.clamp["dropped"]
    assert dropped[0] == "10 oldest messages"
    assert dropped[1].startswith("retrieval packet") and "→" in dropped[1]
    text = contents(built)
    assert CUT_MARK in text and "SYSTEM PROMPT" in text and "CURRENT QUESTION" in text
    assert built.clamp["after"] <= built.clamp["budget"]
    tighter = build_prompt(parts(), role="coder", num_ctx=500, max_chars=10**6, counter=COUNTER)
    assert tighter.clamp is not None
    assert any(d.startswith("summary") for d in tighter.clamp["dropped"])


def test_system_and_current_message_are_never_dropped_even_on_overflow() -> None:
    huge = PromptParts(system="S " * 3000, current="Q " * 3000, packets=[Packet("git", "g " * 50)],
                       transcript=[{"role": "user", "content": "old"}])
    built = build_prompt(huge, role="planner", num_ctx=2048, max_chars=10**6, counter=COUNTER)
    assert built.overflow and built.clamp is not None
    assert "raise num_ctx for planner" in built.clamp["warning"]
    assert built.messages[0]["content"].startswith("S S") and built.messages[-1]["content"] == huge.current
    assert "1 oldest message" in built.clamp["dropped"] and "git packet" in built.clamp["dropped"]


def test_the_character_budget_clamps_too() -> None:
    built = build_prompt(parts(), role="coder", num_ctx=10**6, max_chars=6000, counter=COUNTER)
    assert built.clamp is not None and built.clamp["chars_after"] <= 6000 < built.clamp["chars_before"]
    assert built.chars <= 6000


def test_reply_reserve_respects_num_predict() -> None:
    assert reply_reserve(8192) == 1024 and reply_reserve(2048) == 512
    assert reply_reserve(8192, {"num_predict": 300}) == 300
