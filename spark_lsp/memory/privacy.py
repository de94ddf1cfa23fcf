"""Secrets redaction: applied before code is stored in a trace or leaves the machine.

Two passes over the text:
1. Spark's own patterns, for what has a recognisable shape — private-key blocks, tokens of
   known services, credentials in URLs and connection strings, secret-named assignments,
   e-mail addresses, home-directory paths, long high-entropy strings.
2. `detect-secrets` (Yelp's maintained detector, all plugins, default filters) over every line
   that could still hold a secret; each value it reports is widened to the whole token around
   it (some plugins report only a prefix, e.g. `ghp` of a GitHub token).

Each secret becomes `<redacted:KIND>`; a home path becomes `~`. Redaction favours recall: a
trace window that loses a variable name to over-redaction is a small price for never storing
a credential. Pure functions of the text; safe to call from any thread.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections import Counter
from collections.abc import Callable
from functools import lru_cache
from typing import Any

log = logging.getLogger(__name__)

PLACEHOLDER = "<redacted:{}>"
_SECRET_WORDS = (r"pass(?:word|wd|phrase)?|pwd|secret|token|api[_-]?key|apikey|access[_-]?key"
                 r"|private[_-]?key|client[_-]?secret|credentials?|auth(?:orization)?"
                 r"|account[_-]?key|shared[_-]?access[_-]?key|signature|session[_-]?key")


def _sub(kind: str) -> str:
    return PLACEHOLDER.format(kind)


# (kind, pattern, group to replace: 0 = the whole match)
_TOKEN_PATTERNS: list[tuple[str, str, int]] = [
    ("aws-access-key", r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA)[A-Z0-9]{16}\b", 0),
    ("github-token", r"\b(?:gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{22,255})", 0),
    ("gitlab-token", r"\bglpat-[A-Za-z0-9_\-]{20,}", 0),
    ("slack-token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}", 0),
    ("slack-webhook", r"https://hooks\.slack\.com/services/[A-Za-z0-9/_\-]+", 0),
    ("discord-webhook", r"https://(?:canary\.|ptb\.)?discord(?:app)?\.com/api/webhooks/[\w/\-]+", 0),
    ("stripe-key", r"\b(?:[rsp]k|whsec)_(?:live|test)_[A-Za-z0-9]{10,}", 0),
    ("stripe-key", r"\bwhsec_[A-Za-z0-9]{20,}", 0),
    ("openai-key", r"\bsk-(?:proj-|svcacct-|admin-|ant-(?:api\d+-)?)?[A-Za-z0-9_\-]{20,}", 0),
    ("google-api-key", r"\bAIza[0-9A-Za-z_\-]{35}", 0),
    ("google-oauth", r"\bya29\.[0-9A-Za-z_\-]{20,}", 0),
    ("google-client-secret", r"\bGOCSPX-[0-9A-Za-z_\-]{20,}", 0),
    ("huggingface-token", r"\bhf_[A-Za-z0-9]{30,}", 0),
    ("jwt", r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.?[A-Za-z0-9_\-]*", 0),
    ("npm-token", r"\bnpm_[A-Za-z0-9]{36}", 0),
    ("pypi-token", r"\bpypi-[A-Za-z0-9_\-]{40,}", 0),
    ("sendgrid-key", r"\bSG\.[\w\-]{16,}\.[\w\-]{16,}", 0),
    ("twilio-key", r"\b(?:AC|SK)[0-9a-fA-F]{32}\b", 0),
    ("mailgun-key", r"\bkey-[0-9a-zA-Z]{32}\b", 0),
    ("mailchimp-key", r"\b[0-9a-f]{32}-us\d{1,2}\b", 0),
    ("square-token", r"\bsq0(?:atp|csp|idp)-[0-9A-Za-z_\-]{22,}", 0),
    ("shopify-token", r"\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}\b", 0),
    ("databricks-token", r"\bdapi[0-9a-f]{32}(?:-\d)?\b", 0),
    ("digitalocean-token", r"\bdo[opr]_v1_[a-f0-9]{64}\b", 0),
    ("telegram-token", r"\b\d{8,10}:AA[A-Za-z0-9_\-]{33}\b", 0),
    ("azure-sas", r"(?i)\bsig=[A-Za-z0-9%+/=]{20,}", 0),
    ("bearer-token", r"(?i)\b(?:bearer|token)\s+([A-Za-z0-9_\-.=+/~]{12,})", 1),
    ("basic-auth", r"(?i)\bbasic\s+([A-Za-z0-9+/=]{12,})", 1),
    ("url-secret", (r"(?i)[?&](?:access_token|token|api_?key|key|sig|signature|password|secret"
                   r"|client_secret|auth)=([^&\s'\"#]+)"), 1),
]
_TOKENS = [(kind, re.compile(p), g) for kind, p, g in _TOKEN_PATTERNS]

_PRIVATE_KEY = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY"
    r"(?: BLOCK)?-----|\Z)", re.DOTALL)
# A window may start inside a key block: its base64 body lines and its END line.
_PRIVATE_KEY_TAIL = re.compile(r"\A(?:[ \t]*[A-Za-z0-9+/=]{16,}[ \t]*\r?\n)*[ \t]*"
                               r"-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")
_URL_CREDENTIALS = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.\-]*://)([^\s/@'\"]*:[^\s/@'\"]*)@")
_ASSIGNMENT = re.compile(
    r"(?i)(?P<key>[\w.\-]*(?:" + _SECRET_WORDS + r")[\w.\-]*)(?P<q1>[\"']?)"
    r"(?P<sep>\s*(?::|=|=>|:=)\s*)"
    r"(?:(?P<q>[\"'])(?P<quoted>[^\"'\n]{3,})(?P=q)|(?P<bare>[^\"'\s,;)}\]\n]{3,}))")
_FLAG = re.compile(r"(?i)(--?(?:password|passwd|pwd|token|api[-_]?key|secret)[ =])([^\s'\"]+)")
_NETRC = re.compile(r"(?i)\b(machine\s+\S+\s+login\s+\S+\s+password\s+)([^\s'\"]+)")
_EMAIL = re.compile(r"(?<![\w.%+\-])[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*"
                    r"\.[A-Za-z]{2,24}\b")
_HOME = re.compile(r"(?:/home|/Users)/[^/\s'\"`]+|(?i:\b[A-Z]:[\\/]+Users[\\/]+[^\\/\s'\"`]+)")
_ENTROPY_CANDIDATE = re.compile(r"[A-Za-z0-9+/=_\-]{24,}")
_HEX = re.compile(r"[0-9a-fA-F]{32,}")
_IDENTIFIER_VALUE = re.compile(r"(?:None|True|False|null|true|false|self|cls)$|"
                               r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+$|\d{1,11}$|\$\$?\$?[A-Z_]\w*$")
_REDACTED = re.compile(r"<redacted:[a-z0-9\-]+>")
_MAYBE_SECRET = re.compile(r"[A-Za-z0-9+/=_\-]{8,}|(?i:" + _SECRET_WORDS + r")")
_TOKEN_CHARS = re.compile(r"[^\s'\"`,;()\[\]{}<>]+")


def shannon_entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _looks_random(token: str) -> bool:
    """A long token with the character mix and entropy of a key rather than of a name."""
    if _REDACTED.fullmatch(token) or token.startswith("$"):
        return False
    if _HEX.fullmatch(token):
        return shannon_entropy(token) >= 3.0
    classes = sum(bool(re.search(p, token)) for p in ("[a-z]", "[A-Z]", "[0-9]"))
    return classes >= 3 and shannon_entropy(token) >= 3.7


def _assignment(m: re.Match[str]) -> str:
    group = "quoted" if m.group("quoted") is not None else "bare"
    value = m.group(group)
    if _REDACTED.match(value) or value.lower() in ("bearer", "basic", "token"):
        return m.group(0)
    if group == "bare" and (_IDENTIFIER_VALUE.match(value) or "(" in value or "[" in value):
        return m.group(0)  # code (`password = args.password`, `token = None`), not a value
    kind = "password" if re.search(r"(?i)pass|pwd", m.group("key")) else "secret"
    whole = m.group(0)
    return (whole[: m.start(group) - m.start(0)] + _sub(kind)
            + whole[m.end(group) - m.start(0):])


def _group_replacer(kind: str, group: int) -> Callable[[re.Match[str]], str]:
    def replace(m: re.Match[str]) -> str:
        whole = m.group(0)
        return (whole[: m.start(group) - m.start(0)] + _sub(kind)
                + whole[m.end(group) - m.start(0):])
    return replace


def _own_patterns(text: str) -> str:
    text = _PRIVATE_KEY.sub(_sub("private-key"), text)
    text = _PRIVATE_KEY_TAIL.sub(_sub("private-key"), text)
    text = _URL_CREDENTIALS.sub(lambda m: m.group(1) + _sub("userinfo") + "@", text)
    for kind, pattern, group in _TOKENS:
        if group == 0:
            text = pattern.sub(_sub(kind), text)
        else:
            text = pattern.sub(_group_replacer(kind, group), text)
    text = _NETRC.sub(lambda m: m.group(1) + _sub("password"), text)
    text = _FLAG.sub(lambda m: m.group(1) + _sub("secret"), text)
    text = _ASSIGNMENT.sub(_assignment, text)
    text = _EMAIL.sub(_sub("email"), text)
    text = _HOME.sub("~", text)
    return _ENTROPY_CANDIDATE.sub(
        lambda m: _sub("high-entropy") if _looks_random(m.group(0)) else m.group(0), text)


# -- detect-secrets --------------------------------------------------------------------------

_DS_LOCK = threading.Lock()
_ds_scan: Callable[[list[tuple[int, str]]], list[tuple[int, str]]] | None = None
_ds_failed = False


def _detect_secrets() -> Callable[[list[tuple[int, str]]], list[tuple[int, str]]] | None:
    """A scanner over numbered lines -> (line number, secret value); None if unavailable.

    detect-secrets keeps its settings in a global: they are set once, and scans are serialized.
    """
    global _ds_scan, _ds_failed
    if _ds_scan is not None or _ds_failed:
        return _ds_scan
    try:
        from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
        from detect_secrets.core.scan import _process_line_based_plugins
        from detect_secrets.settings import configure_settings_from_baseline
    except ImportError as exc:  # pragma: no cover - a declared dependency
        log.warning("detect-secrets is not available (%s); only Spark's own patterns redact", exc)
        _ds_failed = True
        return None
    plugins = get_mapping_from_secret_type_to_class().values()
    configure_settings_from_baseline({"plugins_used": [{"name": p.__name__} for p in plugins]})

    def scan(lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
        found = _process_line_based_plugins(lines, "snippet.py")
        return [(s.line_number, s.secret_value) for s in found if s.secret_value]

    _ds_scan = scan
    return scan


def _placeholders(line: str) -> list[tuple[int, int]]:
    return [m.span() for m in _REDACTED.finditer(line)]


@lru_cache(maxsize=4096)
def _redact_line_with_detector(line: str) -> str:
    with _DS_LOCK:
        scan = _detect_secrets()
        if scan is None:
            return line
        try:
            found = [value for _, value in scan([(1, line)])]
        except Exception:  # a detector bug must not lose the trace; own patterns still applied
            log.warning("detect-secrets failed on a line; keeping Spark's own redaction",
                        exc_info=True)
            return line
    for value in sorted(set(found), key=len, reverse=True):
        if _REDACTED.search(value) or value.startswith("$"):
            continue
        start = line.find(value)
        while start != -1:
            inside = next((e for s, e in _placeholders(line) if s < start + len(value)
                           and start < e), None)
            if inside is not None:  # part of a placeholder put there by the first pass
                start = line.find(value, inside)
                continue
            # widen to the token around the reported value (plugins may report a prefix)
            left = start
            while left > 0 and _TOKEN_CHARS.fullmatch(line[left - 1]):
                left -= 1
            right = start + len(value)
            while right < len(line) and _TOKEN_CHARS.fullmatch(line[right]):
                right += 1
            token = line[left:right]
            if _REDACTED.search(token):
                break
            # never the `key=` part of `key=value`: keep what precedes '=' or ':'
            cut = max(token.rfind("=", 0, start - left), token.rfind(":", 0, start - left))
            if cut != -1:
                left += cut + 1
            line = line[:left] + _sub("secret") + line[right:]
            start = line.find(value, left + len(_sub("secret")))
    return line


def warm_up_in_background() -> None:
    """Load detect-secrets (~0.5 s of imports) in a thread, so the first trace need not wait."""
    def load() -> None:
        with _DS_LOCK:
            _detect_secrets()

    threading.Thread(target=load, name="spark-redaction-warm-up", daemon=True).start()


def redact(text: str) -> str:
    """`text` with every secret replaced by `<redacted:KIND>` (home paths by `~`)."""
    if not text:
        return text
    text = _own_patterns(text)
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if len(line) <= 4000 and _MAYBE_SECRET.search(_REDACTED.sub("", line)):
            lines[i] = _redact_line_with_detector(line)
    return "\n".join(lines)


def redact_json(value: Any) -> Any:
    """Every string in a JSON-like value redacted (keys too)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact(str(k)): redact_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_json(v) for v in value]
    return value
