"""The recommendation every surface shows: plain data, rendered as text, markdown or JSON."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from spark_lsp.agent.tailor import Example


@dataclass
class Recommendation:
    id: str  # "<card code or ASK>-<hash>": record_outcome can find the card from it alone
    title: str
    advice: str
    why: str
    example: Example
    caveats: list[str] = field(default_factory=list)
    confidence: float = 0.0
    sources: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # cards/docs/traces
    intent: dict[str, Any] = field(default_factory=dict)
    code: str | None = None  # the card code when a card backs the advice
    synthesizer: str = "template"  # template | llm
    notes: list[str] = field(default_factory=list)  # what was unavailable, fallbacks taken

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["example"] = self.example.to_dict()
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, default=str)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recommendation:
        ex = data.get("example") or {}
        return cls(**{**data, "example": Example(**ex)})

    def source_objects(self) -> list[str]:
        return [d["object"] for d in self.sources.get("docs", [])]


def recommendation_id(code: str | None, key: str) -> str:
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=6).hexdigest()
    return f"{code or 'ASK'}-{digest}"
