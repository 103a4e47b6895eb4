"""The provider rules: secrets with a recognisable shape, matched anywhere in a text."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from sage_tui.core.log.secretnames import MARK, is_placeholder


@dataclass(frozen=True)
class Rule:
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
          flags: int = 0, check: Callable[[str], bool] | None = None) -> Rule:
    return Rule(kind, re.compile(pattern, flags), hints, group, check)


def _not_placeholder(value: str) -> bool:
    return not is_placeholder(value)


NB = r"(?<![A-Za-z0-9_\-])"  # not inside a longer token
NA = r"(?![A-Za-z0-9_\-])"
_I = re.IGNORECASE

RULES: tuple[Rule, ...] = (
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
          rf"{NB}(?:gh[pousr]_[A-Za-z0-9]{{36,255}}|github_pat_[A-Za-z0-9_]{{50,255}}){NA}",
          ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_")),
    _rule("gitlab_token",
          rf"{NB}(?:(?:glpat|gldt|glrt|glcbt|glptt|glft|glimt|glagent|gloas|glsoat|glffct"
          rf"|glwt)-[A-Za-z0-9_\-]{{20,}}|GR1348941[A-Za-z0-9_\-]{{20,}})",
          ("glpat-", "gldt-", "glrt-", "glcbt-", "glptt-", "glft-", "glimt-", "glagent-",
           "gloas-", "glsoat-", "glffct-", "glwt-", "gr1348941")),
    _rule("slack_token",
          rf"{NB}(?:xox[abposre](?:\.xox[bp])?-[A-Za-z0-9\-]{{10,}}|xapp-\d-[A-Za-z0-9\-]{{10,}})",
          ("xox", "xapp-")),
    _rule("jwt", rf"{NB}eyJ[A-Za-z0-9_\-]{{8,}}\.eyJ[A-Za-z0-9_\-]{{8,}}\.[A-Za-z0-9_\-]*",
          ("eyj",)),
    _rule("anthropic_key", rf"{NB}sk-ant-[A-Za-z0-9_\-]{{20,}}", ("sk-ant-",)),
    _rule("openai_key",
          rf"{NB}(?:sk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_\-]{{20,}}"
          rf"|sk-[A-Za-z0-9]{{20,}}T3BlbkFJ[A-Za-z0-9]{{20,}}|sk-[A-Za-z0-9]{{32,}}{NA})",
          ("sk-",)),
    _rule("google_api_key", rf"{NB}AIza[0-9A-Za-z_\-]{{35}}{NA}", ("aiza",)),
    _rule("stripe_key",
          rf"{NB}(?:(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{{10,247}}|whsec_[A-Za-z0-9]{{20,}}){NA}",
          ("sk_live_", "sk_test_", "rk_live_", "rk_test_", "whsec_")),
    _rule("huggingface_token", rf"{NB}(?:hf_|api_org_)[A-Za-z0-9]{{30,}}{NA}",
          ("hf_", "api_org_")),
    _rule("npm_token", rf"{NB}npm_[A-Za-z0-9]{{36}}{NA}", ("npm_",)),
    _rule("pypi_token", rf"{NB}pypi-AgE[A-Za-z0-9_\-]{{50,}}", ("pypi-",)),
    _rule("sendgrid_key", rf"{NB}SG\.[A-Za-z0-9_\-]{{16,32}}\.[A-Za-z0-9_\-]{{30,64}}{NA}",
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
