import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def spark_home(tmp_path, monkeypatch):
    """Every test gets its own SPARK_HOME: no test touches the user's knowledge base."""
    home = tmp_path / "spark-home"
    monkeypatch.setenv("SPARK_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return home
