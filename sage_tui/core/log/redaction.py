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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

MARK = "[REDACTED:"

# A name that holds a secret ends with one of these words (case-insensitive):
# `DB_PASSWORD`, `apiKey`, `client_secret`, `GITHUB_TOKEN`, `x-api-key`. Names that
# merely start with one (`token_type`, `max_tokens`, `secret_name`) do not count.
_KW = (
    r"(?:pass(?:word|wd|phrase)|secret(?:[_-]?(?:key|access[_-]?key))?|token"
    r"|api[_-]?key|apikey|access[_-]?key|auth[_-]?key|private[_-]?key|credentials?)"
)
_KEY_CHARS = r"[A-Za-z0-9_.\-]"
_SENSITIVE_NAME = re.compile(rf"{_KEY_CHARS}*{_KW}", re.IGNORECASE)
_HEADER_NAMES = frozenset({
    "authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key",
    "x-auth-token", "api-key", "x-goog-api-key",
})

# Values that name a secret rather than contain one.
_PLACEHOLDER = re.compile(
    r"""^(?:
        \$\{[^}]*\}                      # ${API_KEY}
      | \$[A-Za-z_][A-Za-z0-9_]*         # $API_KEY
      | \$\([^)]*\)                      # $(pass show x)
      | \{\{.*\}\}                       # {{ vault_password }}
      | <[^<>]*>                         # <your-token>
      | %\(?[A-Za-z_]*\)?s?%?            # %(password)s, %PASSWORD%
      | \*+ | x{3,} | X{3,} | \.{3}      # ****, xxxx, ...
      | (?i:none|null|nil|true|false|undefined|changeme|example|dummy|placeholder
            |redacted|secret|password|token|your[-_ ].*)
    )$""",
    re.VERBOSE,
)
_REFERENCE = re.compile(
    r"(?:os\.environ|os\.getenv|getenv\(|process\.env|ENV\[|env\(|secrets\.|vault\.)"
)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z_.]*")  # no digits: a variable, not a password
_CODE_LIKE = re.compile(r"[A-Za-z_][\w.]*\s*(?:\[|\(|\|\s*[A-Za-z_]|=\s)")


def _is_placeholder(value: str) -> bool:
    stripped = value.strip()
    return (
        not stripped
        or MARK in stripped
        or bool(_PLACEHOLDER.match(stripped))
        or bool(_REFERENCE.search(stripped))
    )


def _is_reference(value: str) -> bool:
    """An unquoted value that is code (`api_key=api_key`, `token: Optional[str]`)."""
    return (
        _is_placeholder(value)
        or bool(_IDENTIFIER.fullmatch(value))
        or bool(_CODE_LIKE.match(value))
    )


@functools.lru_cache(maxsize=4096)
def kind_for_name(name: str) -> str:
    """The `[REDACTED:<kind>]` label for a secret found through its name."""
    low = name.lower()
    if "pass" in low or "pwd" in low:
        return "password"
    if low in _HEADER_NAMES and "key" not in low and "token" not in low:
        return low.replace("-", "_").replace("proxy_", "")
    if "secret" in low:
        return "secret"
    if "token" in low:
        return "token"
    if "credential" in low:
        return "credential"
    return "api_key"


@functools.lru_cache(maxsize=4096)
def is_sensitive_name(name: str) -> bool:
    """True when a dict key or variable name says its value is a secret."""
    low = name.lower()
    return low in _HEADER_NAMES or bool(_SENSITIVE_NAME.fullmatch(name))


@dataclass(frozen=True)
class _Rule:
    kind: str
    pattern: re.Pattern[str]
    hints: tuple[str, ...]
    # Group to replace (0 = whole match); the rest of the match is kept as is.
    group: int | str = 0
    check: Callable[[str], bool] | None = None  # value → False keeps it

    def apply(self, text: str) -> str:
        return self.pattern.sub(self._replace, text)

    def _replace(self, match: re.Match[str]) -> str:
        value = match.group(self.group)
        if value is None or MARK in value or (self.check and not self.check(value)):
            return match.group(0)
        kind = self.kind
        start, end = match.span(self.group)
        whole_start = match.start(0)
        whole = match.group(0)
        return (
            whole[: start - whole_start] + f"[REDACTED:{kind}]" + whole[end - whole_start:]
        )


def _rule(kind: str, pattern: str, hints: tuple[str, ...], group: int | str = 0,
          flags: int = 0, check: Callable[[str], bool] | None = None) -> _Rule:
    return _Rule(kind, re.compile(pattern, flags), hints, group, check)


def _not_placeholder(value: str) -> bool:
    return not _is_placeholder(value)


_NB = r"(?<![A-Za-z0-9_\-])"  # not inside a longer token
_NA = r"(?![A-Za-z0-9_\-])"
_I = re.IGNORECASE

