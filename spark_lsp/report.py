"""Findings as text, ruff-shaped JSON, or SARIF 2.1.0."""

from __future__ import annotations

import json
from typing import Any

from spark_lsp import __version__
from spark_lsp.analysis.cards import Card
from spark_lsp.analysis.findings import Edit, Finding, Position

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVEL = {"error": "error", "warning": "warning", "information": "note", "hint": "note"}


def _loc(pos: Position) -> dict[str, int]:
    return {"row": pos.line + 1, "column": pos.column + 1}


def _edit_json(edit: Edit) -> dict[str, Any]:
    return {"content": edit.content, "location": _loc(edit.span.start),
            "end_location": _loc(edit.span.end)}


def finding_json(f: Finding) -> dict[str, Any]:
    fix = None
    if f.fix is not None and f.fix.automatic:
        fix = {"applicability": f.fix.applicability, "message": f.fix.message,
               "edits": [_edit_json(e) for e in f.fix.edits]}
    return {
        "code": f.code,
        "message": f.message,
        "title": f.title,
        "severity": f.severity,
        "filename": f.filename,
        "location": _loc(f.span.start),
        "end_location": _loc(f.span.end),
        "url": f.url,
        "fix": fix,
        "fingerprint": f.fingerprint,
    }


def to_json(findings: list[Finding]) -> str:
    return json.dumps([finding_json(f) for f in findings], indent=2, ensure_ascii=False)


def to_text(findings: list[Finding], cards: dict[str, Card], explain: bool = True) -> str:
    lines = []
    for f in findings:
        mark = ""
        if f.fix is not None and f.fix.automatic:
            mark = " [*]" if f.fix.applicability == "safe" else " [unsafe fix]"
        lines.append(f"{f.filename}:{f.span.start.line + 1}:{f.span.start.column + 1}: "
                     f"{f.code} {f.message}{mark}")
    if explain and findings:
        lines.append("")
        for code in sorted({f.code for f in findings}):
            card = cards.get(code)
            if card is None:
                continue
            lines.append(f"{code} {card.title}")
            lines.append(f"  why: {card.why}")
            lines.append(f"  fix ({card.fix.applicability}): {card.fix.description}")
            lines.append(f"  see: {card.url}")
    return "\n".join(lines)


def to_sarif(findings: list[Finding], cards: dict[str, Card]) -> str:
    used = sorted({f.code for f in findings} | set(cards))
    rules = []
    index = {}
    for code in used:
        card = cards.get(code)
        if card is None:
            continue
        index[code] = len(rules)
        rules.append({
            "id": code,
            "name": "".join(w.capitalize() for w in card.title.split()[:8] if w.isalnum()) or code,
            "shortDescription": {"text": card.title},
            "fullDescription": {"text": card.why},
            "helpUri": card.url,
            "defaultConfiguration": {"level": _SARIF_LEVEL.get(card.severity, "warning")},
            "properties": {"fixApplicability": card.fix.applicability,
                           "libraries": card.libraries},
        })
    results = []
    for f in findings:
        result: dict[str, Any] = {
            "ruleId": f.code,
            "level": _SARIF_LEVEL.get(f.severity, "warning"),
            "message": {"text": f.message},
            "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": f.filename},
                "region": _region(f.span.start, f.span.end),
            }}],
            "partialFingerprints": {"sparkFingerprint/v1": f.fingerprint},
        }
        if f.code in index:
            result["ruleIndex"] = index[f.code]
        if f.fix is not None and f.fix.automatic:
            result["fixes"] = [{
                "description": {"text": f"{f.fix.message} ({f.fix.applicability})"},
                "artifactChanges": [{
                    "artifactLocation": {"uri": f.filename},
                    "replacements": [{
                        "deletedRegion": _region(e.span.start, e.span.end),
                        "insertedContent": {"text": e.content},
                    } for e in f.fix.edits],
                }],
            }]
        results.append(result)
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "spark", "version": __version__,
                                "informationUri": "https://github.com/spark-lsp/spark",
                                "rules": rules}},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False)


def _region(start: Position, end: Position) -> dict[str, int]:
    return {"startLine": start.line + 1, "startColumn": start.column + 1,
            "endLine": end.line + 1, "endColumn": end.column + 1}
