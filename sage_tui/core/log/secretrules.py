"""The provider rules: secrets with a recognisable shape, matched anywhere in a text.

The shapes follow gitleaks' rule set where a provider has a fixed prefix or structure
(its rule ids are named in `PROVIDERS` below); a shape that has neither (Discord bot
tokens, Okta, bare 40-character keys) is found only through the name it is assigned to.
A token right after an escape sequence (`\\n`, `\\t`, `\\"`, `\\\\`, `\\u00e9`) counts as
standing alone, so a secret inside a JSON-encoded string or a Python `repr` is found too.
"""

from __future__ import annotations

import base64
import binascii
import json
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


def _jwt_header(token: str) -> bool:
    """A JWT's first part decodes to a JSON object naming its algorithm or type."""
    head = token.split(".", 1)[0]
    try:
        data = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (binascii.Error, ValueError):
        return False
    return isinstance(data, dict) and ("alg" in data or "typ" in data)


def _rule(kind: str, pattern: str, hints: tuple[str, ...], group: int | str = 0,
          flags: int = 0, check: Callable[[str], bool] | None = None) -> Rule:
    return Rule(kind, re.compile(pattern, flags), hints, group, check)


def _not_placeholder(value: str) -> bool:
    return not is_placeholder(value)


# Not inside a longer token; an escape sequence before a token is a boundary, since in
# escaped text (`"loaded\\nghp_…"`) the letter before the token belongs to the escape.
NB = r"(?:(?<![A-Za-z0-9_\-])|(?<=\\[nrtbf\"'\\/])|(?<=\\u[0-9a-fA-F]{4}))"
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
          r"(?:(?<![A-Za-z0-9+])|(?<=\\[nrtbf\"'\\/])|(?<=\\u[0-9a-fA-F]{4}))"
          r"(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}(?![A-Za-z0-9+])",
          ("akia", "asia", "abia", "acca", "a3t"),
          check=lambda key: not key.endswith("EXAMPLE")),  # AWS's documented example
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
    _rule("jwt", rf"{NB}eyJ[A-Za-z0-9_\-]{{8,}}\.[A-Za-z0-9_\-]{{2,}}\.[A-Za-z0-9_\-]*",
          ("eyj",), check=_jwt_header),
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
    *(_rule(kind, rf"{NB}(?:{body}){NA}", hints, flags=flags) for kind, body, hints, flags in (
        # gitleaks rule ids in comments; each shape has a fixed prefix or structure
        ("digitalocean_token", r"do[opr]_v1_[a-f0-9]{64}", ("dop_v1_", "doo_v1_", "dor_v1_"),
         0),
        ("shopify_token", r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}",
         ("shpat_", "shpca_", "shppa_", "shpss_"), 0),
        ("linear_api_key", r"lin_api_[A-Za-z0-9]{40}", ("lin_api_",), 0),
        ("postman_api_token", r"PMAK-[a-f0-9]{24}-[a-f0-9]{34}", ("pmak-",), _I),
        ("pulumi_api_token", r"pul-[a-f0-9]{40}", ("pul-",), 0),
        ("planetscale_token", r"pscale_(?:tkn|pw|oauth)_[A-Za-z0-9=\-_.]{32,64}", ("pscale_",), 0),
        ("grafana_token", r"glc_[A-Za-z0-9+/]{32,400}={0,2}|glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}",
         ("glc_", "glsa_"), 0),
        ("new_relic_key", r"NRAK-[A-Z0-9]{27}|NRJS-[a-f0-9]{19}|NRII-[A-Za-z0-9_\-]{32}",
         ("nrak-", "nrjs-", "nrii-"), 0),
        ("sentry_token", r"sntrys_eyJ[A-Za-z0-9+/=_\-]{50,}|sntryu_[a-f0-9]{64}",
         ("sntrys_", "sntryu_"), 0),
        ("databricks_token", r"dapi[a-f0-9]{32}(?:-\d)?", ("dapi",), 0),
        ("mailgun_key", r"key-[a-f0-9]{32}", ("key-",), 0),
        ("mailchimp_key", r"[0-9a-f]{32}-us\d{1,2}", ("-us",), 0),
        ("twilio_api_key", r"SK[0-9a-fA-F]{32}", ("sk",), 0),
        ("telegram_bot_token", r"\d{8,10}:AA[0-9A-Za-z_\-]{33}", (":aa",), 0),
        ("vault_token", r"hvs\.[A-Za-z0-9_\-]{90,}|hvb\.[A-Za-z0-9_\-]{138,}", ("hvs.", "hvb."), 0),
        ("terraform_token", r"[a-z0-9]{14}\.atlasv1\.[a-z0-9\-_=]{60,70}", (".atlasv1.",), 0),
        ("age_secret_key", r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}",
         ("age-secret-key-1",), 0),
        ("square_token", r"(?:sq0atp|sq0csp)-[A-Za-z0-9_\-]{22,60}|EAAA[A-Za-z0-9_\-]{60}",
         ("sq0atp-", "sq0csp-", "eaaa"), 0),
        ("heroku_api_key", r"HRKU-AA[0-9A-Za-z_\-]{58}", ("hrku-",), 0),
        ("rubygems_token", r"rubygems_[a-f0-9]{48}", ("rubygems_",), 0),
        ("clojars_token", r"CLOJARS_[a-z0-9]{60}", ("clojars_",), _I),
        ("flyio_token", r"fo1_[\w\-]{43}|fm[12][ar]?_[A-Za-z0-9+/]{100,}={0,3}",
         ("fo1_", "fm1", "fm2"), 0),
        ("tailscale_key", r"tskey-[a-z]+-[A-Za-z0-9]{6,}-[A-Za-z0-9]{20,}", ("tskey-",), 0),
        ("dynatrace_token", r"dt0c01\.[A-Z0-9]{24}\.[A-Z0-9]{64}", ("dt0c01.",), 0),
        ("easypost_token", r"EZ[AT]K[a-zA-Z0-9]{54}", ("ezak", "eztk"), 0),
        ("flutterwave_key", r"FLW(?:SECK|PUBK)_TEST-[a-h0-9]{32}-X", ("flwseck_", "flwpubk_"), 0),
        ("prefect_token", r"pnu_[a-zA-Z0-9]{36}", ("pnu_",), 0),
        ("readme_token", r"rdme_[a-z0-9]{70}", ("rdme_",), 0),
        ("sendinblue_key", r"xkeysib-[a-f0-9]{64}-[A-Za-z0-9]{16}", ("xkeysib-",), 0),
        ("shippo_token", r"shippo_(?:live|test)_[a-fA-F0-9]{40}", ("shippo_",), 0),
        ("typeform_token", r"tfp_[a-zA-Z0-9\-_.=]{59}", ("tfp_",), 0),
        ("doppler_token", r"dp\.pt\.[a-zA-Z0-9]{43}", ("dp.pt.",), 0),
        ("frameio_token", r"fio-u-[a-zA-Z0-9\-_=]{64}", ("fio-u-",), 0),
        ("artifactory_key", r"AKCp[A-Za-z0-9]{69}", ("akcp",), 0),
        ("azure_client_secret", r"[a-zA-Z0-9_~.]{3}\dQ~[a-zA-Z0-9_~.\-]{31,34}", ("q~",), 0),
        ("gcp_client_secret", r"GOCSPX-[A-Za-z0-9_\-]{28}", ("gocspx-",), 0),
        ("facebook_token", r"EAA[MC][a-zA-Z0-9]{100,}", ("eaam", "eaac"), 0),
        ("groq_api_key", r"gsk_[A-Za-z0-9]{52}", ("gsk_",), 0),
        ("replicate_token", r"r8_[A-Za-z0-9]{37}", ("r8_",), 0),
        ("perplexity_key", r"pplx-[a-f0-9]{48}", ("pplx-",), 0),
        ("xai_api_key", r"xai-[A-Za-z0-9]{80}", ("xai-",), 0),
        ("langsmith_key", r"lsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}", ("lsv2_",), 0),
        ("langfuse_key", r"sk-lf-[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}",
         ("sk-lf-",), 0),
        ("pinecone_key", r"pcsk_[A-Za-z0-9_]{50,}", ("pcsk_",), 0),
        ("cloudflare_ca_key", r"v1\.0-[a-f0-9]{24}-[a-f0-9]{146}", ("v1.0-",), 0),
    )),
    _rule("url_password",
          r"\b[A-Za-z][A-Za-z0-9+.\-]{1,20}://[^\s:/@\"'<>]*:(?P<v>[^\s/@\"'<>\\]+)@",
          ("@",), group="v", check=lambda v: v in ("pass", "password") or _not_placeholder(v)),
    _rule("npm_token",  # .npmrc: `//registry.npmjs.org/:_authToken=...`, `_password=...`
          r"(?:^|[:\s])_(?:authToken|auth|password)[ \t]*=[ \t]*(?P<v>[^\s\"'#;]+)",
          ("_auth", "_password"), group="v", flags=re.MULTILINE, check=_not_placeholder),
    _rule("secret",  # XML: <password>...</password>, <apiKey>...</apiKey>
          r"<(?P<n>[A-Za-z_:.\-]*(?:password|passwd|secret|token|api[_-]?key|apikey))>"
          r"(?P<v>[^<\s][^<]*)</(?P=n)>",
          ("pass", "secret", "token", "key"), group="v", flags=_I, check=_not_placeholder),
)
