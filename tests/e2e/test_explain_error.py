""""spark.explainError": a traceback (e.g. the terminal's selection) explained by the real server,
with the open document that raised it; shown like "Ask Spark about this" answers."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from lsp_harness import SparkClient, apply_text_edits
from lsprotocol import types

pytestmark = pytest.mark.slow

CODE = ("import pandas as pd\n\n"
        "sales = pd.read_csv('s.csv')\n"
        "extra = pd.DataFrame({'a': [3]})\n"
        "sales = sales.append(extra, ignore_index=True)\n")


def traceback_for(path: Path) -> str:
    return (f"\x1b[31mTraceback (most recent call last):\x1b[0m\n"
            f'  File "{path}", line 5, in <module>\n'
            "    sales = sales.append(extra, ignore_index=True)\n"
            '  File "/venv/lib/python3.11/site-packages/pandas/core/generic.py", line 6434, in '
            "__getattr__\n    return object.__getattribute__(self, name)\n"
            "AttributeError: 'DataFrame' object has no attribute 'append'\n")


def explain(arguments: object) -> types.Command:
    return types.Command(title="explain", command="spark.explainError", arguments=[arguments])


async def test_explain_error_with_the_open_document(client: SparkClient, project: Path):
    path = project / "sales.py"
    uri = path.as_uri()
    client.open(uri, CODE)
    await client.diagnostics_for(uri, 1, lambda ds: True)
    result = await client.run(explain({"traceback": traceback_for(path), "uri": uri}))
    rec = result["recommendation"]
    assert rec["code"] == "SPK004" and "pd.concat" in rec["example"]["after"]
    assert result["explanation"]["location"]["line"] == 5
    fix = result["fix"]
    assert fix["code"] == "SPK004" and fix["edits"]
    edits = [types.TextEdit(range=types.Range(
        start=types.Position(**e["range"]["start"]), end=types.Position(**e["range"]["end"])),
        new_text=e["newText"]) for e in fix["edits"]]
    fixed = apply_text_edits(CODE, edits, client.encoding)
    assert "sales = pd.concat([sales, extra], ignore_index=True)" in fixed
    assert result["shown"] is True
    shown = client.shown_documents[-1]
    text = Path(unquote(urlparse(shown.uri).path)).read_text()
    assert text.startswith("<!-- Spark's explanation") and "SPK004" in text


async def test_explain_error_without_a_document(client: SparkClient):
    result = await client.run(explain({"traceback": "KeyError: 'date'"}))
    assert result["recommendation"]["code"] == "SPK063" and result["fix"] is None


async def test_not_a_python_traceback_is_a_message_not_a_crash(client: SparkClient,
                                                              project: Path):
    java = 'Exception in thread "main" java.lang.Error: x\n\tat a.B.c(B.java:1)\n'
    result = await client.run(explain({"traceback": java}))
    assert "Java" in result["error"]
    assert any("Java" in m.message for m in client.messages)
    with pytest.raises(Exception, match="explainError"):
        await client.run(explain({"uri": 3}))
    uri = (project / "ok.py").as_uri()
    client.open(uri, CODE)  # the server still answers
    await client.diagnostics_for(uri, 1, lambda ds: True)
