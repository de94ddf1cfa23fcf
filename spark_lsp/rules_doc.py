"""docs/rules.md, generated from the cards (`spark rules --format markdown`)."""

from __future__ import annotations

import json

from spark_lsp.analysis.cards import Card, ErrorPattern

_APPLICABILITY = {
    "safe": "safe: behaviour is kept (`spark check --fix`)",
    "unsafe": "unsafe: behaviour changes, usually the bug being fixed (`--fix --unsafe-fixes`)",
    "display": "no automatic fix: the example shows the rewrite",
}


def _source(src: dict[str, str]) -> str:
    label = src.get("title") or src.get("object") or src.get("url", "")
    lib = src.get("library")
    text = f"`{label}`" if src.get("object") and not src.get("title") else label
    if lib and src.get("object"):
        text = f"{text} ({lib})"
    return f"[{text}]({src['url']})" if src.get("url") else text


def _error(pattern: ErrorPattern) -> str:
    regex = pattern.regex.replace("|", "\\|").replace("`", "'")
    parts = [f"`{regex}`"]
    if pattern.in_code:
        parts.append("when the code matches `" + pattern.in_code.replace("`", "'") + "`")
    if pattern.with_finding:
        parts.append("when the card's rule fires in the code")
    parts += [f"{lib} {spec}" for lib, spec in pattern.versions.items()]
    if pattern.note:
        parts.append(pattern.note)
    if pattern.cause:
        parts.append(f"cause: {pattern.cause}")
    return " — ".join(parts)


def rules_markdown(cards: list[Card]) -> str:
    out = ["# Spark rules", "",
           "Generated from `seeds/cards/` by `spark rules --format markdown > docs/rules.md`; "
           "do not edit by hand.", "",
           "| code | title | libraries | fix |", "| --- | --- | --- | --- |"]
    for c in cards:
        libs = ", ".join(f"{k} {v}".strip() for k, v in c.libraries.items())
        out.append(f"| [{c.code}](#{c.code.lower()}) | {c.title} | {libs} | {c.fix.applicability} |")
    for c in cards:
        out += ["", f'<a id="{c.code.lower()}"></a>', f"## {c.code}: {c.title}", ""]
        libs = ", ".join(f"`{k}{v}`" for k, v in c.libraries.items())
        out += [f"Libraries: {libs}. Severity: {c.severity}. Category: {c.category or '-'}.", ""]
        out += ["### What it does", "", c.message, "", "### Why is this bad?", "", c.why, ""]
        ex = c.examples[0]
        out += ["### Example", "", "```python", ex.bad.rstrip(), "```", "", "Use instead:", "",
                "```python", ex.good.rstrip(), "```", ""]
        out += ["### Fix", "", f"{c.fix.description}. Applicability: "
                f"{_APPLICABILITY.get(c.fix.applicability, c.fix.applicability)}.", ""]
        if c.fix.example:
            out += ["```python", c.fix.example.rstrip(), "```", ""]
        if c.errors:
            out += ["### Errors and warnings it explains", ""]
            out += [f"- {_error(p)}" for p in c.errors] + [""]
        out += ["### Sources", ""] + [f"- {_source(s)}" for s in c.sources]
    return "\n".join(out) + "\n"


def rules_json(cards: list[Card]) -> str:
    return json.dumps([c.raw for c in cards], indent=2, ensure_ascii=False, default=str)
