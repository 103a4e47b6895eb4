"""Names that hold secrets, and values that only name one (placeholders, references).

Used by the redactor's assignment scan and by `redact_value` for dict keys.
"""

from __future__ import annotations

import functools
import re

MARK = "[REDACTED:"

# A name that holds a secret ends with one of these words (case-insensitive):
# `DB_PASSWORD`, `apiKey`, `client_secret`, `GITHUB_TOKEN`, `x-api-key`. Names that
# merely start with one (`token_type`, `max_tokens`, `secret_name`) do not count.
KEYWORDS = (
    r"(?:pass(?:word|wd|phrase)|secret(?:[_-]?(?:key|access[_-]?key))?|token"
    r"|api[_-]?key|apikey|access[_-]?key|auth[_-]?key|private[_-]?key|credentials?"
    r"|(?<![A-Za-z])(?:pass|pwd|pw))"  # db_pass, cloudant_pw, softlayer-pwd; not bypass
)
_KEY_CHARS = r"[A-Za-z0-9_.\-]"
_SENSITIVE_NAME = re.compile(rf"{_KEY_CHARS}*{KEYWORDS}", re.IGNORECASE)
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
_CODE_LIKE = re.compile(r"[A-Za-z_][\w.:]*\s*(?:\[|\(|<|\|\s*[A-Za-z_]|=\s)")  # Option<T>


def is_placeholder(value: str) -> bool:
    stripped = value.strip()
    return (
        not stripped
        or MARK in stripped
        or bool(_PLACEHOLDER.match(stripped))
        or bool(_REFERENCE.search(stripped))
    )


def is_reference(value: str) -> bool:
    """An unquoted value that is code (`api_key=api_key`, `token: Optional[str]`)."""
    return (
        is_placeholder(value)
        or bool(_IDENTIFIER.fullmatch(value))
        or bool(_CODE_LIKE.match(value))
    )


@functools.lru_cache(maxsize=4096)
def kind_for_name(name: str) -> str:
    """The `[REDACTED:<kind>]` label for a secret found through its name."""
    low = name.lower()
    if "pass" in low or "pwd" in low or low.endswith("pw"):
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
