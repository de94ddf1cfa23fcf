"""Diagnostics over LSP: shape, positions in the client's encoding, sync, staleness, odd input."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from lsp_harness import (
    MISTAKE,
    MISTAKE_LINE,
    SparkClient,
    apply_text_edits,
    offset_of,
    spark_diagnostics,
    units,
    wait_until,
)
from lsprotocol import types

pytestmark = pytest.mark.slow  # each test starts `spark serve` processes

MATCHED = "sales_frame.values"


def text_at(text: str, r: types.Range, encoding: str) -> str:
    return text[offset_of(text, r.start, encoding):offset_of(text, r.end, encoding)]


def has_spk001(diagnostics: list[types.Diagnostic]) -> bool:
    return bool(spark_diagnostics(diagnostics))


async def test_diagnostic_for_known_mistake(client: SparkClient, project: Path):
    uri = (project / "report.py").as_uri()
    client.open(uri, MISTAKE)
    [d] = spark_diagnostics(await client.diagnostics_for(uri, 1, has_spk001))

    line = MISTAKE.splitlines()[MISTAKE_LINE]
    prefix = line[:line.index(MATCHED)]
    expected_encoding = {"neovim": "utf-8", "visual_studio_code": "utf-16"}[client.spec]
    assert client.encoding == expected_encoding
    assert d.range == types.Range(
        start=types.Position(line=MISTAKE_LINE, character=units(prefix, expected_encoding)),
        end=types.Position(line=MISTAKE_LINE,
                           character=units(prefix + MATCHED, expected_encoding)))
    assert text_at(MISTAKE, d.range, client.encoding) == MATCHED
    assert d.severity == types.DiagnosticSeverity.Information
    assert d.source == "spark"
    assert d.code_description is not None and d.code_description.href.endswith("#spk001")
    assert "sales_frame" in d.message

    data = d.data
    assert data["code"] == "SPK001" and data["matched"] == MATCHED and data["version"] == 1
    assert data["title"] and len(data["fingerprint"]) >= 8
    assert data["line"] == MISTAKE_LINE + 1
    assert data["before"] == line
    assert data["after"] == line.replace(MATCHED, "sales_frame.to_numpy()")
    fix = data["fix"]
    assert fix["applicability"] == "safe" and fix["message"]
    [edit] = fix["edits"]
    assert edit["newText"] == "sales_frame.to_numpy()"
    assert edit["range"] == {"start": {"line": d.range.start.line, "character": d.range.start.character},
                             "end": {"line": d.range.end.line, "character": d.range.end.character}}


async def test_incremental_edits_move_and_clear_diagnostics(client: SparkClient, project: Path):
    uri = (project / "incremental.py").as_uri()
    client.open(uri, 'import pandas as pd\n\nsales_frame = pd.read_csv("s.csv")\n')
    assert not has_spk001(await client.diagnostics_for(uri, 1))

    end = types.Position(line=3, character=0)
    v = client.edit(uri, [types.TextEdit(range=types.Range(start=end, end=end),
                                         new_text='tag = "é📊"; grid = sales_frame.values\n')])
    [d] = spark_diagnostics(await client.diagnostics_for(uri, v, has_spk001))
    assert d.range.start.line == 3
    assert text_at(client.texts[uri], d.range, client.encoding) == MATCHED

    top = types.Position(line=0, character=0)
    v = client.edit(uri, [types.TextEdit(range=types.Range(start=top, end=top),
                                         new_text="# first\n# second\n")])
    [d] = spark_diagnostics(await client.diagnostics_for(uri, v, has_spk001))
    assert d.range.start.line == 5
    assert text_at(client.texts[uri], d.range, client.encoding) == MATCHED

    # two changes in one notification: edit the flagged expression, then a line above it
    start = client.position(uri, ".values")
    stop = client.position(uri, ".values", len(".values"))
    v = client.edit(uri, [
        types.TextEdit(range=types.Range(start=start, end=stop), new_text=".to_numpy()"),
        types.TextEdit(range=types.Range(start=types.Position(line=0, character=2),
                                         end=types.Position(line=0, character=7)), new_text="1st"),
    ])
    assert not has_spk001(await client.diagnostics_for(uri, v))
    assert client.texts[uri].startswith("# 1st\n")


async def test_newer_edits_win_and_nothing_stale_is_published(client: SparkClient, project: Path):
    """Edits sent faster than analysis: every publish matches the text of its version."""
    uri = (project / "typing.py").as_uri()
    base = 'import pandas as pd\nsales_frame = pd.read_csv("s.csv")\n'
    client.open(uri, base)
    texts = {1: base}
    for i in range(30):
        flagged = i % 2 == 0
        body = f"col_{i} = sales_frame.values\n" if flagged else f"col_{i} = sales_frame.to_numpy()\n"
        texts[client.replace(uri, base + "\n" * (i % 5) + body)] = client.texts[uri]
    last = client.versions[uri]
    await client.diagnostics_for(uri, last)

    versions = [p.version for p in client.published if p.uri == uri]
    assert versions == sorted(versions), "a publish went back in time"
    assert len(versions) < 31, "pending analyses were not cancelled by newer edits"
    for p in client.published:
        if p.uri != uri:
            continue
        assert p.version is not None
        for d in spark_diagnostics(list(p.diagnostics)):
            assert text_at(texts[p.version], d.range, client.encoding) == MATCHED
            assert d.data["version"] == p.version
    # the last text has col_28 flagged? 29 is odd: no finding
    assert not has_spk001(list(client.latest(uri).diagnostics))  # type: ignore[union-attr]


async def test_half_typed_code_survives(client: SparkClient, project: Path):
    uri = (project / "half.py").as_uri()
    half = ("import pandas as pd\n"
            "sales_frame = pd.read_csv(\n"
            "grid = sales_frame.values\n"
            "def broken(:\n"
            "    return sales_frame.\n"
            "class \n")
    client.open(uri, half)
    await client.diagnostics_for(uri, 1)
    assert await client.hover_at(uri, types.Position(line=3, character=5)) is None
    await client.actions_for(uri, [types.Diagnostic(
        range=types.Range(start=types.Position(line=3, character=0),
                          end=types.Position(line=3, character=4)), message="x")])
    fixed = half.replace("pd.read_csv(\n", 'pd.read_csv("s.csv")\n')
    v = client.replace(uri, fixed)
    [d] = spark_diagnostics(await client.diagnostics_for(uri, v, has_spk001))
    assert text_at(fixed, d.range, client.encoding) == MATCHED


async def test_odd_characters_survive(client: SparkClient, project: Path):
    """Lone surrogates, U+FFFD, NUL, form feeds, CR line ends: positions stay right."""
    uri = (project / "odd.py").as_uri()
    text = ("import pandas as pd\r\n"
            "broken = '\ud800 lone surrogate \ufffd replacement \x00 nul'\r\n"
            "\x0c\n"
            "# section after a form feed\r"
            'sales_frame = pd.read_csv("s.csv")\n'
            "tag = '\udcff'; grid = sales_frame.values\n")
    client.open(uri, text)
    [d] = spark_diagnostics(await client.diagnostics_for(uri, 1, has_spk001))
    assert text_at(text, d.range, client.encoding) == MATCHED
    assert d.range.start.line == 5  # the client's lines: \r\n, \n and \r only

    hover = await client.hover_at(uri, client.position(uri, MATCHED, 3))
    assert hover is not None and "sales_frame.to_numpy()" in hover.contents.value  # type: ignore[union-attr]

    # an incremental edit below the form feed lands on the right line
    start = client.position(uri, "grid")
    v = client.edit(uri, [types.TextEdit(range=types.Range(start=start, end=start),
                                         new_text="more = sales_frame.values; ")])
    diags = spark_diagnostics(await client.diagnostics_for(
        uri, v, lambda d: len(spark_diagnostics(d)) == 2))
    assert [text_at(client.texts[uri], x.range, client.encoding) for x in diags] == [MATCHED] * 2

    # apply the quick fix: the edit is in the client's units, around the surrogates
    actions = await client.actions_for(uri, diags[:1])
    [fix] = [a for a in actions if a.is_preferred]
    v = client.apply(uri, fix.edit)  # type: ignore[arg-type]
    assert "more = sales_frame.to_numpy(); grid = sales_frame.values" in client.texts[uri]
    assert "\ud800 lone surrogate" in client.texts[uri]
    assert len(spark_diagnostics(await client.diagnostics_for(uri, v))) == 1


async def test_twenty_thousand_lines(spawn, project: Path):
    """A 20,000-line module: diagnostics arrive, and the server answers while it analyses."""
    client = await spawn("visual_studio_code")  # position encodings are covered elsewhere
    uri = (project / "big.py").as_uri()
    lines = ["import pandas as pd", 'sales_frame = pd.read_csv("s.csv")', ""]
    i = 0
    while len(lines) < 19_990:  # functions of about twenty lines, as real modules have
        lines += ["", f"def step_{i}(frame):", f'    scaled = frame["a"] + {i}',
                  *(f'    scaled = scaled + frame["c{k}"] * {k}' for k in range(16)),
                  "    if scaled.sum() > 10:", "        scaled = scaled - 1", "    return scaled"]
        i += 1
    lines += ["", "grid = sales_frame.values"]
    text = "\n".join(lines) + "\n"
    assert len(lines) >= 19_990
    client.open(uri, text)
    started = time.monotonic()
    assert await client.hover_at(uri, types.Position(line=0, character=0)) is None
    assert time.monotonic() - started < 2, "the event loop was blocked by analysis"
    [d] = spark_diagnostics(await client.diagnostics_for(uri, 1, has_spk001, timeout=120))
    assert d.range.start.line == len(lines) - 1

    v = client.edit(uri, [types.TextEdit(range=types.Range(start=types.Position(line=3, character=0),
                                                           end=types.Position(line=4, character=0)),
                                         new_text="")])
    [d] = spark_diagnostics(await client.diagnostics_for(uri, v, has_spk001, timeout=60))
    assert d.range.start.line == len(lines) - 2


async def test_huge_document_is_not_analysed(client: SparkClient, project: Path):
    uri = (project / "huge.py").as_uri()
    filler = "x = 1  # padding padding padding padding padding padding padding padding\n"
    huge = MISTAKE + filler * (5_000_000 // len(filler) + 10)
    client.open(uri, huge)
    assert await client.diagnostics_for(uri, 1, timeout=60) == []
    client.replace(uri, huge + "y = 2\n")
    assert await client.diagnostics_for(uri, 2, timeout=60) == []
    warnings = [m for m in client.messages if "huge.py" in m.message]
    assert len(warnings) == 1 and "limit" in warnings[0].message
    assert await client.hover_at(uri, client.position(uri, MATCHED, 2)) is None

    v = client.replace(uri, MISTAKE)
    assert has_spk001(await client.diagnostics_for(uri, v, has_spk001))


async def test_close_clears_diagnostics(client: SparkClient, project: Path):
    uri = (project / "closing.py").as_uri()
    client.open(uri, MISTAKE)
    await client.diagnostics_for(uri, 1, has_spk001)
    client.text_document_did_close(types.DidCloseTextDocumentParams(
        text_document=types.TextDocumentIdentifier(uri=uri)))
    await wait_until(lambda: client.latest(uri) is not None and not client.latest(uri).diagnostics,
                     what="empty diagnostics after close")


def test_apply_text_edits_helper():
    """The test client's own edit arithmetic (UTF-8 / UTF-16 columns)."""
    text = "a📊b\nc\n"
    r = types.Range(start=types.Position(line=0, character=5), end=types.Position(line=0, character=6))
    assert apply_text_edits(text, [types.TextEdit(range=r, new_text="X")], "utf-8") == "a📊X\nc\n"
    r = types.Range(start=types.Position(line=0, character=3), end=types.Position(line=0, character=4))
    assert apply_text_edits(text, [types.TextEdit(range=r, new_text="X")], "utf-16") == "a📊X\nc\n"
