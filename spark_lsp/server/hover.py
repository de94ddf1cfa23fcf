"""Hover text for a flagged range: what, why, your code before and after, how safe, sources."""

from __future__ import annotations

from spark_lsp.analysis.cards import Card
from spark_lsp.analysis.findings import Finding
from spark_lsp.server.snippets import finding_lines, fixed_lines

SAFETY = {
    "safe": "safe: the quick fix keeps behaviour the same",
    "unsafe": "unsafe: the quick fix can change behaviour; review it before applying",
    "display": "no automatic fix: rewrite by hand",
}


def _code_block(code: str, markdown: bool) -> str:
    if not markdown:
        return "\n".join("    " + line for line in code.splitlines())
    fence = "```"
    while fence in code:
        fence += "`"
    return f"{fence}python\n{code}\n{fence}"


def _source(source: dict[str, str], markdown: bool) -> str:
    name = source.get("object") or source.get("title") or source.get("url", "")
    if markdown and source.get("object"):
        name = f"`{name}`"
    text = f"{source['library']} {name}" if source.get("library") else name
    url = source.get("url")
    if url and url != name:
        text = f"[{text}]({url})" if markdown else f"{text} <{url}>"
    return text


def hover_text(finding: Finding, card: Card | None, lines: list[str], markdown: bool = True,
               team_note: str | None = None) -> str:
    """The explanation shown on hover, using the user's own code and names; `team_note`: the
    team's record with this card ("accepted 14 of 16 times by your team")."""
    bold = (lambda s: f"**{s}**") if markdown else (lambda s: s)
    parts = [f"{bold(finding.code)} · {finding.title}", finding.message]
    if card is not None and card.why:
        parts.append(f"{bold('Why:')} {card.why}")
    before = finding_lines(lines, finding)
    after = fixed_lines(lines, finding)
    if after is not None:
        parts += [bold("Your code:"), _code_block(before, markdown),
                  bold("With the fix:"), _code_block(after, markdown)]
    elif card is not None and card.examples:
        example = card.examples[0]
        parts += [bold("Your code:"), _code_block(before, markdown),
                  bold("Example, before:"), _code_block(example.bad.rstrip("\n"), markdown),
                  bold("Example, after:"), _code_block(example.good.rstrip("\n"), markdown)]
    else:
        parts += [bold("Your code:"), _code_block(before, markdown)]
    applicability = finding.fix.applicability if finding.fix else "display"
    if finding.fix is not None and not finding.fix.automatic:
        applicability = "display"
    fix_text = SAFETY.get(applicability, applicability)
    if finding.fix is not None and finding.fix.message:
        fix_text = f"{finding.fix.message} ({fix_text})"
    parts.append(f"{bold('Fix:')} {fix_text}")
    if team_note:
        parts.append(f"{bold('Your team:')} {team_note}")
    if card is not None and card.sources:
        parts.append(f"{bold('Sources:')} " + "; ".join(_source(s, markdown) for s in card.sources))
    if finding.url:
        parts.append(f"[{finding.code} in the rules]({finding.url})" if markdown
                     else f"{finding.code} in the rules: {finding.url}")
    return "\n\n".join(parts)
