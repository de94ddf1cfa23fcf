"""`spark mcp`: the tools through the mcp package's client, in-process and over stdio."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from spark_lsp.mcp import create_mcp_server

CODE = "import pandas as pd\nsales = pd.read_csv('s.csv')\nmatrix = sales.values\n"
TOOLS = {"review_code", "get_recommendation", "search_docs", "record_outcome", "share_insight",
         "explain_error"}


def payload(result) -> dict:
    if result.structured_content is not None:
        return result.structured_content
    return json.loads(result.content[0].text)


async def test_tools_in_process(spark_home: Path):
    async with Client(create_mcp_server()) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert names == TOOLS
        review = payload(await client.call_tool("review_code", {"code": CODE, "path": "a.py"}))
        [item] = [f for f in review["findings"] if f["finding"]["code"] == "SPK001"]
        rec = item["recommendation"]
        assert rec["example"]["after"] == "matrix = sales.to_numpy()"

        got = payload(await client.call_tool("get_recommendation", {
            "task": "should I use .values or to_numpy?", "code": CODE}))
        assert got["code"] == "SPK001" and got["sources"]["cards"]

        done = payload(await client.call_tool("record_outcome", {
            "recommendation_id": rec["id"], "outcome": "accepted"}))
        assert done["recorded"] and done["outcome"] == "accepted"
        journal = "".join(p.read_text() for p in (spark_home / "journal").glob("*.jsonl"))
        assert rec["id"] in journal and "sales.values" in journal  # the window it advised on

        shared = payload(await client.call_tool("share_insight", {
            "title": "t", "advice": "a", "example": "x = 1", "libraries": ["pandas"]}))
        assert shared["status"] == "candidate"
        assert (spark_home / "insights" / "candidates.jsonl").is_file()


@pytest.mark.parametrize("tool, args, message", [
    ("review_code", {"code": 5}, "code"),
    ("review_code", {"code": "x = 1\n" * 40_000}, "limit"),
    ("review_code", {}, "code"),
    ("get_recommendation", {"task": ["a"]}, "task"),
    ("get_recommendation", {"task": " "}, "non-empty"),
    ("record_outcome", {"recommendation_id": "x", "outcome": "accepted"}, "recommendation id"),
    ("record_outcome", {"recommendation_id": "SPK001-abcdef", "outcome": "meh"}, "outcome"),
    ("share_insight", {"title": "t", "advice": "a", "example": "e", "libraries": "pandas"},
     "libraries"),
    ("search_docs", {"query": "sort values"}, "spark kb build"),  # empty KB
])
async def test_bad_calls_are_tool_errors(tool, args, message):
    async with Client(create_mcp_server()) as client:
        result = await client.call_tool(tool, args)
        assert result.is_error
        assert message in result.content[0].text
        # the server is still there
        assert {t.name for t in (await client.list_tools()).tools} == TOOLS


@pytest.mark.slow
async def test_over_stdio(spark_home: Path):
    params = StdioServerParameters(command=sys.executable, args=["-m", "spark_lsp", "mcp"],
                                   env={**os.environ, "SPARK_HOME": str(spark_home)})
    async with Client(params) as client:
        assert {t.name for t in (await client.list_tools()).tools} == TOOLS
        got = payload(await client.call_tool("get_recommendation", {
            "task": "to_numpy or values?", "code": CODE}))
        assert got["code"] == "SPK001"
        bad = await client.call_tool("review_code", {"code": None})
        assert bad.is_error
