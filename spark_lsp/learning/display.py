"""Text layout of `spark learn` and `spark cards review` (the CLI only prints these)."""

from __future__ import annotations

from spark_lsp.learning.curate import CREATED, MERGED, REJECTED, UPDATED, LearnReport
from spark_lsp.learning.review import ReviewItem

_MARK = {CREATED: "+", UPDATED: "~", MERGED: "=", REJECTED: "-"}


def learn_text(report: LearnReport, verbose: bool = False) -> str:
    lines = []
    shown = [d for d in report.decisions
             if verbose or d.outcome != REJECTED or d.traces >= 2]
    for d in shown:
        head = f"{_MARK.get(d.outcome, '?')} {d.outcome:<8} {d.code or '-':<8} " \
               f"{d.library or '-':<10} {d.traces} trace(s), {d.users} user(s), " \
               f"acceptance >= {d.acceptance:.2f}"
        lines.append(head)
        if d.pattern:
            lines.append(f"    {d.pattern}  ->  {d.template}")
        else:
            lines.append(f"    {d.key}")
        if d.shapes > 1:
            lines.append(f"    {d.shapes} edit shapes joined by code similarity")
        if d.reason:
            lines.append(f"    {d.reason}")
    hidden = len(report.decisions) - len(shown)
    if hidden:
        lines.append(f"({hidden} cluster(s) of a single trace not listed; --verbose lists them)")
    for code, why in report.retired:
        lines.append(f"x retired  {code}: {why}")
    for code, libs in report.narrowed:
        ranges = ", ".join(f"{lib} {spec}" for lib, spec in libs.items())
        lines.append(f"~ outdated {code}: now applies to {ranges}")
    lines.append(report.summary())
    return "\n".join(lines) + "\n"


def review_text(items: list[ReviewItem]) -> str:
    if not items:
        return "no learned cards (run `spark learn` after traces have been recorded)\n"
    lines = []
    for it in items:
        status = it.status + (f" ({it.retired_reason})" if it.retired_reason else "")
        lines.append(f"{it.code}  {status:<10} {it.support} trace(s) from {it.users} user(s), "
                     f"{it.first_seen}..{it.last_seen}" + (f"; {it.team}" if it.team else ""))
        lines.append(f"    {it.pattern}  ->  {it.template}")
    lines.append("promote: spark cards review --promote CODE; drop: --drop CODE; "
                 "edit: --edit CODE")
    return "\n".join(lines) + "\n"
