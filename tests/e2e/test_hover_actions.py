"""Hover, code actions and the traces they leave: shown, accepted, rejected, corrected."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lsp_harness import (
    MISTAKE,
    MISTAKE_LINE,
    SHORT_NAMES,
    SparkClient,
    read_traces,
    spark_diagnostics,
    wait_traces,
)
from lsprotocol import types

from spark_lsp.analysis import load_default_cards
from spark_lsp.kb.traces import file_hash

pytestmark = pytest.mark.slow  # each test starts `spark serve` processes

FIXED = MISTAKE.replace("sales_frame.values", "sales_frame.to_numpy()")


def has_spk001(diagnostics: list[types.Diagnostic]) -> bool:
    return bool(spark_diagnostics(diagnostics))


def no_spk001(diagnostics: list[types.Diagnostic]) -> bool:
    return not spark_diagnostics(diagnostics)


async def open_mistake(client: SparkClient, project: Path, name: str = "report.py"
                       ) -> tuple[str, types.Diagnostic]:
    uri = (project / name).as_uri()
    client.open(uri, MISTAKE)
    [d] = spark_diagnostics(await client.diagnostics_for(uri, 1, has_spk001))
    return uri, d


def action(actions: list[types.CodeAction], title_start: str) -> types.CodeAction:
    [found] = [a for a in actions if a.title.startswith(title_start)]
    return found


async def test_hover_explains_with_the_users_names(client: SparkClient, project: Path):
    uri, d = await open_mistake(client, project)
    hover = await client.hover_at(uri, client.position(uri, "sales_frame.values", 4))
    assert hover is not None
    assert isinstance(hover.contents, types.MarkupContent)
    assert hover.contents.kind == types.MarkupKind.Markdown
    text = hover.contents.value
    cards, _ = load_default_cards()
    why = next(c.why for c in cards if c.code == "SPK001")
    assert " ".join(why.split()[:12]) in " ".join(text.split())
    assert "matrix = sales_frame.values" in text  # before, as the user wrote it
    assert "matrix = sales_frame.to_numpy()" in text  # after, with the user's names
    assert "safe" in text
    assert "pandas.DataFrame.to_numpy" in text  # sources
    assert hover.range == d.range

    # the end of the range still counts; elsewhere there is nothing to say
    assert await client.hover_at(uri, d.range.end) is not None
    assert await client.hover_at(uri, types.Position(line=0, character=3)) is None
    assert await client.hover_at(uri, types.Position(line=MISTAKE_LINE, character=0)) is None


async def test_quick_fix_applies_and_records_accepted(client: SparkClient, project: Path,
                                                      spark_home: Path):
    uri, d = await open_mistake(client, project)
    actions = await client.actions_for(uri, [d])
    fix = action(actions, "SPK001:")
    assert fix.kind == types.CodeActionKind.QuickFix and fix.is_preferred
    assert "(unsafe)" not in fix.title
    assert fix.diagnostics and fix.diagnostics[0].code == "SPK001"
    assert fix.command is not None and fix.command.command == "spark.recordOutcome"
    [args] = fix.command.arguments  # type: ignore[misc]
    assert args["outcome"] == "accepted" and args["uri"] == uri
    assert args["fingerprint"] == d.data["fingerprint"] and args["line"] == MISTAKE_LINE + 1
    assert args["before"].endswith("matrix = sales_frame.values")
    assert args["after"].endswith("matrix = sales_frame.to_numpy()")
    if client.spec == "visual_studio_code":  # it supports versioned documentChanges
        assert fix.edit is not None and fix.edit.document_changes

    v = client.apply(uri, fix.edit)  # type: ignore[arg-type]
    assert client.texts[uri] == FIXED
    assert await client.run(fix.command) == {"recorded": True}
    await client.diagnostics_for(uri, v, no_spk001)

    [accepted] = await wait_traces(spark_home, lambda t: t["outcome"] == "accepted")
    assert accepted["code"] == "SPK001" and accepted["fingerprint"] == d.data["fingerprint"]
    assert accepted["client"] == SHORT_NAMES[client.spec]
    assert accepted["file_hash"] == file_hash(uri) and accepted["line"] == MISTAKE_LINE + 1
    assert "sales_frame.values" in accepted["before"]
    assert "sales_frame.to_numpy()" in accepted["after"]
    assert accepted["versions"].get("pandas")

    published = client.publish_count(uri)
    client.save(uri)  # settles pending corrections: an accepted fix is not one
    await client.publishes(uri, published + 1)
    await asyncio.sleep(0.3)  # journal writes happen in a worker thread
    traces = read_traces(spark_home)
    assert [t["outcome"] for t in traces].count("shown") == 1
    assert not [t for t in traces if t["outcome"] == "corrected"]
    journal = "".join(p.read_text() for p in (spark_home / "journal").glob("*.jsonl"))
    assert str(project) not in journal and "report.py" not in journal  # files by hash only


async def test_dismiss_inserts_comment_and_records_rejected(client: SparkClient, project: Path,
                                                            spark_home: Path):
    uri, d = await open_mistake(client, project)
    dismiss = action(await client.actions_for(uri, [d]), "Dismiss SPK001 here")
    assert not dismiss.is_preferred
    v = client.apply(uri, dismiss.edit)  # type: ignore[arg-type]
    line = client.texts[uri].splitlines()[MISTAKE_LINE]
    assert line == 'label = "📊 total"; matrix = sales_frame.values  # spark: ignore[SPK001]'
    await client.run(dismiss.command)  # type: ignore[arg-type]
    await client.diagnostics_for(uri, v, no_spk001)
    [rejected] = await wait_traces(spark_home, lambda t: t["outcome"] == "rejected")
    assert rejected["fingerprint"] == d.data["fingerprint"]
    assert rejected["after"].endswith("# spark: ignore[SPK001]")

    # the rejected suggestion is not shown again in this workspace for the same code, even
    # once its comment is gone and the line has moved (learning/suppress.py)
    v = client.replace(uri, "\n\n" + MISTAKE)
    await client.diagnostics_for(uri, v, no_spk001)

    # a line that already ignores another code gets this one added to its list
    other = MISTAKE.replace("sales_frame.values", "sales_frame.head().values")
    v = client.replace(uri, other.replace(".values\n", ".values  # note # spark: ignore[SPK999]\n"))
    [d] = spark_diagnostics(await client.diagnostics_for(uri, v, has_spk001))
    dismiss = action(await client.actions_for(uri, [d]), "Dismiss SPK001 here")
    v = client.apply(uri, dismiss.edit)  # type: ignore[arg-type]
    assert client.texts[uri].splitlines()[MISTAKE_LINE].endswith(
        "# note # spark: ignore[SPK999, SPK001]")
    await client.diagnostics_for(uri, v, no_spk001)


async def test_corrected_when_the_user_rewrites_the_line(client: SparkClient, project: Path,
                                                         spark_home: Path):
    uri, d = await open_mistake(client, project)
    # typed in steps: the finding vanishes mid-typing, then the line reads differently
    start = client.position(uri, "sales_frame.values")
    end = client.position(uri, "sales_frame.values", len("sales_frame.values"))
    v = client.edit(uri, [types.TextEdit(range=types.Range(start=start, end=end),
                                         new_text="sales_frame.val")])
    await client.diagnostics_for(uri, v, no_spk001)
    end = client.position(uri, "sales_frame.val", len("sales_frame.val"))
    v = client.edit(uri, [types.TextEdit(range=types.Range(start=start, end=end),
                                         new_text="np.asarray(sales_frame)")])
    await client.diagnostics_for(uri, v, no_spk001)
    assert not [t for t in read_traces(spark_home) if t["outcome"] == "corrected"]

    client.save(uri)
    [corrected] = await wait_traces(spark_home, lambda t: t["outcome"] == "corrected")
    assert corrected["code"] == "SPK001" and corrected["fingerprint"] == d.data["fingerprint"]
    assert corrected["line"] == MISTAKE_LINE + 1
    assert "matrix = sales_frame.values" in corrected["before"]
    assert "matrix = np.asarray(sales_frame)" in corrected["after"]
    assert "print(matrix.sum())" in corrected["after"]  # a window of context around it
    assert corrected["file_hash"] == file_hash(uri)
    assert not [t for t in read_traces(spark_home) if t["outcome"] in ("accepted", "rejected")]


async def test_unsafe_fix_title_and_preference(client: SparkClient, project: Path):
    """Unsafe fixes say so and are not preferred (data built as the server builds it)."""
    uri, d = await open_mistake(client, project)
    d.data["fix"]["applicability"] = "unsafe"
    fix = action(await client.actions_for(uri, [d]), "SPK001:")
    assert fix.title.endswith("(unsafe)") and not fix.is_preferred


async def test_disable_code_action_republishes(client: SparkClient, project: Path):
    (project / "pyproject.toml").write_text('[project]\nname = "demo"\n')
    before = (project / "pyproject.toml").read_text()
    uri, d = await open_mistake(client, project)
    other = (project / "other.py").as_uri()
    client.open(other, MISTAKE)
    await client.diagnostics_for(other, 1, has_spk001)

    disable = action(await client.actions_for(uri, [d]), "Disable SPK001 in this workspace")
    assert disable.edit is None and disable.command is not None
    assert disable.command.command == "spark.disableCode"
    result = await client.run(disable.command)
    assert "SPK001" in result["disabled"]
    await client.diagnostics_for(uri, 1, no_spk001)
    await client.diagnostics_for(other, 1, no_spk001)
    [message] = [m for m in client.messages if "SPK001" in m.message]
    assert "[tool.spark]" in message.message and "pyproject.toml" in message.message
    assert (project / "pyproject.toml").read_text() == before  # told, not rewritten
