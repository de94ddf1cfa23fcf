"""Forwarded diagnostics (`spark/otherDiagnostics`): reading params, bounds, the answers built
from a real explanation, and the stdin reader that keeps a flood cheap."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import pytest
from lsprotocol import types

from spark_lsp.agent import Agent
from spark_lsp.check import make_analyzer
from spark_lsp.config import Settings
from spark_lsp.server.explain import DiagnosticExplainer
from spark_lsp.server.other_answers import (
    EXPLAIN_KIND,
    code_actions,
    explain_diagnostic_argument,
    hover_section,
    hover_sections,
    wanted,
)
from spark_lsp.server.other_diagnostics import (
    MAX_MESSAGE_CHARS,
    MAX_PER_DOCUMENT,
    BadParams,
    LogLimiter,
    OtherDiagnostic,
    read_diagnostic,
    read_diagnostics,
    read_envelope,
)
from spark_lsp.server.stdio import ChunkedStdinReader

CODE = ("import pandas as pd\n\n"
        "sales = pd.read_csv('s.csv')\n"
        "extra = pd.DataFrame({'a': [3]})\n"
        "sales = sales.append(extra, ignore_index=True)\n"
        "total = np.sum(sales['a'])\n")


def raw(line: int = 4, start: int = 14, end: int = 20, **fields: Any) -> dict[str, Any]:
    return {"range": {"start": {"line": line, "character": start},
                      "end": {"line": line, "character": end}},
            "message": 'Cannot access attribute "append" for class "DataFrame"',
            "source": "Pylance", **fields}


def test_envelope() -> None:
    assert read_envelope({"uri": "file:///a.py", "version": 3, "diagnostics": []}) == (
        "file:///a.py", 3, [])
    assert read_envelope({"uri": "file:///a.py", "diagnostics": [1]})[1] is None
    for bad, why in [(None, "params must be an object"), ([], "params must be an object"),
                     ({"uri": ""}, "params.uri"), ({"uri": "u", "version": True,
                                                   "diagnostics": []}, "params.version"),
                     ({"uri": "u", "diagnostics": {}}, "params.diagnostics")]:
        with pytest.raises(BadParams, match=why):
            read_envelope(bad)


def test_one_diagnostic() -> None:
    d = read_diagnostic(raw(code={"value": "reportAttributeAccessIssue", "target": "x"},
                            severity=1))
    assert d is not None and d.code == "reportAttributeAccessIssue" and d.severity == 1
    assert d.to_lsp().severity == types.DiagnosticSeverity.Error
    assert read_diagnostic(raw(source=" Spark ")) is None  # Spark's own: never fed back
    long = read_diagnostic(raw(message="x" * 100_000, severity="bad", code=[1]))
    assert long is not None and len(long.message) == MAX_MESSAGE_CHARS
    assert long.severity is None and long.code is None
    for bad, why in [(3, "must be an object"), (raw(range=[]), "range must be an object"),
                     (raw(line=-1), "range.start.line"), (raw(start=True), "character"),
                     (raw(start=9, end=2), "ends before"), (raw(message=""), "message")]:
        with pytest.raises(BadParams, match=why):
            read_diagnostic(bad)


def test_sets_are_bounded_errors_first() -> None:
    items = [raw(line=i % 50, severity=3) for i in range(6_000)] + [raw(severity=1)]
    kept, problems = read_diagnostics([None, *items[:300], raw(severity=1), *items[300:]])
    assert len(kept) == MAX_PER_DOCUMENT and kept[0].severity == 1
    assert problems["a diagnostic must be an object {range, message, source, code?, "
                    "severity?}"] == 1
    assert any("only the first 5,000" in p for p in problems)
    assert any("at most 200" in p for p in problems)


def test_log_limiter_counts_what_it_mutes() -> None:
    limiter = LogLimiter(every=60)
    assert limiter.allow("a") == (True, 0)
    assert limiter.allow("a") == (False, 0) and limiter.allow("a") == (False, 0)
    assert limiter.allow("b") == (True, 0)
    limiter._last["a"] -= 120
    assert limiter.allow("a") == (True, 2)


def test_action_kinds() -> None:
    assert wanted(EXPLAIN_KIND, None) and wanted(EXPLAIN_KIND, ["quickfix"])
    assert wanted("quickfix", ["quickfix"]) and not wanted("quickfix", [EXPLAIN_KIND])
    assert not wanted(EXPLAIN_KIND, ["refactor"]) and not wanted(EXPLAIN_KIND, ["quick"])


def test_command_argument() -> None:
    uri, d = explain_diagnostic_argument(({"uri": "file:///a.py", "diagnostic": raw()},))
    assert uri == "file:///a.py" and d.source == "Pylance"
    for bad in [(), ({"uri": 1},), ({"uri": "u", "diagnostic": {"range": 1}},),
                ({"uri": "u", "diagnostic": raw(source="spark")},)]:
        with pytest.raises(ValueError, match="explainDiagnostic"):
            explain_diagnostic_argument(bad)


@pytest.fixture(scope="module")
def agent() -> Agent:
    settings = Settings()
    _, cards, _ = make_analyzer(settings)
    return Agent(settings, cards=list(cards.values()), docs_mode="bm25")


def test_answers_from_a_real_explanation(agent: Agent) -> None:
    explainer = DiagnosticExplainer()
    append = read_diagnostic(raw(severity=1))
    np_error = read_diagnostic(raw(line=5, start=8, end=10, message='"np" is not defined'))
    assert append is not None and np_error is not None
    explanation = explainer.explanation(agent, append.to_lsp(), CODE)
    assert explanation is not None and explanation.recommendation.code == "SPK004"
    assert explainer.explanation(agent, append.to_lsp(), CODE) is explanation  # cached
    section = hover_section(append, explanation)
    assert section.startswith("**Spark:** ") and "(SPK004)" in section
    assert "_Pylance says: Cannot access attribute \"append\" for class \"DataFrame\"_" in section
    assert "**Fix** (unsafe)" in section and "**Sources:**" in section and "pd.concat" in section
    assert "has the cause SPK004 explains above" in hover_sections([(append, explanation)],
                                                                  own_code="SPK004")

    [fix, show] = code_actions("file:///a.py", [(append, explanation)], [], CODE, 7, "utf-16",
                               True)
    assert fix.kind == types.CodeActionKind.QuickFix and fix.edit and fix.edit.document_changes
    edit = fix.edit.document_changes[0]
    assert isinstance(edit, types.TextDocumentEdit) and edit.text_document.version == 7
    assert any("pd.concat([sales, extra]" in e.new_text for e in edit.edits
               if isinstance(e, types.TextEdit))
    assert fix.command and fix.command.arguments and fix.command.arguments[0]["code"] == "SPK004"
    assert show.title == "Spark: explain this" and show.kind == EXPLAIN_KIND

    np_explanation = explainer.explanation(agent, np_error.to_lsp(), CODE)
    assert np_explanation is not None and np_explanation.recommendation.code == "SPK060"
    [how] = code_actions("file:///a.py", [(np_error, np_explanation)], [], CODE, 7, "utf-16",
                         False)
    assert how.title == "Spark: how to fix this" and how.edit is None
    assert how.command and how.command.command == "spark.explainDiagnostic"
    unknown = OtherDiagnostic(append.range, "Line too long (120 > 100)", "ruff")
    assert explainer.explanation(agent, unknown.to_lsp(), CODE) is None
    assert explainer.explanation(agent, OtherDiagnostic(append.range, append.message,
                                                        "spark").to_lsp(), CODE) is None


def frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def test_chunked_reader_cuts_messages_out_of_any_chunking() -> None:
    messages = [{"jsonrpc": "2.0", "method": "m", "params": {"i": i, "pad": "é" * (i % 7)}}
                for i in range(2_000)]
    data = b"".join(frame(m) for m in messages)
    read_fd, write_fd = os.pipe()

    async def main() -> list[Any]:
        reader = ChunkedStdinReader(os.fdopen(read_fd, "rb", buffering=0))
        out = []
        while True:
            header = await reader.readline()
            if not header:
                return out
            length = int(header.split(b":")[1])
            assert await reader.readline() == b"\r\n"
            out.append(json.loads(await reader.readexactly(length)))

    async def run() -> list[Any]:
        task = asyncio.ensure_future(main())
        loop = asyncio.get_running_loop()

        def write() -> None:
            with os.fdopen(write_fd, "wb", buffering=0) as w:
                for i in range(0, len(data), 777):  # pieces that cut headers and bodies
                    w.write(data[i:i + 777])

        await loop.run_in_executor(None, write)
        return await asyncio.wait_for(task, 20)

    assert asyncio.run(run()) == messages


def test_chunked_reader_at_the_end_of_input() -> None:
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"Content-Length: 10\r\n\r\nabc")
    os.close(write_fd)

    async def main() -> tuple[bytes, bytes, bytes, bytes]:
        reader = ChunkedStdinReader(os.fdopen(read_fd, "rb", buffering=0))
        return (await reader.readline(), await reader.readline(), await reader.readexactly(10),
                await reader.readline())

    assert asyncio.run(main()) == (b"Content-Length: 10\r\n", b"\r\n", b"abc", b"")
