"""An OpenAI-compatible model, asked only when `[tool.spark.llm]` names one.

The model gets the retrieved material (cards, docs, traces) and the user's code with secrets
redacted, and must answer in a JSON schema. Timeout (10 s by default), HTTP errors, 429s and
malformed or non-parsing answers all fall back to the template recommendation, with a note.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, replace
from typing import Any

from jsonschema import Draft202012Validator

from spark_lsp.agent.recommendation import Recommendation
from spark_lsp.agent.redact import redact
from spark_lsp.agent.tailor import Example, parses

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0
MAX_PROMPT_CHARS = 24_000
ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["title", "advice", "why", "after", "caveats", "confidence"],
    "properties": {
        "title": {"type": "string", "minLength": 3, "maxLength": 200},
        "advice": {"type": "string", "minLength": 3, "maxLength": 2000},
        "why": {"type": "string", "minLength": 3, "maxLength": 4000},
        "after": {"type": "string", "maxLength": 6000},
        "caveats": {"type": "array", "items": {"type": "string", "maxLength": 500},
                    "maxItems": 8},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
    },
}
SYSTEM = ("You are Spark, a reviewer of data-science Python code. Using ONLY the retrieved "
          "material (practice cards, documentation of the installed library versions, the team's "
          "past outcomes), recommend the best practice for the user's code. Rewrite the example "
          "with the user's own variable and column names; `after` must be valid Python. Cite "
          "documentation objects with library and version in `why`. Answer with JSON only.")


class LLMFailure(Exception):
    """The model did not give a usable answer; the message says why (shown to the user)."""


@dataclass(frozen=True)
class LLMConfig:
    base_url: str
    model: str
    api_key_env: str = ""
    timeout: float = DEFAULT_TIMEOUT

    @classmethod
    def from_settings(cls, data: dict[str, Any] | None) -> LLMConfig | None:
        """The configured endpoint, or None (then nothing is ever sent)."""
        if not isinstance(data, dict):
            return None
        base_url = data.get("base_url") or data.get("endpoint") or data.get("baseUrl")
        model = data.get("model")
        if not base_url or not model:
            return None
        try:
            timeout = float(data.get("timeout", DEFAULT_TIMEOUT))
        except (TypeError, ValueError):
            timeout = DEFAULT_TIMEOUT
        key_env = data.get("api_key_env") or data.get("apiKeyEnv") or ""
        return cls(str(base_url), str(model), str(key_env), max(0.1, timeout))

    def cache_key(self) -> str:
        return f"{self.base_url}|{self.model}"


def build_messages(rec: Recommendation, material: dict[str, Any], code: str,
                   question: str) -> list[dict[str, str]]:
    payload = {
        "question": redact(question),
        "code": redact(code)[:8000],
        "intent": rec.intent,
        "draft": {"title": rec.title, "advice": rec.advice, "why": rec.why,
                  "before": redact(rec.example.before), "after": redact(rec.example.after),
                  "caveats": rec.caveats},
        "material": material,
    }
    text = json.dumps(payload, ensure_ascii=False, default=str)[:MAX_PROMPT_CHARS]
    return [{"role": "system", "content": SYSTEM},
            {"role": "user", "content": text}]


def _json_from(content: str) -> Any:
    content = content.strip()
    if content.startswith("```"):
        content = content.strip("`")
        content = content[content.find("{"):] if "{" in content else content
    start, end = content.find("{"), content.rfind("}")
    if start < 0 or end < start:
        raise LLMFailure("the model's answer is not JSON")
    try:
        return json.loads(content[start:end + 1])
    except ValueError as exc:
        raise LLMFailure(f"the model's answer is not JSON ({exc})") from None


def ask_model(config: LLMConfig, messages: list[dict[str, str]],
              schema: dict[str, Any] | None = None,
              name: str = "spark_recommendation") -> dict[str, Any]:
    """One structured-output chat completion answering `schema` (default: a recommendation);
    raises LLMFailure with a readable reason."""
    schema = ANSWER_SCHEMA if schema is None else schema
    try:
        import openai
    except ImportError:
        raise LLMFailure("the `openai` package is not installed") from None
    key = os.environ.get(config.api_key_env, "") if config.api_key_env else ""
    if config.api_key_env and not key:
        raise LLMFailure(f"the API key variable {config.api_key_env} is not set")
    client = openai.OpenAI(base_url=config.base_url, api_key=key or "not-needed",
                           timeout=config.timeout, max_retries=0)
    try:
        response = client.chat.completions.create(
            model=config.model, messages=messages,  # type: ignore[arg-type]
            response_format={"type": "json_schema", "json_schema": {
                "name": name, "schema": schema, "strict": True}},
            temperature=0,
        )
    except openai.APITimeoutError:
        raise LLMFailure(f"the model did not answer within {config.timeout:g} s") from None
    except openai.RateLimitError:
        raise LLMFailure("the model's endpoint is rate limiting (HTTP 429)") from None
    except openai.APIStatusError as exc:
        raise LLMFailure(f"the model's endpoint answered HTTP {exc.status_code}") from None
    except openai.APIError as exc:
        raise LLMFailure(f"the model's endpoint failed: {type(exc).__name__}") from None
    except Exception as exc:  # noqa: BLE001 - malformed bodies surface as assorted parse errors
        raise LLMFailure(f"the model's answer could not be read ({type(exc).__name__})") from None
    try:
        content = response.choices[0].message.content or ""
    except (AttributeError, IndexError, TypeError):
        raise LLMFailure("the model's answer has no message") from None
    data = _json_from(content)
    errors = sorted(Draft202012Validator(schema).iter_errors(data), key=str)
    if errors:
        raise LLMFailure(f"the model's answer does not follow the schema ({errors[0].message})")
    return data  # type: ignore[no-any-return]


def improve(rec: Recommendation, config: LLMConfig, material: dict[str, Any], code: str,
            question: str) -> Recommendation:
    """The model's version of `rec`, or `rec` itself with a note saying why not."""
    try:
        data = ask_model(config, build_messages(rec, material, code, question))
    except LLMFailure as exc:
        log.info("LLM fallback: %s", exc)
        return replace(rec, notes=[*rec.notes, f"{exc}; showing Spark's offline answer"])
    after = data["after"].strip("\n")
    example = rec.example
    notes = list(rec.notes)
    if after and parses(after):
        example = Example(rec.example.before, after, "llm", rec.example.uses_user_names)
    elif after:
        notes.append("the model's example does not parse; showing Spark's example")
    return replace(rec, title=data["title"].strip(), advice=data["advice"].strip(),
                   why=data["why"].strip(), example=example,
                   caveats=list(dict.fromkeys([*rec.caveats, *data["caveats"]])),
                   confidence=round(min(float(data["confidence"]), 0.99), 2),
                   synthesizer="llm", notes=notes)
