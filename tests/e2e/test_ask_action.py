""""Ask Spark about this": a code action on any selection whose command shows the
recommendation as a markdown document (window/showDocument), and the hover's additions."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from lsp_harness import MISTAKE, SparkClient, spark_diagnostics
from lsprotocol import types

pytestmark = pytest.mark.slow

HALF_TYPED = "import pandas as pd\nsales = pd.read_csv('s.csv')\ntotals = sales.groupby(\n"


async def test_ask_spark_on_a_selection_shows_a_document(client: SparkClient, project: Path):
    uri = (project / "report.py").as_uri()
    client.open(uri, MISTAKE)
    [d] = spark_diagnostics(await client.diagnostics_for(uri, 1, lambda ds: bool(
        spark_diagnostics(ds))))
    actions = await client.actions_for(uri, [d])
    [ask] = [a for a in actions if a.title == "Ask Spark about this"]
    assert ask.command is not None and ask.command.command == "spark.askSpark"

    result = await client.run(ask.command)
    assert result["recommendation"]["code"] == "SPK001"
    assert "sales_frame.to_numpy()" in result["recommendation"]["example"]["after"]
    assert result["shown"] is True
    [shown] = client.shown_documents
    assert shown.uri == result["document"]
    text = Path(unquote(urlparse(shown.uri).path)).read_text()
    assert text.startswith("<!-- Spark's answer") and "**Why:**" in text
    assert "sales_frame.to_numpy()" in text and "SPK001" in text


async def test_ask_on_half_typed_code_answers(client: SparkClient, project: Path):
    uri = (project / "half.py").as_uri()
    client.open(uri, HALF_TYPED)
    await client.diagnostics_for(uri, 1, lambda ds: True)
    command = types.Command(title="ask", command="spark.askSpark", arguments=[{
        "uri": uri, "range": {"start": {"line": 2, "character": 0},
                              "end": {"line": 2, "character": 23}}}])
    result = await client.run(command)
    rec = result["recommendation"]
    assert rec["title"] and rec["intent"]["libraries"].get("pandas")
    assert any(o["name"] == "sales" for o in rec["intent"]["objects"])


async def test_ask_with_bad_arguments_is_an_error_not_a_crash(client: SparkClient,
                                                              project: Path):
    bad = types.Command(title="ask", command="spark.askSpark", arguments=[{"uri": 3}])
    with pytest.raises(Exception, match="askSpark"):
        await client.run(bad)
    uri = (project / "ok.py").as_uri()
    client.open(uri, MISTAKE)  # the server still answers
    await client.diagnostics_for(uri, 1, lambda ds: bool(spark_diagnostics(ds)))


async def test_hover_adds_confidence_from_the_agent(client: SparkClient, project: Path):
    uri = (project / "report.py").as_uri()
    client.open(uri, MISTAKE)
    [d] = spark_diagnostics(await client.diagnostics_for(uri, 1, lambda ds: bool(
        spark_diagnostics(ds))))
    hover = await client.hover_at(uri, d.range.start)
    assert hover is not None
    assert "Confidence:" in hover.contents.value  # type: ignore[union-attr]
