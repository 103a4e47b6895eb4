"""Secret redaction: every string the session log writes passes through `redact`.

Each secret becomes `[REDACTED:<kind>]`. The rules are of two families:

* provider tokens with a recognisable shape (GitHub, GitLab, Slack, OpenAI, Anthropic,
  Google, Stripe, Hugging Face, npm, PyPI, SendGrid, AWS key ids, JWTs, PEM blocks),
  matched anywhere;
* secrets recognisable only by their context: an `Authorization` header, a bearer
  token, a password inside a URL, an Azure account key, an AWS secret key next to
  its name, or a value assigned to a name such as `password`, `api_key`, `token` in
  env files, YAML, JSON, shell and code.

What must survive untouched is just as important: git SHAs, sha256 digests, UUIDs,
base64 image data, npm integrity hashes, placeholders (`${API_KEY}`,
`os.environ["X"]`, `<token>`) and ordinary code. So there is no "high entropy"
guess; every rule needs a shape or a name. `redact` is idempotent: a redacted text
contains nothing any rule matches again.

Speed matters because every log record goes through here: one lower-cased gate
search decides whether any rule can apply, so ordinary strings cost about a
microsecond.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from sage_tui.core.log.secretnames import (
    KEYWORDS,
    MARK,
    is_placeholder,
    is_reference,
    is_sensitive_name,
    kind_for_name,
)
from sage_tui.core.log.secretrules import RULES

__all__ = ["MARK", "clip", "is_sensitive_name", "kind_for_name", "may_hold_secret", "redact",
           "redact_value"]

# Secrets found through the name they are assigned to. One keyword-anchored scan
# finds every `<name><sep>` whose name ends in a sensitive word; the value's form
# then decides what counts:
#   quoted anywhere      "password": "x"   api_key = 'x'   password="x"
#   unquoted, inline     PASSWORD=x ./run  ?token=x&       --api-key=x
#   unquoted, own line   password: x       export TOKEN=x  Api-Key: x   secret = x
#   a flag's argument    --password x
# Unquoted values that read as code (`api_key=api_key`, `token: Optional[str]`) stay.
_ASSIGN_HINTS = ("pass", "secret", "token", "key", "credential", "pw")
_ASSIGN = re.compile(
    rf"{KEYWORDS}(?![A-Za-z0-9_])(?P<kq>\\?[\"'`]?)"
    rf"(?P<sep>[ \t]*(?:=>|:=|=|:)(?!=)[ \t]*|[ \t]+)",
    re.IGNORECASE,
)
_KEY_SET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
_INLINE_VALUE = re.compile(r"\$\{[^}\s]*\}|[^\s\"'`;&|,()\[\]{}<>]+")
_WORD_VALUE = re.compile(r"(?:[^\s\"'`\\]|\\(?![nrt\"'\\]))+")  # ends at an escape
# The rest of a line: nothing, a comment, or where an escaped line or a string ends.
_LINE_REST = re.compile(r"[ \t]*(?:#[^\n]*)?(?:$|\\[nr]|[\"'])", re.MULTILINE)
_LINE_LEAD = re.compile(r"[ \t]*(?:export[ \t]+|-[ \t]+)?[\"']?")


def _quoted_end(text: str, start: int, quote: str) -> int:
    """Index of the closing quote of a string starting after `start`, or -1."""
    i = start
    while i < len(text):
        char = text[i]
        if char == quote:
            return i
        if char == "\n":
            return -1
        i += 2 if char == "\\" else 1
    return -1


def _quoted(text: str, start: int) -> tuple[bool, tuple[int, int] | None]:
    """Whether a quoted value starts at `start` (`"x"`, `'x'`, `` `x` ``, `@"x"`, an escaped
    `\\"x\\"`), and the span inside it (None when it is a placeholder or unclosed)."""
    if text.startswith("@", start) and text[start + 1:start + 2] in ("\"", "'"):
        start += 1  # Objective-C @"..."
    escaped = text.startswith("\\", start) and text[start + 1:start + 2] in ("\"", "'")
    first = text[start + 1] if escaped else text[start:start + 1]
    if first not in ("\"", "'", "`"):
        return False, None
    if first == "`" and not escaped:  # a shell command (`cat f`) or a template (`${x}`)
        close = text.find("`", start + 1)
        inside = text[start + 1:close] if close > 0 else ""
        if any(c.isspace() for c in inside) or _TEMPLATE.search(inside):
            return True, None
    if escaped:
        open_end = start + 2
        close = text.find("\\" + first, open_end)
        newline = text.find("\n", open_end)
        if close < 0 or 0 <= newline < close:
            return True, None
    else:
        open_end = start + 1
        close = _quoted_end(text, open_end, first)
    if close < 0 or is_placeholder(text[open_end:close]):
        return True, None
    return True, (open_end, close)


_TEMPLATE = re.compile(r"\$\{[A-Za-z_][\w.]*\}|^\$[A-Za-z_(]")  # `${x}`, `$HOME`, `$(cmd)`
_LINE_BREAK = re.compile(r"\n|\\n")  # a newline, or an escaped one inside a string


class _Lines:
    """Where a position's line starts (after a newline or an escaped `\\n`), for positions
    asked in increasing order: one pass over the text, however many keys a line holds."""

    def __init__(self, text: str) -> None:
        self.text, self.scanned, self.start = text, 0, 0

    def start_of(self, at: int) -> int:
        if at < self.scanned:  # asked out of order: look back (rare)
            escaped = self.text.rfind("\\n", 0, at)
            return max(self.text.rfind("\n", 0, at) + 1, escaped + 2 if escaped >= 0 else 0)
        for found in _LINE_BREAK.finditer(self.text, self.scanned, at):
            self.start = found.end()
        self.scanned = at
        return self.start


def _assignment_value(text: str, match: re.Match[str], key_start: int,
                      lines: _Lines) -> tuple[int, int] | None:
    """The span of the value assigned in `match`, if it should be redacted."""
    end = match.end()
    sep = match["sep"]
    if end >= len(text):
        return None
    first = text[end]
    is_quoted, quoted = _quoted(text, end)
    if not sep.strip():  # `--password x`: only a flag takes its value after a space
        if not text.startswith("-", key_start) or first == "-":
            return None
        if is_quoted:
            return quoted
        value = _WORD_VALUE.match(text, end)
        if value is None or is_reference(value.group()):
            return None
        return value.span()
    if is_quoted:
        return quoted
    if text.startswith("$(", end):  # PASSWORD=$(openssl rand -hex 16): a command, not a value
        return None
    if sep == "=":  # no spaces around it: env, shell, query string, flag
        value = _INLINE_VALUE.match(text, end)
    else:  # `password: x` or `secret = x`: only as a line of its own (YAML, .env, ini)
        lead = _LINE_LEAD.match(text, lines.start_of(key_start))
        if lead is None or lead.end() != key_start:
            return None
        value = _WORD_VALUE.match(text, end)
        if value is None or first == "#" or not _LINE_REST.match(text, value.end()):
            return None
    if value is None:
        return None
    start, stop = value.span()
    while stop > start and text[stop - 1] in ",;":  # `token: string;`, `api_key: T,`: code
        stop -= 1
    if stop == start or is_reference(text[start:stop]):
        return None
    return start, stop


def _redact_assignments(text: str) -> str:
    pieces: list[str] = []
    done = 0
    low = text.lower()
    # Lower-casing keeps indices unless the text holds a letter like "İ".
    matches = _ASSIGN_LOWER.finditer(low) if len(low) == len(text) else _ASSIGN.finditer(text)
    lines = _Lines(text)
    for match in matches:
        key_start = match.start()
        if key_start < done:
            continue
        while key_start > 0 and text[key_start - 1] in _KEY_SET:
            key_start -= 1
        span = _assignment_value(text, match, key_start, lines)
        if span is None:
            continue
        key = text[key_start:match.end() - len(match["sep"]) - len(match["kq"])]
        pieces.append(text[done:span[0]])
        pieces.append(f"[REDACTED:{kind_for_name(key)}]")
        done = span[1]
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


def _trie_pattern(words: set[str]) -> str:
    """A regex that matches any of `words`, shaped as a trie so the engine can skip
    quickly over text that starts none of them."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        branches = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if "" in node:
            return f"(?:{body})?"
        return body

    return build(trie)


