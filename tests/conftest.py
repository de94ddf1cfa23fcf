import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def spark_cache_dir(tmp_path_factory):
    """One cache directory per test session (the ONNX query encoder is made there once)."""
    return tmp_path_factory.mktemp("spark-cache")


@pytest.fixture(autouse=True)
def spark_home(tmp_path, monkeypatch, spark_cache_dir):
    """Every test gets its own SPARK_HOME: no test touches the user's knowledge base or cache."""
    home = tmp_path / "spark-home"
    monkeypatch.setenv("SPARK_HOME", str(home))
    monkeypatch.setenv("SPARK_CACHE_DIR", str(spark_cache_dir))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return home
