"""End-to-end tests: the real `spark serve` in a subprocess, driven over stdio by pytest-lsp.

Every test runs once as VS Code and once as Neovim (their recorded client capabilities: Neovim
negotiates UTF-8 positions, VS Code UTF-16). The server inherits the test's SPARK_HOME (set by
the autouse fixture in tests/conftest.py), so each test has its own trace journal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsp_harness import CLIENT_NAMES, CONFIG, SparkClient


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    return root


@pytest_lsp.fixture(params=list(CLIENT_NAMES), config=CONFIG)
async def client(request: pytest.FixtureRequest, lsp_client: SparkClient, project: Path):
    await lsp_client.begin(request.param, project)
    yield
    await lsp_client.shutdown_session()


@pytest.fixture
async def spawn(project: Path):
    """Start more servers, as one editor each: `await spawn(spec, options=..., configuration=...)`."""
    started: list[SparkClient] = []

    async def start(spec: str, options: Any = None, configuration: Any = None,
                    root: Path | None = None) -> SparkClient:
        client = await CONFIG.start()
        assert isinstance(client, SparkClient)
        started.append(client)
        if configuration is not None:
            client.set_configuration(configuration, section="spark")
        await client.begin(spec, root or project, options)
        return client

    yield start
    for client in started:
        await client.shutdown_session()
        await client.stop()