_RULES: tuple[_Rule, ...] = (
    _rule(
        "private_key",
        r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
        r"(?:[\s\S]*?-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|[A-Za-z0-9+/=\s\\:,.\-]*)",
        ("private key",),
    ),
    _rule("slack_webhook",
          r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/_\-]{8,}",
          ("hooks.slack.com",)),
    _rule("aws_access_key_id",
          r"(?<![A-Za-z0-9+/])(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}(?![A-Za-z0-9+/])",
          ("akia", "asia", "abia", "acca", "a3t")),
    _rule("aws_secret_access_key",
          r"(?:aws[A-Za-z0-9_.\-]{0,24}(?:secret|key)[A-Za-z0-9_.\-]{0,24}"
          r"|secret_?access_?key)[\"']?\s*(?:[:=]|=>)\s*[\"']?"
          r"(?P<v>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])",
          ("aws", "secretaccesskey", "secret_access_key"), group="v", flags=_I),
    _rule("github_token",
          rf"{_NB}(?:gh[pousr]_[A-Za-z0-9]{{36,255}}|github_pat_[A-Za-z0-9_]{{50,255}}){_NA}",
          ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_")),
    _rule("gitlab_token",
          rf"{_NB}(?:(?:glpat|gldt|glrt|glcbt|glptt|glft|glimt|glagent|gloas|glsoat|glffct"
          rf"|glwt)-[A-Za-z0-9_\-]{{20,}}|GR1348941[A-Za-z0-9_\-]{{20,}})",
          ("glpat-", "gldt-", "glrt-", "glcbt-", "glptt-", "glft-", "glimt-", "glagent-",
           "gloas-", "glsoat-", "glffct-", "glwt-", "gr1348941")),
    _rule("slack_token",
          rf"{_NB}(?:xox[abposre](?:\.xox[bp])?-[A-Za-z0-9\-]{{10,}}|xapp-\d-[A-Za-z0-9\-]{{10,}})",
          ("xox", "xapp-")),
    _rule("jwt", rf"{_NB}eyJ[A-Za-z0-9_\-]{{8,}}\.eyJ[A-Za-z0-9_\-]{{8,}}\.[A-Za-z0-9_\-]*",
          ("eyj",)),
    _rule("anthropic_key", rf"{_NB}sk-ant-[A-Za-z0-9_\-]{{20,}}", ("sk-ant-",)),
    _rule("openai_key",
          rf"{_NB}(?:sk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_\-]{{20,}}"
          rf"|sk-[A-Za-z0-9]{{20,}}T3BlbkFJ[A-Za-z0-9]{{20,}}|sk-[A-Za-z0-9]{{32,}}{_NA})",
          ("sk-",)),
    _rule("google_api_key", rf"{_NB}AIza[0-9A-Za-z_\-]{{35}}{_NA}", ("aiza",)),
    _rule("stripe_key",
          rf"{_NB}(?:(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{{10,247}}|whsec_[A-Za-z0-9]{{20,}}){_NA}",
          ("sk_live_", "sk_test_", "rk_live_", "rk_test_", "whsec_")),
    _rule("huggingface_token", rf"{_NB}(?:hf_|api_org_)[A-Za-z0-9]{{30,}}{_NA}",
          ("hf_", "api_org_")),
    _rule("npm_token", rf"{_NB}npm_[A-Za-z0-9]{{36}}{_NA}", ("npm_",)),
    _rule("pypi_token", rf"{_NB}pypi-AgE[A-Za-z0-9_\-]{{50,}}", ("pypi-",)),
    _rule("sendgrid_key", rf"{_NB}SG\.[A-Za-z0-9_\-]{{16,32}}\.[A-Za-z0-9_\-]{{30,64}}{_NA}",
          ("sg.",)),
    _rule("azure_storage_key",
          r"(?:AccountKey|SharedAccessKey)\s*=\s*(?P<v>[A-Za-z0-9+/]{20,}={0,2})",
          ("accountkey", "sharedaccesskey"), group="v", flags=_I),
    _rule("azure_sas_signature", r"(?:[?&;]|\b)sig=(?P<v>[A-Za-z0-9%+/=]{20,})",
          ("sig=",), group="v"),
    _rule("authorization",
          r"\b(?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?"
          r"(?:bearer|basic|token|digest|negotiate|ntlm|apikey|bot|hmac|aws4-hmac-sha256)\s+"
          r"(?P<v>[^\s\"'`][^\"'`\n]*)",
          ("authorization",), group="v", flags=_I, check=_not_placeholder),
    _rule("authorization",
          r"\b(?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?(?P<v>[A-Za-z0-9+/=._\-]{16,})",
          ("authorization",), group="v", flags=_I, check=_not_placeholder),
    _rule("bearer_token", r"\bbearer\s+(?P<v>[A-Za-z0-9\-._~+/]{16,}=*)", ("bearer",),
          group="v", flags=_I, check=_not_placeholder),
    _rule("url_password",
          r"\b[A-Za-z][A-Za-z0-9+.\-]{1,20}://[^\s:/@\"'<>]+:(?P<v>[^\s/@\"'<>]+)@",
          ("@",), group="v", check=_not_placeholder),
)

