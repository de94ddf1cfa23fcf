"""Organic experience recorded by the language server: a library call the user rewrites (where
no card spoke) becomes an `organic` trace once the user moves on, and `spark learn` clusters the
recurring rewrite into a candidate card."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsp_harness import SparkClient, read_traces, wait_until
from lsprotocol import types

from spark_lsp.analysis import load_default_cards
from spark_lsp.kb.traces import file_hash
from spark_lsp.learning import LearnConfig, learn

pytestmark = pytest.mark.slow  # each test starts `spark serve` processes

CODE = ("from sklearn.feature_extraction.text import TfidfVectorizer\n"
        "\n"
        "{obj} = TfidfVectorizer()\n"
        "{var} = {obj}.get_feature_names()\n"
        "print({var}[:5])\n")


async def type_at(client: SparkClient, uri: str, after: str, text: str) -> None:
    """Type `text` one character at a time right after `after`, as an editor sends it."""
    for i, ch in enumerate(text):
        pos = client.position(uri, after + text[:i], len(after) + i)
        v = client.edit(uri, [types.TextEdit(range=types.Range(start=pos, end=pos), new_text=ch)])
        await client.diagnostics_for(uri, v)


async def move_on(client: SparkClient, uri: str, line: str) -> None:
    """An edit elsewhere: a new last line."""
    end = types.Position(line=len(client.texts[uri].splitlines()), character=0)
    v = client.edit(uri, [types.TextEdit(range=types.Range(start=end, end=end), new_text=line)])
    await client.diagnostics_for(uri, v)


def organic(home: Path) -> list[dict]:
    return [t for t in read_traces(home) if t["outcome"] == "organic"]


async def test_recurring_rewrites_of_a_library_call_are_recorded_and_learned(
        client: SparkClient, project: Path, spark_home: Path):
    names = [("vec", "names"), ("cv", "cols"), ("tfidf", "feats")]
    for n, (obj, var) in enumerate(names, start=1):
        uri = (project / f"features_{n}.py").as_uri()
        client.open(uri, CODE.format(obj=obj, var=var))
        await client.diagnostics_for(uri, 1)
        await type_at(client, uri, f"{obj}.get_feature_names", "_out")
        assert len(organic(spark_home)) == n - 1  # mid-rewrite: no verdict yet
        await move_on(client, uri, f"print(len({var}))\n")
        found = await wait_until(lambda n=n: organic(spark_home)[n - 1:],
                                 what=f"organic trace #{n}")
        assert len(organic(spark_home)) == n
        t = found[-1]
        assert t["before"] == f"{var} = {obj}.get_feature_names()"
        assert t["after"] == f"{var} = {obj}.get_feature_names_out()"
        assert t["code"] == "" and t["file_hash"] == file_hash(uri) and "sklearn" in t["versions"]
        assert str(project) not in str(t)

    # changing data (not the API) is not experience
    uri = (project / "features_1.py").as_uri()
    await type_at(client, uri, "print(names[:5", "0")
    client.save(uri)
    await move_on(client, uri, "x = 1\n")
    assert len(organic(spark_home)) == 3

    # `spark learn` (here with one person's support allowed) makes the rewrite a candidate
    report = learn(spark_home, config=LearnConfig(min_users=1), dry_run=True,
                   cards=load_default_cards()[0])
    [d] = [d for d in report.decisions if d.traces == 3]
    assert d.outcome == "created" and d.library == "sklearn", d.reason
    assert d.template.endswith(".get_feature_names_out")
