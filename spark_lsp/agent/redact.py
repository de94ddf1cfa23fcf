"""Secrets out of code before it leaves the machine (LLM prompts, shared insights).

Uses the team-memory redactor (`spark_lsp.memory.privacy`) when that module exists; until then
this small pattern list covers the usual shapes: key-like assignments, bearer tokens, provider
key prefixes, private-key blocks and credentials inside URLs.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

log = logging.getLogger(__name__)

MASK = "<redacted>"
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL),
     MASK),
    # name = "value" where the name says it is a secret
    (re.compile(r"""(?ix)
        (\b[\w.]*(?:api[_-]?key|apikey|secret|token|passw(?:or)?d|pwd|auth|credential|
                    access[_-]?key)[\w.]*\b["']?\s*[:=]\s*[bru]?)(["'])([^"'\n]{4,})\2"""),
     rf"\1\2{MASK}\2"),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{12,}"), rf"\1 {MASK}"),
    (re.compile(r"\b(?:sk|pk|rk)-[A-Za-z0-9_-]{16,}"), MASK),  # OpenAI/Stripe style
    (re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"), MASK),
    (re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"), MASK),  # AWS access key id
    (re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"), MASK),  # Slack
    (re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"), MASK),  # Google API key
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@'\"]+):([^\s@/'\"]+)@"), rf"\1:{MASK}@"),
]


def _local_redact(text: str) -> str:
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return text


def _team_redactor() -> Callable[[str], str] | None:
    try:
        from spark_lsp.memory import privacy  # type: ignore[attr-defined]
    except ImportError:
        return None
    for name in ("redact", "redact_text", "redact_code"):
        func = getattr(privacy, name, None)
        if callable(func):
            return func  # type: ignore[no-any-return]
    return None


def redact(text: str) -> str:
    """`text` with secrets masked: the team redactor when present, else Spark's patterns."""
    team = _team_redactor()
    if team is not None:
        try:
            result = team(text)
            if isinstance(result, str):
                return result
        except Exception as exc:  # a bug there must not leak the secret: ours still runs
            log.warning("team redactor failed (%s); using the agent's patterns", exc)
    return _local_redact(text)
