"""Other tools' diagnostics forwarded by the editor (`spark/otherDiagnostics`): the real server
answers on their ranges with a hover section and "Spark: how to fix this"; a flood of
notifications does not slow edits down; garbage is logged, not fatal."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest
from lsp_harness import SparkClient, spark_diagnostics, wait_until
from lsprotocol import types

pytestmark = pytest.mark.slow

NOTIFICATION = "spark/otherDiagnostics"
CODE = ("import pandas as pd\n\n"
        "sales = pd.read_csv('s.csv')\n"
        "extra = pd.DataFrame({'a': [3]})\n"
        "sales = sales.append(extra, ignore_index=True)\n"
        "total = np.sum(sales['a'])\n")
APPEND = 'Cannot access attribute "append" for class "DataFrame"'


def rng(line: int, start: int, end: int) -> dict[str, Any]:
    return {"start": {"line": line, "character": start}, "end": {"line": line, "character": end}}


def pylance(line: int, start: int, end: int, message: str, code: str = "reportAttributeAccessIssue",
            source: str = "Pylance", severity: int = 1) -> dict[str, Any]:
    return {"range": rng(line, start, end), "message": message, "source": source,
            "code": code, "severity": severity}


APPEND_DIAGNOSTIC = pylance(4, 14, 20, APPEND)
NP_DIAGNOSTIC = pylance(5, 8, 10, '"np" is not defined', "reportUndefinedVariable")


def forward(client: SparkClient, uri: str, diagnostics: list[Any], version: int | None = None
            ) -> None:
    params: dict[str, Any] = {"uri": uri, "diagnostics": diagnostics}
    if version is not None:
        params["version"] = version
    client.protocol.notify(NOTIFICATION, params)


def to_range(raw: dict[str, Any]) -> types.Range:
    return types.Range(start=types.Position(**raw["start"]), end=types.Position(**raw["end"]))


async def actions_at(client: SparkClient, uri: str, where: types.Range,
                     sent: list[types.Diagnostic]) -> list[types.CodeAction]:
    """codeAction for a range, the client's diagnostics there in the context (raw JSON read
    back as CodeActions: see lsp_harness.actions_for)."""
    params = types.CodeActionParams(text_document=types.TextDocumentIdentifier(uri=uri),
                                    range=where, context=types.CodeActionContext(diagnostics=sent))
    msg_id = str(uuid.uuid4())
    future = client.protocol.send_request(types.TEXT_DOCUMENT_CODE_ACTION, params, msg_id=msg_id)
    client.protocol._result_types.pop(msg_id, None)
    raw = await asyncio.wrap_future(future)
    return [client.protocol._converter.structure(a, types.CodeAction) for a in raw or []
            if not isinstance(a.get("command"), str)]


async def hover_text(client: SparkClient, uri: str, line: int, character: int) -> str:
    hover = await client.hover_at(uri, types.Position(line=line, character=character))
    if hover is None:
        return ""
    assert isinstance(hover.contents, types.MarkupContent)
    return hover.contents.value


async def hover_until(client: SparkClient, uri: str, line: int, character: int, needle: str,
                      timeout: float = 20) -> str:
    """The hover at a position once it contains `needle` (the first explanation warms up)."""
    deadline = time.monotonic() + timeout
    while True:
        text = await hover_text(client, uri, line, character)
        if needle in text or time.monotonic() > deadline:
            return text
        await asyncio.sleep(0.1)


async def test_pylance_diagnostic_gets_hover_and_fix(client: SparkClient, project: Path):
    uri = (project / "sales.py").as_uri()
    client.open(uri, CODE)
    await client.diagnostics_for(uri, 1, lambda ds: bool(spark_diagnostics(ds, "SPK004")))
    echo = {**APPEND_DIAGNOSTIC, "range": rng(2, 0, 5), "source": "spark", "code": "SPK004"}
    forward(client, uri, [APPEND_DIAGNOSTIC, NP_DIAGNOSTIC, echo], version=1)

    # A line Spark does not flag itself: the whole "Spark: …" section, cause, fix and sources.
    text = await hover_until(client, uri, 5, 9, "Spark:")
    assert "**Spark:**" in text and "SPK060" in text, text
    assert '_Pylance says: "np" is not defined_' in text
    assert "**Sources:**" in text and "card SPK060" in text
    # On `append` Spark's own SPK004 hover comes first; the Pylance error is tied to it.
    text = await hover_until(client, uri, 4, 16, "Pylance")
    assert "**SPK004**" in text and "has the cause SPK004 explains above" in text, text
    # Spark's own diagnostics sent back are never explained.
    assert "Spark:" not in await hover_text(client, uri, 2, 2)

    # "Spark: how to fix this" on Pylance's range: the card's fix as a quick fix. Neovim puts
    # only a client's own diagnostics in the context: the server finds Pylance's by range.
    sent = ([types.Diagnostic(range=to_range(APPEND_DIAGNOSTIC["range"]), message=APPEND,
                              source="Pylance", code="reportAttributeAccessIssue",
                              severity=types.DiagnosticSeverity.Error)]
            if client.spec == "visual_studio_code" else [])
    actions = await actions_at(client, uri, to_range(APPEND_DIAGNOSTIC["range"]), sent)
    [fix] = [a for a in actions if a.title.startswith("Spark: how to fix this")]
    assert fix.kind == types.CodeActionKind.QuickFix and fix.edit is not None
    assert fix.title == ("Spark: how to fix this: sales = pd.concat([sales, extra], "
                         "ignore_index=True) (unsafe)")  # SPK004's fix can change behaviour
    assert fix.diagnostics and fix.diagnostics[0].source == "Pylance"
    [explain] = [a for a in actions if a.title == "Spark: explain this"]
    assert explain.kind == "quickfix.spark.explain"

    result = await client.run(explain.command)
    assert result["recommendation"]["code"] == "SPK004" and result["shown"] is True
    shown = Path(unquote(urlparse(client.shown_documents[-1].uri).path)).read_text()
    assert "pd.concat" in shown and "SPK004" in shown

    version = client.apply(uri, fix.edit)
    assert "sales = pd.concat([sales, extra], ignore_index=True)" in client.texts[uri]
    assert fix.command is not None and fix.command.command == "spark.recordOutcome"
    assert (await client.run(fix.command))["recorded"] is True
    await client.diagnostics_for(uri, version, lambda ds: not spark_diagnostics(ds, "SPK004"))

    # The `np` error has no automatic fix: the action opens the recommendation instead.
    np_range = to_range(NP_DIAGNOSTIC["range"])
    actions = await actions_at(client, uri, np_range, [])
    [how] = [a for a in actions if a.title == "Spark: how to fix this"]
    assert how.kind == "quickfix.spark.explain" and how.edit is None
    result = await client.run(how.command)
    assert result["recommendation"]["code"] == "SPK060" and result["fix"] is None

    # A new set replaces the old one: an empty set clears it.
    forward(client, uri, [], version=version)
    deadline = time.monotonic() + 10
    while "Spark:" in await hover_text(client, uri, 5, 9):
        assert time.monotonic() < deadline, "the cleared set still answers"
        await asyncio.sleep(0.1)
    assert not [a for a in await actions_at(client, uri, np_range, [])
                if a.title.startswith("Spark:")]


async def test_a_flood_does_not_stall_editing(client: SparkClient, project: Path):
    uri = (project / "flood.py").as_uri()
    client.open(uri, CODE)
    await client.diagnostics_for(uri, 1, lambda ds: bool(spark_diagnostics(ds, "SPK004")))
    quiet = time.monotonic()
    version = client.replace(uri, CODE + "x = sales.values\n")
    await client.diagnostics_for(uri, version, lambda ds: bool(spark_diagnostics(ds, "SPK001")))
    quiet = time.monotonic() - quiet

    # 5,000 notifications in a burst, each a different set (as a server republishing on every
    # keystroke would); the last one is the set that counts.
    started = time.monotonic()
    for i in range(5_000):
        forward(client, uri, [pylance(0, 0, 6, f'"x{i}" is not defined', "reportUndefinedVariable"),
                              pylance(2, 0, 5, f'"y{i}" is possibly unbound'),
                              pylance(3, 0, 5, f"Import cycle {i}", severity=2)], version=version)
    forward(client, uri, [APPEND_DIAGNOSTIC], version=version)
    sent = time.monotonic() - started
    version = client.replace(uri, CODE + "y = sales.values\n")  # an edit right behind them
    edit_started = time.monotonic()
    await client.diagnostics_for(uri, version, lambda ds: bool(spark_diagnostics(ds, "SPK001")))
    flooded = time.monotonic() - edit_started
    print(f"\nflood: 5,001 notifications sent in {sent:.2f} s; the edit behind them published "
          f"in {flooded * 1000:.0f} ms (without a flood: {quiet * 1000:.0f} ms)")
    assert flooded < 2.0, f"an edit behind the flood took {flooded:.2f} s"

    # The latest set won; the earlier ones left nothing behind.
    text = await hover_until(client, uri, 4, 16, "Pylance")
    assert "Pylance" in text
    assert "Spark:" not in await hover_text(client, uri, 0, 2)
    # and the server still answers everything
    version = client.replace(uri, CODE)
    assert spark_diagnostics(await client.diagnostics_for(
        uri, version, lambda ds: bool(spark_diagnostics(ds, "SPK004"))), "SPK004")
    assert not [m for m in client.messages if m.type == types.MessageType.Error]


async def test_garbage_is_logged_not_fatal(client: SparkClient, project: Path):
    uri = (project / "garbage.py").as_uri()
    client.open(uri, CODE)
    await client.diagnostics_for(uri, 1, lambda ds: bool(spark_diagnostics(ds, "SPK004")))
    ok = rng(4, 14, 20)
    for params in [None, "text", 42, [], {"uri": 3}, {"uri": uri},
                   {"uri": uri, "diagnostics": "none"},
                   {"uri": uri, "version": "1", "diagnostics": []}]:
        client.protocol.notify(NOTIFICATION, params)
    forward(client, uri, [
        None, 1, {"range": "here", "message": "m"},
        {"range": rng(-1, 0, 1), "message": "m"},
        {"range": {"start": {"line": 2, "character": 9}, "end": {"line": 1, "character": 0}},
         "message": "m"},
        {"range": ok, "message": ""}, {"range": ok, "message": 5},
        {"range": ok, "message": "x" * 1_000_000, "source": "huge", "severity": "bad",
         "code": {"value": "E1", "target": "http://x"}},
        APPEND_DIAGNOSTIC,
        *[pylance(0, 0, 1, f"noise {i}", severity=3) for i in range(20_000)],
    ])

    def warned(fragment: str) -> bool:
        return any(fragment in m.message for m in client.log_messages)

    for fragment in ["params must be an object", "params.uri must be", "params.diagnostics must",
                     "params.version must", "a diagnostic must be an object",
                     "diagnostic.range must be", "range.start.line must be",
                     "ends before it starts", "diagnostic.message must be",
                     "only the first 5,000 diagnostics", "at most 200 diagnostics per document"]:
        await wait_until(lambda f=fragment: warned(f), what=f"a log message about {fragment!r}")
    assert all(m.type == types.MessageType.Warning for m in client.log_messages
               if "otherDiagnostics" in m.message or "forwarded" in m.message)
    assert not [m for m in client.messages if m.type == types.MessageType.Error]

    # The valid diagnostics were kept, errors first, and the server answers on them.
    text = await hover_until(client, uri, 4, 16, "Pylance")
    assert "has the cause SPK004 explains above" in text
    version = client.replace(uri, CODE + "z = sales.values\n")
    await client.diagnostics_for(uri, version, lambda ds: bool(spark_diagnostics(ds, "SPK001")))
    with pytest.raises(Exception, match="explainDiagnostic"):
        await client.run(types.Command(title="x", command="spark.explainDiagnostic",
                                       arguments=[{"uri": uri, "diagnostic": {"range": 1}}]))
