"""Title and *why* of a learned card, written by the team's model when one is configured.

The template (`candidate.py`) always comes first. When `[tool.spark.llm]` names an
OpenAI-compatible endpoint, `CardWriter` asks it — through the agent's client
(`agent/llm.ask_model`, structured output) — for a title and an explanation of the rewrite from
the card's pattern, rewrite and redacted examples. The facts (how many edits, by how many people,
when, on which versions) stay the template's: the model explains, it does not count. A timeout,
an HTTP error or an answer that is not a valid card keeps the template, with a note; after one
failure the rest of the run keeps the template too (no minute-long `spark learn` against a dead
endpoint). A card whose rewrite has not changed keeps the model's earlier wording.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from spark_lsp.agent.llm import LLMConfig, LLMFailure, ask_model
from spark_lsp.agent.redact import redact
from spark_lsp.analysis.cards import card_from_dict

log = logging.getLogger(__name__)

MAX_EXAMPLES = 4
WORDING_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["title", "why"],
    "properties": {
        "title": {"type": "string", "minLength": 5, "maxLength": 110},
        "why": {"type": "string", "minLength": 10, "maxLength": 1500},
    },
}
SYSTEM = ("You name and explain a practice a data-science team follows in its Python code. You "
          "get an ast-grep pattern, the rewrite the team applies to code it matches, the "
          "library, and a few of the team's own before/after examples. Answer with JSON only: "
          "`title`, an imperative phrase under 80 characters naming the rewrite; `why`, two to "
          "four sentences on what the rewrite changes and why a team would make it (an API "
          "renamed or deprecated, a safer or clearer call), and what to check before applying "
          "it. Say only what the examples support; do not invent library versions.")


def wording_messages(body: dict[str, Any]) -> list[dict[str, str]]:
    rule = (body.get("rules") or [{}])[0]
    patterns = [rule["pattern"]] if isinstance(rule.get("pattern"), str) else [
        a.get("pattern", "") for a in (rule.get("rule") or {}).get("any", [])]
    payload = {
        "library": next(iter(body.get("libraries") or {}), ""),
        "pattern": patterns,
        "rewrite": body.get("fix", {}).get("template", ""),
        "examples": [{"before": redact(e.get("bad", ""))[:600],
                      "after": redact(e.get("good", ""))[:600]}
                     for e in (body.get("examples") or [])[:MAX_EXAMPLES]],
    }
    return [{"role": "system", "content": SYSTEM},
            {"role": "user", "content": json.dumps(payload, ensure_ascii=False)}]


class CardWriter:
    """Words learned cards with the configured model for one `spark learn` run."""

    def __init__(self, config: LLMConfig) -> None:
        self.config = config
        self.notes: list[str] = []
        self.written = 0
        self._failed = False

    def word(self, body: dict[str, Any], previous: dict[str, Any] | None = None
             ) -> dict[str, Any]:
        """`body` with the model's title and why (the template's facts kept after them), or
        `body` unchanged when the model fails; `provenance.wording` says which."""
        prov = body.setdefault("provenance", {})
        prov["wording"] = {"by": "template"}
        earlier = ((previous or {}).get("provenance") or {}).get("wording") or {}
        if earlier.get("by") == "llm" and earlier.get("template") == body["fix"]["template"]:
            return self._apply(body, earlier)
        if self._failed:
            return body
        try:
            answer = ask_model(self.config, wording_messages(body), WORDING_SCHEMA,
                               "spark_card_wording")
        except LLMFailure as exc:
            self._failed = True
            self.notes.append(f"card titles and explanations from the template: {exc}")
            log.info("learned card wording falls back to the template: %s", exc)
            return body
        wording = {"by": "llm", "model": self.config.model, "template": body["fix"]["template"],
                   "title": " ".join(answer["title"].split()), "why": answer["why"].strip()}
        worded = self._apply(body, wording)
        card, problems = card_from_dict(worded, f"<learned {body.get('code')}>")
        if card is None:
            self.notes.append(f"{body.get('code')}: the model's wording is not a valid card "
                              f"({problems[0] if problems else 'invalid'}); template kept")
            body["provenance"]["wording"] = {"by": "template"}
            return body
        self.written += 1
        return worded

    @staticmethod
    def _apply(body: dict[str, Any], wording: dict[str, Any]) -> dict[str, Any]:
        prov = body["provenance"]
        facts = (f"Learned by `spark learn` from {prov.get('support')} edit(s) by "
                 f"{prov.get('users')} people between {prov.get('first_seen')} and "
                 f"{prov.get('last_seen')}; review it with `spark cards review`.")
        out = {**body, "title": wording["title"], "why": f"{wording['why']} {facts}",
               "provenance": {**body["provenance"], "wording": dict(wording)}}
        return out
