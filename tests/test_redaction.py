"""Redaction: every planted fake secret disappears in every context; nothing else changes.

Fake secrets are assembled at test time from pieces (no literal token is committed),
with a seeded random generator so failures reproduce.
"""

from __future__ import annotations

import base64
import json
import random
import string
import uuid

import pytest

from sage_tui.core.log.redaction import redact, redact_value
from sage_tui.core.log.sessionlog import SessionLog
from tests.helpers import sessions_dir

RNG = random.Random(20261121)
ALNUM = string.ascii_letters + string.digits
UPPER = string.ascii_uppercase + string.digits
B64 = string.ascii_letters + string.digits + "+/"


def rand(n: int, alphabet: str = ALNUM) -> str:
    return "".join(RNG.choice(alphabet) for _ in range(n))


def b64url(obj: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


# (kind, secret): recognisable by shape alone, so any context must lose them.
SHAPED: list[tuple[str, str]] = [
    ("aws_access_key_id", "AK" + "IA" + rand(16, UPPER)),
    ("aws_access_key_id", "AS" + "IA" + rand(16, UPPER)),
    *[("github_token", p + "_" + rand(36)) for p in ("ghp", "gho", "ghu", "ghs", "ghr")],
    ("github_token", "github" + "_pat_" + rand(22) + "_" + rand(59)),
    ("gitlab_token", "gl" + "pat-" + rand(20, ALNUM + "_-")),
    ("gitlab_token", "gl" + "dt-" + rand(24)),
    ("slack_token", "xo" + "xb-" + rand(12, string.digits) + "-" + rand(13, string.digits)
     + "-" + rand(24)),
    ("slack_token", "xo" + "xp-" + rand(12, string.digits) + "-" + rand(32)),
    ("slack_webhook", "https://hooks.slack" + ".com/services/T" + rand(8, UPPER) + "/B"
     + rand(8, UPPER) + "/" + rand(24)),
    ("jwt", b64url({"alg": "HS256", "typ": "JWT"}) + "." + b64url({"sub": "42", "name": "x"})
     + "." + rand(43, ALNUM + "_-")),
    ("openai_key", "sk-" + "proj-" + rand(48, ALNUM + "_-")),
    ("openai_key", "sk-" + rand(20) + "T3Blbk" + "FJ" + rand(20)),
    ("anthropic_key", "sk-" + "ant-api03-" + rand(93, ALNUM + "_-")),
    ("google_api_key", "AI" + "za" + rand(35, ALNUM + "_-")),
    ("stripe_key", "sk" + "_live_" + rand(24)),
    ("stripe_key", "sk" + "_test_" + rand(24)),
    ("stripe_key", "rk" + "_live_" + rand(24)),
    ("huggingface_token", "hf" + "_" + rand(34)),
    ("npm_token", "npm" + "_" + rand(36)),
    ("pypi_token", "py" + "pi-AgE" + rand(70, ALNUM + "_-")),
    ("sendgrid_key", "SG" + "." + rand(22, ALNUM + "_-") + "." + rand(43, ALNUM + "_-")),
]

CONTEXTS: list[str] = [
    '{{"value": "{s}", "note": "x"}}',               # JSON
    "config:\n  value: {s}\n  other: 1\n",            # YAML
    'VALUE="{s}"\n',                                  # .env
    "export VALUE={s}\n",                             # shell
    'client = Client(value="{s}")\n',                 # Python
    "https://example.test/cb?code={s}&state=1",       # URL query
    "2026-11-21 10:00:00 INFO using {s} for the upload\n",  # log line
    "{s}",                                            # bare
    "curl -H 'X-Thing: {s}' https://example.test",    # command line
]

PEM = (
    "-----BEGIN " + "RSA PRIVATE KEY-----\n"
    + "\n".join(rand(64, B64) for _ in range(8)) + "\n" + rand(20, B64) + "==\n"
    + "-----END " + "RSA PRIVATE KEY-----"
)
OPENSSH = (
    "-----BEGIN " + "OPENSSH PRIVATE KEY-----\n"
    + "\n".join(rand(70, B64) for _ in range(5)) + "\n-----END " + "OPENSSH PRIVATE KEY-----\n"
)
AWS_SECRET = rand(40, B64)
AZURE_KEY = rand(86, B64) + "=="
PASSWORD = "S3cr" + "et-" + rand(10)
BASIC = base64.b64encode(b"admin:" + rand(12).encode()).decode()
BEARER = rand(40, ALNUM + "-._")

# Secrets that are secrets because of where they stand: (secret, texts containing it).
CONTEXTUAL: list[tuple[str, list[str]]] = [
    (PEM, [PEM, f"key = '''{PEM}'''", json.dumps({"key": PEM}), f"  private: |\n    {PEM}"]),
    (OPENSSH.strip(), [OPENSSH]),
    (AWS_SECRET, [
        f"aws_secret_access_key = {AWS_SECRET}",
        f'{{"AWS_SECRET_ACCESS_KEY": "{AWS_SECRET}"}}',
        f"export AWS_SECRET_ACCESS_KEY={AWS_SECRET}",
        f"aws_secret_key: '{AWS_SECRET}'",
    ]),
    (AZURE_KEY, [
        f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={AZURE_KEY};"
        "EndpointSuffix=core.windows.net",
        f'{{"conn": "Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=r;'
        f'SharedAccessKey={AZURE_KEY}"}}',
    ]),
    (BASIC, [f"Authorization: Basic {BASIC}", f'{{"Authorization": "Basic {BASIC}"}}',
             f"curl -H 'authorization: basic {BASIC}' https://example.test"]),
    (BEARER, [f"Authorization: Bearer {BEARER}", f"headers = {{'Authorization': 'Bearer {BEARER}'}}",
              f"sent bearer {BEARER} upstream", f"Proxy-Authorization: Bearer {BEARER}"]),
    (PASSWORD, [
        f"postgres://app:{PASSWORD}@db.internal:5432/app",
        f"https://deploy:{PASSWORD}@git.example.test/repo.git",
        f'{{"password": "{PASSWORD}"}}',
        f"db:\n  password: {PASSWORD}\n",
        f'DB_PASSWORD="{PASSWORD}"\n',
        f"export DB_PASSWORD={PASSWORD}\n",
        f"DB_PASSWORD={PASSWORD} ./manage.py migrate",
        f"password = '{PASSWORD}'",
        f'self.client_secret = "{PASSWORD}"',
        f"api_key: '{PASSWORD}'",
        f"SECRET_KEY = '{PASSWORD}'",
        f"mysql --password {PASSWORD} -u root",
        f"tool --api-key={PASSWORD} run",
        f"X-Api-Key: {PASSWORD}",
        f"config = {{'auth_token': '{PASSWORD}'}}",
        f"secret = {PASSWORD}  # for staging",
        f"  - credentials: {PASSWORD}",
        f"$token = '{PASSWORD}';",
        f"Password := \"{PASSWORD}\"",
    ]),
]

NEGATIVES: list[str] = [
    "commit " + "".join(RNG.choice("0123456789abcdef") for _ in range(40)),
    "digest: sha256:" + "".join(RNG.choice("0123456789abcdef") for _ in range(64)),
    '{"model": "qwen2.5-coder:7b", "digest": "sha256:'
    + "".join(RNG.choice("0123456789abcdef") for _ in range(64)) + '"}',
    f"request {uuid.UUID(int=RNG.getrandbits(128))} finished",
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAA" + rand(3000, B64) + "==",
    '"integrity": "sha512-' + rand(86, B64) + '=="',
    "api_key = ${API_KEY}\npassword: ${DB_PASSWORD}\ntoken: '{{ vault_token }}'",
    'token = os.environ["GITHUB_TOKEN"]\napi_key = os.getenv("OPENAI_API_KEY")',
    "const apiKey = process.env.API_KEY;",
    "password: <your-password>\napi_key: '<api-key>'\nsecret: '********'",
    'headers = {"Authorization": f"Bearer {token}"}',
    'headers["Authorization"] = "Bearer " + token',
    "def login(user: str, password: str, token: Optional[str] = None) -> Session:",
    "client = Client(api_key=api_key, token=token, secret=settings.secret)",
    "max_tokens: 512\ntoken_type: bearer\nsecret_name: prod/db\npassword_hash: bcrypt",
    "if token == expected_token:\n    return True",
    "tokens = tokenizer.encode(text)\nnum_tokens = len(tokens)",
    'Password: os.Getenv("DB_PASSWORD"),',
    "read -s password\nexport PASSWORD",
    "The bearer of this letter is trusted.",
    "see https://docs.example.test/auth#tokens and user@example.test",
    "https://user@example.test/repo.git",
    "skip-worktree sk-learn task-runner",
    "for key, value in mapping.items():\n    secret = value",
]


def test_every_shaped_secret_is_redacted_in_every_context() -> None:
    for kind, secret in SHAPED:
        for context in CONTEXTS:
            text = context.format(s=secret)
            out = redact(text)
            assert secret not in out, (kind, context, out)
            assert "[REDACTED:" in out, (kind, context)


def test_shaped_secrets_name_their_kind() -> None:
    for kind, secret in SHAPED:
        assert redact(f"value is {secret} here") == f"value is [REDACTED:{kind}] here"


@pytest.mark.parametrize("secret,texts", CONTEXTUAL, ids=lambda v: str(v)[:12])
def test_contextual_secrets_are_redacted(secret: str, texts: list[str]) -> None:
    for text in texts:
        out = redact(text)
        assert secret not in out, out
        assert "[REDACTED:" in out


def test_url_credentials_keep_user_and_host() -> None:
    out = redact(f"postgres://app:{PASSWORD}@db.internal:5432/app")
    assert out == "postgres://app:[REDACTED:url_password]@db.internal:5432/app"


def test_assignment_keeps_the_name_and_quotes() -> None:
    assert redact(f'DB_PASSWORD="{PASSWORD}"') == 'DB_PASSWORD="[REDACTED:password]"'
    assert redact(f"api_key: '{PASSWORD}'") == "api_key: '[REDACTED:api_key]'"
    assert redact(f"X-Auth-Token: {PASSWORD}") == "X-Auth-Token: [REDACTED:token]"


@pytest.mark.parametrize("text", NEGATIVES, ids=range(len(NEGATIVES)))
def test_negatives_are_byte_identical(text: str) -> None:
    assert redact(text) == text


def test_redaction_is_idempotent() -> None:
    samples = [c.format(s=s) for _, s in SHAPED for c in CONTEXTS]
    samples += [t for _, texts in CONTEXTUAL for t in texts] + NEGATIVES
    for text in samples:
        once = redact(text)
        assert redact(once) == once, text


def test_random_text_is_idempotent_and_never_grows_secrets() -> None:
    rng = random.Random(7)
    alphabet = string.printable + "ÄéİЖ€"
    # Planted secrets stand apart from their neighbours (a space, quote or newline), as
    # they do in real text; glued into a longer run of letters they are not tokens.
    pieces = [s for _, s in SHAPED] + ["password=", "token: ", "Bearer ", "://u:", "@", "\n"]
    seps = " \n\"'=:,"
    for _ in range(300):
        text = "".join(rng.choice(seps) + rng.choice(pieces) + rng.choice(seps)
                       if rng.random() < 0.1 else rng.choice(alphabet)
                       for _ in range(rng.randint(0, 300)))
        once = redact(text)
        assert redact(once) == once
        for _, secret in SHAPED:
            assert secret not in once


def test_redact_value_by_key_name_and_nested() -> None:
    data = {
        "headers": {"Authorization": "Digest abc", "Cookie": "session=abc123", "x-api-key": "k1",
                    "Accept": "text/html"},
        "password": "hunter2",
        "db_password": "hunter2",
        "token_count": 12,
        "max_tokens": "512",
        "items": [f"use {SHAPED[2][1]}", {"client_secret": "abc"}],
        "placeholder": {"password": "${DB_PASSWORD}"},
    }
    out = redact_value(data)
    assert out["headers"] == {"Authorization": "[REDACTED:authorization]",
                              "Cookie": "[REDACTED:cookie]", "x-api-key": "[REDACTED:api_key]",
                              "Accept": "text/html"}
    assert out["password"] == out["db_password"] == "[REDACTED:password]"
    assert out["token_count"] == 12 and out["max_tokens"] == "512"
    assert out["items"] == ["use [REDACTED:github_token]", {"client_secret": "[REDACTED:secret]"}]
    assert out["placeholder"] == {"password": "${DB_PASSWORD}"}
    assert redact_value(out) == out


def test_redact_value_converts_non_json_values() -> None:
    class Odd:
        def __str__(self) -> str:
            return f"token={PASSWORD}"

    assert redact_value({"x": Odd(), "f": float("nan"), "t": (1, 2)}) == {
        "x": "token=[REDACTED:token]", "f": None, "t": [1, 2]}


def test_secrets_never_reach_the_session_log_file(sage_home: object) -> None:
    texts = [c.format(s=s) for _, s in SHAPED for c in CONTEXTS]
    texts += [t for _, ts in CONTEXTUAL for t in ts]
    with SessionLog.open(sessions_dir(), session_id="redaction") as log:
        for i, text in enumerate(texts):
            log.emit("TOOL_RESULT", {"tool": "run_command", "call_id": f"c{i}", "ok": True,
                                     "summary": text, "ms": 1.0,
                                     "args": {"env": {"API_TOKEN": PASSWORD}}})
        for text in NEGATIVES:
            log.emit("ASSISTANT_MESSAGE", {"text": text, "role": "coder"})
        raw = log.path.read_bytes()
    for _, secret in SHAPED:
        assert secret.encode() not in raw
    for secret, _ in CONTEXTUAL:
        assert secret.encode() not in raw
        assert json.dumps(secret)[1:-1].encode() not in raw  # nor its JSON-escaped form
    records = [json.loads(line) for line in raw.splitlines()]
    negatives_back = [r["data"]["text"] for r in records if r["event"] == "ASSISTANT_MESSAGE"]
    assert negatives_back == NEGATIVES
