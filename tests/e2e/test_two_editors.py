"""Two editors, two server processes, one SPARK_HOME: both publish and both journal traces."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from lsp_harness import MISTAKE, SHORT_NAMES, read_traces, spark_diagnostics, wait_until
from lsprotocol import types

pytestmark = pytest.mark.slow  # each test starts `spark serve` processes


async def test_two_servers_share_a_spark_home(spawn, project: Path, spark_home: Path,
                                              capfd: pytest.CaptureFixture[str]):
    assert os.environ["SPARK_HOME"] == str(spark_home)  # what the servers inherit
    editors = [await spawn("visual_studio_code"), await spawn("neovim")]
    uri = (project / "shared.py").as_uri()
    for client in editors:
        client.open(uri, MISTAKE)

    async def accept(client) -> None:
        [d] = spark_diagnostics(await client.diagnostics_for(
            uri, 1, lambda ds: bool(spark_diagnostics(ds))))
        fix = next(a for a in await client.actions_for(uri, [d]) if a.is_preferred)
        client.apply(uri, fix.edit)
        assert await client.run(fix.command) == {"recorded": True}

    await asyncio.gather(*(accept(c) for c in editors))
    accepted = await wait_until(
        lambda: [t for t in read_traces(spark_home) if t["outcome"] == "accepted"][1:] and
        [t for t in read_traces(spark_home) if t["outcome"] == "accepted"],
        what="an accepted trace from each server")
    assert sorted(t["client"] for t in accepted) == sorted(SHORT_NAMES.values())

    journals = sorted((spark_home / "journal").glob("*.jsonl"))
    assert len(journals) == 2  # one file per process: no shared writer, no lock
    for path in journals:
        outcomes = [line for line in path.read_text().splitlines() if line]
        assert len(outcomes) == 2  # shown + accepted
    for client in editors:
        assert not [m for m in client.messages if m.type == types.MessageType.Error]
    err = capfd.readouterr().err.lower()
    assert "lock" not in err and "traceback" not in err

