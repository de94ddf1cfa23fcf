"""One Settings object: defaults < user file < workspace pyproject < environment < editor."""

from __future__ import annotations

import logging
import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import platformdirs

log = logging.getLogger(__name__)

SEVERITIES = ("error", "warning", "information", "hint")


def spark_home() -> Path:
    """`SPARK_HOME`, or the platform's user data folder."""
    env = os.environ.get("SPARK_HOME")
    return Path(env).expanduser() if env else Path(platformdirs.user_data_dir("spark", "spark"))


def spark_cache_dir() -> Path:
    """`SPARK_CACHE_DIR`, or the platform's user cache folder: files Spark can make again (the
    exported query encoder)."""
    env = os.environ.get("SPARK_CACHE_DIR")
    return Path(env).expanduser() if env else Path(platformdirs.user_cache_dir("spark-lsp"))


def kb_path() -> Path:
    return spark_home() / "spark.duckdb"


@dataclass
class Settings:
    select: list[str] | None = None
    ignore: list[str] = field(default_factory=list)
    severity: dict[str, str] = field(default_factory=dict)  # code or "*" -> severity
    trace: bool = True  # record shown/accepted/rejected/corrected outcomes
    debounce_ms: int = 15
    cards: list[str] = field(default_factory=list)  # extra folders of cards
    versions: dict[str, str] = field(default_factory=dict)  # override detected versions
    client: str = "unknown"
    # team memory: `[tool.spark.memory] path`, `inbox`, `trusted_keys`, `trusted_keys_file`
    memory_path: str = ""
    memory_inbox: str = ""
    trusted_keys: list[str] = field(default_factory=list)
    trusted_keys_file: list[str] = field(default_factory=list)
    # `[tool.spark.memory] store`: where the memory tables live ("" = the local DuckDB file;
    # "postgresql://…" = a server, see kb/storage.py)
    memory_store: str = ""
    # [tool.spark.llm]: base_url, model, api_key_env, timeout — nothing is sent without it
    llm: dict[str, Any] = field(default_factory=dict)

    def merged(self, data: dict[str, Any] | None) -> Settings:
        """A copy with values from a camelCase or snake_case mapping; unknown keys are logged."""
        if not data:
            return self
        known = {f.name for f in fields(self)}
        aliases = {"debounceMs": "debounce_ms", "enabledCodes": "select", "disabledCodes": "ignore",
                   "traceRecording": "trace", "enable": None, "memoryPath": "memory_path",
                   "memoryInbox": "memory_inbox", "trustedKeys": "trusted_keys",
                   "trustedKeysFile": "trusted_keys_file", "memoryStore": "memory_store"}
        changes: dict[str, Any] = {}
        if isinstance(data.get("memory"), dict):  # the `[tool.spark.memory]` table
            data = {**{k: v for k, v in data.items() if k != "memory"},
                    **{_MEMORY_KEYS[k]: v for k, v in data["memory"].items() if k in _MEMORY_KEYS}}
        for key, value in data.items():
            name = aliases.get(key, key)
            if name is None:
                continue
            if name not in known:
                log.info("ignoring unknown setting %r", key)
                continue
            if name == "severity" and isinstance(value, str):
                value = {"*": value}
            if name == "severity" and isinstance(value, dict):
                bad = {v for v in value.values() if v not in SEVERITIES}
                if bad:
                    log.warning("ignoring unknown severities %s", sorted(bad))
                    value = {k: v for k, v in value.items() if v in SEVERITIES}
                value = {**self.severity, **value}
            if name in ("select", "ignore", "trusted_keys_file") and isinstance(value, str):
                value = [v.strip() for v in value.split(",") if v.strip()]
            changes[name] = value
        try:
            return replace(self, **changes)
        except TypeError as exc:
            log.warning("bad settings %s: %s", data, exc)
            return self


_MEMORY_KEYS = {"path": "memory_path", "inbox": "memory_inbox", "trusted_keys": "trusted_keys",
                "trusted_keys_file": "trusted_keys_file", "store": "memory_store"}


def _resolve_memory_paths(tool: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Relative paths of `[tool.spark.memory]` are relative to the pyproject.toml's folder."""
    memory = tool.get("memory")
    if not isinstance(memory, dict):
        return tool
    memory = dict(memory)
    for key in ("path", "inbox"):
        if isinstance(memory.get(key), str) and memory[key]:
            memory[key] = str(folder / Path(memory[key]).expanduser())
    files = memory.get("trusted_keys_file")
    if isinstance(files, str):
        files = [files]
    if isinstance(files, list):
        memory["trusted_keys_file"] = [str(folder / Path(str(f)).expanduser()) for f in files]
    return {**tool, "memory": memory}


def find_pyproject(start: Path) -> Path | None:
    start = start.resolve()
    for folder in [start, *start.parents] if start.is_dir() else [start.parent, *start.parent.parents]:
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def read_pyproject(path: Path | None) -> dict[str, Any]:
    """`[tool.spark]` of a pyproject.toml; a broken file is logged and ignored."""
    if path is None:
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        log.warning("cannot read %s: %s", path, exc)
        return {}
    tool = data.get("tool", {}).get("spark", {})
    return tool if isinstance(tool, dict) else {}


def load_settings(workspace: Path | None = None, editor: dict[str, Any] | None = None) -> Settings:
    settings = Settings()
    user_file = spark_home() / "config.toml"
    if user_file.is_file():
        try:
            settings = settings.merged(tomllib.loads(user_file.read_text(encoding="utf-8")))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            log.warning("cannot read %s: %s", user_file, exc)
    if workspace is not None:
        pyproject = find_pyproject(workspace)
        tool = read_pyproject(pyproject)
        if pyproject is not None:
            tool = _resolve_memory_paths(tool, pyproject.parent)
        settings = settings.merged(tool)
    env: dict[str, Any] = {}
    if os.environ.get("SPARK_SELECT"):
        env["select"] = os.environ["SPARK_SELECT"]
    if os.environ.get("SPARK_IGNORE"):
        env["ignore"] = os.environ["SPARK_IGNORE"]
    if os.environ.get("SPARK_TRACE") in ("0", "false", "off"):
        env["trace"] = False
    if os.environ.get("SPARK_MEMORY_STORE") is not None:
        env["memory_store"] = os.environ["SPARK_MEMORY_STORE"]
    settings = settings.merged(env)
    return settings.merged(editor)