_HINTS = {h for rule in RULES for h in rule.hints} | set(_ASSIGN_HINTS)
_GATE = re.compile(_trie_pattern(_HINTS))
# The gate reports the longest hint at a place; it implies every hint inside it.
_IMPLIED = {h: frozenset(g for g in _HINTS if g in h) for h in _HINTS}
_ASSIGN_LOWER = re.compile(_ASSIGN.pattern)  # on lower-cased text: no IGNORECASE cost
_MIN_SECRET_TEXT = 8


def redact(text: str) -> str:
    """Replace every secret in `text` with `[REDACTED:<kind>]`.

    Idempotent: `redact(redact(t)) == redact(t)`. Text without secrets comes back
    as the very same object.
    """
    if len(text) < _MIN_SECRET_TEXT:
        return text
    low = text.lower()
    found = _GATE.findall(low)
    if not found:
        return text
    hits: set[str] = set()
    for hint in set(found):
        hits |= _IMPLIED[hint]
    for rule in RULES:
        if not hits.isdisjoint(rule.hints):
            text = rule.apply(text)
    if not hits.isdisjoint(_ASSIGN_HINTS):
        text = _redact_assignments(text)
    return text


def may_hold_secret(text: str) -> bool:
    """Whether any rule could apply to `text` (or to more text continuing it)."""
    return _GATE.search(text.lower()) is not None


