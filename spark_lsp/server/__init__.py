"""Spark's language server (pygls 2): wiring only; the work is in analysis/ and kb/.

What a client sees:

- Text sync: incremental (full-document changes accepted too); open, change, save, close.
  Diagnostics are published per document after `debounceMs` (default 15), with the document's
  `version`; an analysis of an older version is never published.
- Diagnostic: `code` SPKnnn, `source` "spark", `severity` from the card or the `severity`
  setting, `codeDescription.href` the rule's page, and `data`:
  `{code, fingerprint, title, matched, version, line (1-based), before, after,
    fix: {applicability: safe|unsafe|display, message, edits: [{range, newText}]} | null}`
  (ranges in the negotiated position encoding).
- Hover on a flagged range: the card's title and why, the user's lines before and after the fix,
  the fix's safety, the card's sources.
- Code actions (quickfix) per Spark diagnostic: the fix (preferred when safe, "(unsafe)" in the
  title otherwise), "Dismiss SPKnnn here" (a `# spark: ignore[SPKnnn]` comment), and "Disable
  SPKnnn in this workspace".
- Commands: `spark.recordOutcome` `{outcome: accepted|rejected, code, fingerprint, uri, line,
  before, after}` -> `{recorded: bool}`; `spark.disableCode` `{code}` -> `{disabled: [codes]}`.
- Other tools' diagnostics: the notification `spark/otherDiagnostics` `{uri, version?,
  diagnostics: [{range, message, source, code?, severity?}]}` replaces a document's set; Spark
  answers on their ranges with a hover section and "Spark: how to fix this" (a quickfix with the
  card's edit, or `quickfix.spark.explain` running `spark.explainDiagnostic` `{uri,
  diagnostic}`). See docs/editors.md.
- Settings: initializationOptions, then the `spark` section of workspace/configuration (pulled
  again on didChangeConfiguration): enabledCodes/select, disabledCodes/ignore, severity, trace,
  debounceMs, cards, versions, memoryPath; under them `[tool.spark]` of the workspace's
  pyproject.toml.
- Team memory (`[tool.spark.memory] path` / `memoryPath`): followed and hot-reloaded when a new
  version verifies against `trusted_keys`; a refused file leaves the memory in use unchanged
  and is reported once with `window/showMessage` (server/memory_watch.py).
"""

from __future__ import annotations


def run(host: str | None = None, port: int | None = None) -> None:
    """Serve over stdio, or over TCP when `host` and `port` are given."""
    from spark_lsp.server.app import create_server

    server = create_server()
    if host is not None and port is not None:
        server.start_tcp(host, port)
    else:
        server.start_io()


__all__ = ["run"]
