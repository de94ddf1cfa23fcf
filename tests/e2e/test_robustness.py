"""Bad input and internal errors: logged, reported once, and the server keeps serving."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsp_harness import MISTAKE, SparkClient, spark_diagnostics, wait_until
from lsprotocol import types
from pygls.exceptions import JsonRpcException

pytestmark = pytest.mark.slow  # each test starts `spark serve` processes


def has_spk001(diagnostics: list[types.Diagnostic]) -> bool:
    return bool(spark_diagnostics(diagnostics))


def spark_diagnostic(data: object, line: int = 0) -> types.Diagnostic:
    return types.Diagnostic(
        range=types.Range(start=types.Position(line=line, character=0),
                          end=types.Position(line=line, character=4)),
        message="m", source="spark", code="SPK001", data=data)


async def test_internal_errors_keep_the_server_serving(client: SparkClient, project: Path):
    unknown = (project / "never-opened.py").as_uri()
    assert await client.hover_at(unknown, types.Position(line=0, character=0)) is None
    assert await client.actions_for(unknown, [spark_diagnostic(None)]) == []

    # a change to a document that was never opened makes pygls itself raise: the user is told
    # once, and the server goes on
    client.versions[unknown], client.texts[unknown] = 1, ""
    client.replace(unknown, "x = 1\n")
    await wait_until(lambda: [m for m in client.messages if m.type == types.MessageType.Error],
                     what="an error message")

    uri = (project / "report.py").as_uri()
    client.open(uri, MISTAKE)
    [d] = spark_diagnostics(await client.diagnostics_for(uri, 1, has_spk001))

    # diagnostics whose data is garbage, or far past the end of the file
    for data in ["nonsense", {"code": 1}, {"code": "SPK001", "fingerprint": "f", "fix": {"edits": 3},
                                          "version": 1}]:
        actions = await client.actions_for(uri, [spark_diagnostic(data, line=500)])
        assert all(a.title.startswith(("Dismiss", "Disable", "Ask Spark")) for a in actions)

    # commands with bad arguments are errors for the caller, not for the server
    for command, args in [("spark.recordOutcome", []), ("spark.recordOutcome", ["x"]),
                          ("spark.recordOutcome", [{"outcome": "shown", "code": "SPK001"}]),
                          ("spark.disableCode", [{"code": "../etc"}]), ("spark.nope", [])]:
        with pytest.raises(JsonRpcException):
            await client.workspace_execute_command_async(
                types.ExecuteCommandParams(command=command, arguments=args))

    # an edit range past the end of the document
    far = types.Position(line=400, character=7)
    v = client.edit(uri, [types.TextEdit(range=types.Range(start=far, end=far), new_text="")])
    assert has_spk001(await client.diagnostics_for(uri, v))
    hover = await client.hover_at(uri, d.range.start)
    assert hover is not None
    assert len([m for m in client.messages if m.type == types.MessageType.Error]) == 1


async def test_unwritable_journal_is_reported_once(spawn, project: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch):
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    monkeypatch.setenv("SPARK_HOME", str(blocked))
    client = await spawn("neovim")
    for name in ("a.py", "b.py"):
        uri = (project / name).as_uri()
        client.open(uri, MISTAKE)
        await client.diagnostics_for(uri, 1, has_spk001)
    warnings = await wait_until(lambda: [m for m in client.messages if "record traces" in m.message],
                                what="a warning about the journal")
    assert len(warnings) == 1 and warnings[0].type == types.MessageType.Warning
