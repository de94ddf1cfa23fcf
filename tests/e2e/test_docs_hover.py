"""Hover on a library call that nothing flagged: the documented signature and summary of the
installed version, from the knowledge base built by `spark kb build`."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from docs_fixtures import write_tiny_lib
from lsp_harness import SparkClient
from lsprotocol import types

from spark_lsp.kb.docs_build import build_docs

pytestmark = pytest.mark.slow  # each test starts `spark serve` processes

CODE = """import sparktinylib as stl

frame = stl.read_table("sales.tsv")
merged = stl.merge_frames(frame, frame, how="outer")
total = 1 + 2
sorter = stl.Frame.sort_values
"""


@pytest.fixture
def docs_kb(spark_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    libs = write_tiny_lib(tmp_path / "libs")
    monkeypatch.setenv("PYTHONPATH", str(libs))
    build_docs(spark_home, libraries=["sparktinylib"], progress=False)
    return spark_home


async def test_hover_on_a_library_call_shows_its_documentation(docs_kb: Path,
                                                               client: SparkClient,
                                                               project: Path):
    uri = (project / "use.py").as_uri()
    started = time.monotonic()
    client.open(uri, CODE)
    await client.diagnostics_for(uri, 1, lambda diagnostics: True)
    first_publish = time.monotonic() - started
    hover = await client.hover_at(uri, client.position(uri, "merge_frames", 3))
    assert hover is not None and isinstance(hover.contents, types.MarkupContent)
    text = hover.contents.value
    assert "merge_frames(left, right, how='inner')" in text
    assert "Merge two frames on their common columns." in text
    assert "sparktinylib 1.0" in text
    assert first_publish < 10  # diagnostics never waited for the knowledge base

    again = await client.hover_at(uri, client.position(uri, "read_table", 1))
    assert again is not None and "Read a frame from a tab-separated text file" in \
        again.contents.value  # type: ignore[union-attr]
    # a name that is not a documented API: nothing to show
    assert await client.hover_at(uri, client.position(uri, "total", 1)) is None
    # the objects its documentation's "See Also" names
    related = await client.hover_at(uri, client.position(uri, "sort_values", 1))
    assert related is not None and "See also: `Frame.to_records`, `merge_frames`" in \
        related.contents.value  # type: ignore[union-attr]