@functools.lru_cache(maxsize=4096)
def _redact_key(key: str) -> str:
    """A dict key, redacted: the same few names come in every record, so they are cached."""
    return redact(key)


def redact_value(value: Any, name: str | None = None) -> Any:
    """Redact a JSON-like value: every string in it, and whole values by key name.

    Mappings keep their keys; a value stored under a sensitive key (`password`,
    `authorization`, `cookie`, `x-api-key`, ...) is replaced whole. Values that are
    not JSON types become strings first, so nothing escapes redaction through
    `str()` later.
    """
    kind = type(value)  # exact types first: this runs for every value of every event
    if kind is str:
        if name is not None and is_sensitive_name(name) and not is_placeholder(value):
            return f"[REDACTED:{kind_for_name(name)}]"
        return redact(value)
    if kind is int and name is not None and is_sensitive_name(name):
        return f"[REDACTED:{kind_for_name(name)}]"  # {"password": 12345678}
    if kind is int or kind is bool or value is None:
        return value
    if kind is dict:  # keys too: a model can put a token where a name belongs
        return {_redact_key(k if type(k) is str else str(k)): redact_value(v, str(k))
                for k, v in value.items()}
    if kind is list:
        return [redact_value(v, name) for v in value]
    if isinstance(value, str):
        return redact_value(str(value), name)
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, Mapping):
        return {_redact_key(str(k)): redact_value(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_value(v, name) for v in value]
    return redact_value(str(value), name)


def clip(text: str, limit: int, *, tail: bool = False) -> str:
    """At most `limit` characters of `text` (its end with `tail`), never a piece of a word:
    a token cut in two no longer has its shape, so redaction would miss the piece. A word
    longer than the whole limit is redacted first, then cut."""
    if len(text) <= limit:
        return text
    if tail:
        return clip(text[::-1], limit)[::-1]  # the same rule, read from the end
    if text[limit].isspace() or text[limit - 1].isspace():
        return text[:limit]
    word = max(text.rfind(" ", 0, limit), text.rfind("\n", 0, limit),
               text.rfind("\t", 0, limit)) + 1
    if word > 0:
        return text[:word]
    return redact(text)[:limit]
