"""Settings from the editor (initializationOptions, workspace/configuration) and the project."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lsp_harness import CLIENT_NAMES, MISTAKE, SparkClient, read_traces, spark_diagnostics
from lsprotocol import types

pytestmark = pytest.mark.slow  # each test starts `spark serve` processes


def has_spk001(diagnostics: list[types.Diagnostic]) -> bool:
    return bool(spark_diagnostics(diagnostics))


def no_spk001(diagnostics: list[types.Diagnostic]) -> bool:
    return not spark_diagnostics(diagnostics)


async def test_configuration_change_republishes(client: SparkClient, project: Path):
    uri = (project / "report.py").as_uri()
    client.open(uri, MISTAKE)
    await client.diagnostics_for(uri, 1, has_spk001)

    client.set_configuration({"disabledCodes": ["SPK001"]}, section="spark")
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    await client.diagnostics_for(uri, 1, no_spk001)

    client.set_configuration({"severity": {"SPK001": "error"}}, section="spark")
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    [d] = spark_diagnostics(await client.diagnostics_for(uri, 1, has_spk001))
    assert d.severity == types.DiagnosticSeverity.Error


@pytest.mark.parametrize("spec", CLIENT_NAMES)
async def test_initialization_options(spawn, project: Path, spec: str):
    client = await spawn(spec, options={"enabledCodes": ["SPK9"], "debounceMs": 5})
    uri = (project / "report.py").as_uri()
    client.open(uri, MISTAKE)
    assert not await client.diagnostics_for(uri, 1)

    # the pulled `spark` configuration wins over initializationOptions
    client.set_configuration({"enabledCodes": ["SPK0"]}, section="spark")
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    await client.diagnostics_for(uri, 1, has_spk001)


async def test_workspace_pyproject(spawn, project: Path):
    (project / "pyproject.toml").write_text('[tool.spark]\nignore = ["SPK001"]\n')
    client = await spawn("neovim")
    uri = (project / "report.py").as_uri()
    client.open(uri, MISTAKE)
    assert no_spk001(await client.diagnostics_for(uri, 1))


async def test_editor_trace_object_is_not_trace_recording(spawn, project: Path, spark_home: Path):
    """VS Code's `spark.trace.server` setting must not be read as `trace`."""
    client = await spawn("visual_studio_code", configuration={"trace": {"server": "verbose"}})
    uri = (project / "report.py").as_uri()
    client.open(uri, MISTAKE)
    await client.diagnostics_for(uri, 1, has_spk001)
    await asyncio.sleep(0.3)
    assert [t["outcome"] for t in read_traces(spark_home)] == ["shown"]


@pytest.mark.parametrize("how", ["initializationOptions", "configuration"])
async def test_trace_off_records_nothing(spawn, project: Path, spark_home: Path, how: str):
    off = {"trace": False}
    client = await spawn("visual_studio_code", **({"options": off} if how == "initializationOptions"
                                                  else {"configuration": off}))
    uri = (project / "report.py").as_uri()
    client.open(uri, MISTAKE)
    [d] = spark_diagnostics(await client.diagnostics_for(uri, 1, has_spk001))
    fix = next(a for a in await client.actions_for(uri, [d]) if a.is_preferred)
    assert await client.run(fix.command) == {"recorded": False}  # type: ignore[arg-type]
    client.save(uri)
    await asyncio.sleep(0.3)
    assert not (spark_home / "journal").exists()
