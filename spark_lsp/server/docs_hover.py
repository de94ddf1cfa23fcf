"""Hover on any call or attribute of a documented library: signature, summary, related
objects ("See Also"), version, link.

The lookup (`kb.symbols.describe_symbol`: a read-only query, no model) runs on this module's own
worker thread, never on the event loop, so diagnostics never wait for the knowledge base.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

from spark_lsp.analysis.symbol_at import symbol_at
from spark_lsp.kb.harvest import short_name
from spark_lsp.kb.symbols import SymbolDoc, describe_symbol

log = logging.getLogger(__name__)

_executor = ThreadPoolExecutor(1, thread_name_prefix="spark-docs")


def describe_at(text: str, line: int, column: int,
                versions: Mapping[str, str]) -> SymbolDoc | None:
    """The documented object at a position (column in characters), or None."""
    qualname = symbol_at(text, line, column)
    if qualname is None:
        return None
    return describe_symbol(qualname, versions)


SEE_ALSO_SHOWN = 5


def doc_hover_text(doc: SymbolDoc, markdown: bool = True) -> str:
    short = short_name(doc.object)
    head = f"{short}{doc.signature}" if doc.kind in ("function", "method", "class") else short
    where = f"{doc.library} {doc.version}"
    related = [short_name(name) for name in doc.see_also[:SEE_ALSO_SHOWN]]
    if markdown:
        fence = "```"
        while fence in head:
            fence += "`"
        parts = [f"{fence}python\n{head}\n{fence}"]
        if doc.summary:
            parts.append(doc.summary)
        if related:
            parts.append("See also: " + ", ".join(f"`{name}`" for name in related))
        parts.append(f"`{doc.object}` · {where}" + (f" · [documentation]({doc.link})"
                                                     if doc.link else ""))
        return "\n\n".join(parts)
    parts = [head] + ([doc.summary] if doc.summary else [])
    if related:
        parts.append("See also: " + ", ".join(related))
    parts.append(f"{doc.object} · {where}" + (f" · {doc.link}" if doc.link else ""))
    return "\n\n".join(parts)


async def describe_at_async(text: str, line: int, column: int,
                            versions: Mapping[str, str]) -> SymbolDoc | None:
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(_executor, describe_at, text, line, column,
                                          dict(versions))
    except Exception as exc:  # noqa: BLE001 - hover on code is optional; never fail the request
        log.warning("no documentation hover: %s", exc)
        return None
