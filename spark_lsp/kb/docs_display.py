"""Text layout of `spark search`, `spark kb stats` and `spark kb build` (JSON is the data itself)."""

from __future__ import annotations

import textwrap

from spark_lsp.kb.docs_build import BuildReport
from spark_lsp.kb.docs_store import DocsStats
from spark_lsp.kb.search import DocHit


def hits_text(hits: list[DocHit], lines: int = 4) -> str:
    out = []
    for i, hit in enumerate(hits, 1):
        out.append(f"{i:>2}. {hit.object}  [{hit.library} {hit.version} · {hit.kind} · "
                   f"{hit.section}]  {hit.score:.4g}")
        body = hit.text.strip().splitlines()
        shown = [line for line in body if line.strip()][:lines]
        out += [textwrap.indent(textwrap.shorten(line, 110, placeholder=" …"), "      ")
                for line in shown]
    return "\n".join(out) + ("\n" if out else "")


def stats_text(stats: DocsStats) -> str:
    out = [f"snippets: {stats.snippets}", f"embedded: {stats.embedded}"]
    for name, info in sorted(stats.libraries.items()):
        extra = ""
        if "versions" in info:
            others = [v for v in info["versions"] if v != info["version"]]
            extra = f"  (also: {', '.join(others)})"
        out.append(f"  {name:<12} {info['version']:<14} {info['snippets']:>7} snippets{extra}")
    return "\n".join(out + stats.notes) + "\n"


def build_text(report: BuildReport) -> str:
    out = []
    for r in report.libraries:
        what = {"harvested": f"{r.objects} objects, {r.snippets} snippets ({r.seconds:.1f} s)",
                "unchanged": f"unchanged, {r.snippets} snippets kept",
                "kept": f"{r.snippets} snippets kept from the previous build"}.get(
                    r.status, r.message or r.status)
        out.append(f"  {r.library:<12} {r.version or '-':<14} {what}")
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in report.seconds.items())
    out.append(report.summary())
    out.append(f"stages: {stages}")
    return "\n".join(out) + "\n"
