"""Plain-text layout of what the knowledge base holds, for the `spark` command."""

from __future__ import annotations

from datetime import datetime

from spark_lsp.kb.store import KBStatus
from spark_lsp.kb.traces import Trace


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {name}" for name, n in sorted(counts.items())) or "none"


def status_text(st: KBStatus) -> str:
    lines = [f"knowledge base: {st.path}"]
    if not st.exists:
        lines.append("  not created yet (`spark traces merge` creates it)")
    else:
        schema = "unknown" if st.schema_version is None else str(st.schema_version)
        lines.append(f"  size: {_size(st.size_bytes)}, schema version {schema} "
                     f"(this Spark: {st.latest_schema_version})")
    if st.readable:
        cards = "; ".join(f"{source}: {_counts(by_status)}"
                          for source, by_status in sorted(st.cards.items()))
        lines.append(f"cards: {cards or 'none'}")
        total = sum(st.traces.values())
        lines.append(f"traces: {total}" + (f" ({_counts(st.traces)})" if total else ""))
    lines.append(f"journal: {st.journal_pending_lines} line(s) waiting to be merged, in "
                 f"{st.journal_files} file(s)")
    libs = ", ".join(f"{name} {version}" for name, version in sorted(st.libraries.items()))
    lines.append(f"libraries: {libs or 'none of the tracked ones'}")
    lines += [f"note: {note}" for note in st.notes]
    return "\n".join(lines)


def traces_text(traces: list[Trace]) -> str:
    """One trace a line, newest first as given: time, outcome, code, client, file:line, id."""
    if not traces:
        return ""
    rows = [("TIME", "OUTCOME", "CODE", "CLIENT", "FILE:LINE", "ID")]
    for t in traces:
        when = datetime.fromtimestamp(t.ts).strftime("%Y-%m-%d %H:%M:%S")
        rows.append((when, t.outcome, t.code, t.client, f"{t.file_hash or '-'}:{t.line}",
                     t.id[:12]))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() + "\n"
                   for row in rows)
