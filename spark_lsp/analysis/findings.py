"""Plain data that flows from detection to every surface (CLI, LSP, MCP)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, order=True)
class Position:
    line: int  # 0-based
    column: int  # 0-based, in Unicode code points


@dataclass(frozen=True)
class Span:
    start: Position
    end: Position


@dataclass(frozen=True)
class Edit:
    span: Span
    content: str


@dataclass(frozen=True)
class Fix:
    applicability: str  # "safe" | "unsafe" | "display"
    message: str
    edits: tuple[Edit, ...] = ()

    @property
    def automatic(self) -> bool:
        return bool(self.edits) and self.applicability in ("safe", "unsafe")


@dataclass
class Finding:
    code: str
    title: str
    message: str
    severity: str
    span: Span
    matched: str  # the flagged code
    fingerprint: str
    url: str
    fix: Fix | None = None
    rule_id: str = ""
    metavars: dict[str, str] = field(default_factory=dict)
    filename: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