# Secrets found through the name they are assigned to. One keyword-anchored scan
# finds every `<name><sep>` whose name ends in a sensitive word; the value's form
# then decides what counts:
#   quoted anywhere      "password": "x"   api_key = 'x'   password="x"
#   unquoted, inline     PASSWORD=x ./run  ?token=x&       --api-key=x
#   unquoted, own line   password: x       export TOKEN=x  Api-Key: x   secret = x
#   a flag's argument    --password x
# Unquoted values that read as code (`api_key=api_key`, `token: Optional[str]`) stay.
_ASSIGN_HINTS = ("pass", "secret", "token", "key", "credential")
_ASSIGN = re.compile(
    rf"{_KW}(?![A-Za-z0-9_])(?P<kq>[\"']?)(?P<sep>[ \t]*(?:=>|:=|=|:)(?!=)[ \t]*|[ \t]+)",
    re.IGNORECASE,
)
_KEY_SET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
_INLINE_VALUE = re.compile(r"\$\{[^}\s]*\}|[^\s\"'`;&|,()\[\]{}<>]+")
_WORD_VALUE = re.compile(r"[^\s\"'`]+")
_LINE_REST = re.compile(r"[ \t]*(?:#.*)?$", re.MULTILINE)
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


def _assignment_value(text: str, match: re.Match[str], key_start: int) -> tuple[int, int] | None:
    """The span of the value assigned in `match`, if it should be redacted."""
    end = match.end()
    sep = match["sep"]
    if end >= len(text):
        return None
    first = text[end]
    if not sep.strip():  # `--password x`: only a flag takes its value after a space
        if not text.startswith("-", key_start) or first in "-\"'`":
            return None
        value = _WORD_VALUE.match(text, end)
        if value is None or _is_reference(value.group()):
            return None
        return value.span()
    if first in "\"'":
        close = _quoted_end(text, end + 1, first)
        if close < 0 or _is_placeholder(text[end + 1:close]):
            return None
        return end + 1, close
    if sep == "=":  # no spaces around it: env, shell, query string, flag
        value = _INLINE_VALUE.match(text, end)
    else:  # `password: x` or `secret = x`: only as a line of its own (YAML, .env, ini)
        line_start = text.rfind("\n", 0, key_start) + 1
        lead = _LINE_LEAD.match(text, line_start)
        if lead is None or lead.end() != key_start:
            return None
        value = _WORD_VALUE.match(text, end)
        if value is None or first == "#" or not _LINE_REST.match(text, value.end()):
            return None
    if value is None or _is_reference(value.group()):
        return None
    return value.span()


def _redact_assignments(text: str) -> str:
    pieces: list[str] = []
    done = 0
    low = text.lower()
    # Lower-casing keeps indices unless the text holds a letter like "İ".
    matches = _ASSIGN_LOWER.finditer(low) if len(low) == len(text) else _ASSIGN.finditer(text)
    for match in matches:
        key_start = match.start()
        if key_start < done:
            continue
        while key_start > 0 and text[key_start - 1] in _KEY_SET:
            key_start -= 1
        span = _assignment_value(text, match, key_start)
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


_HINTS = {h for rule in _RULES for h in rule.hints} | set(_ASSIGN_HINTS)
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
    for rule in _RULES:
        if not hits.isdisjoint(rule.hints):
            text = rule.apply(text)
    if not hits.isdisjoint(_ASSIGN_HINTS):
        text = _redact_assignments(text)
    return text


def may_hold_secret(text: str) -> bool:
    """Whether any rule could apply to `text` (or to more text continuing it)."""
    return _GATE.search(text.lower()) is not None


def redact_value(value: Any, name: str | None = None) -> Any:
    """Redact a JSON-like value: every string in it, and whole values by key name.

    Mappings keep their keys; a value stored under a sensitive key (`password`,
    `authorization`, `cookie`, `x-api-key`, ...) is replaced whole. Values that are
    not JSON types become strings first, so nothing escapes redaction through
    `str()` later.
    """
    kind = type(value)  # exact types first: this runs for every value of every event
    if kind is str:
        if name is not None and is_sensitive_name(name) and not _is_placeholder(value):
            return f"[REDACTED:{kind_for_name(name)}]"
        return redact(value)
    if kind is int or kind is bool or value is None:
        return value
    if kind is dict:
        return {k if type(k) is str else str(k): redact_value(v, str(k)) for k, v in value.items()}
    if kind is list:
        return [redact_value(v, name) for v in value]
    if isinstance(value, str):
        return redact_value(str(value), name)
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, Mapping):
        return {str(k): redact_value(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_value(v, name) for v in value]
    return redact_value(str(value), name)
