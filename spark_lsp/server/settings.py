"""Editor settings (initializationOptions, workspace/configuration section "spark") -> Settings."""

from __future__ import annotations

import logging
from dataclasses import fields
from pathlib import Path
from typing import Any

from spark_lsp.analysis import AnalysisOptions
from spark_lsp.config import Settings, load_settings

log = logging.getLogger(__name__)

SECTION = "spark"
MAX_DEBOUNCE_MS = 5000
_LISTS = {"select": "select", "enabledCodes": "select", "ignore": "ignore",
          "disabledCodes": "ignore", "cards": "cards"}
_OWN_KEYS = {"select", "ignore", "cards", "trace", "debounce_ms", "severity", "versions", "client"}
_MEMORY = {"memoryPath": "memory_path", "memory_path": "memory_path",
           "memoryInbox": "memory_inbox", "memory_inbox": "memory_inbox"}
_TRUSTED = {"trustedKeys": "trusted_keys", "trusted_keys": "trusted_keys",
            "trustedKeysFile": "trusted_keys_file", "trusted_keys_file": "trusted_keys_file"}
_PASSED_THROUGH = {f.name for f in fields(Settings)} - _OWN_KEYS
_TRUE = {"true", "on", "1", "yes"}
_FALSE = {"false", "off", "0", "no"}


def editor_settings(raw: Any) -> dict[str, Any]:
    """The keys of an editor's `spark` settings that Settings understands, with checked types.

    Accepts the section itself or an object holding it under "spark" (or "settings"). A VS Code
    `trace` object (`{"server": "verbose"}`, LSP message tracing) is not trace recording.
    """
    if not isinstance(raw, dict):
        return {}
    for key in (SECTION, "settings"):
        if isinstance(raw.get(key), dict):
            raw = raw[key]
            break
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _LISTS:
            if isinstance(value, str):
                value = value.split(",")
            if isinstance(value, list):
                items = [str(v).strip() for v in value if str(v).strip()]
                out[_LISTS[key]] = items if key == "cards" else [v.upper() for v in items]
        elif key in ("trace", "traceRecording"):
            if isinstance(value, bool):
                out["trace"] = value
            elif isinstance(value, str) and value.lower() in _TRUE | _FALSE:
                out["trace"] = value.lower() in _TRUE
        elif key in ("debounceMs", "debounce_ms"):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                out["debounce_ms"] = int(min(max(value, 0), MAX_DEBOUNCE_MS))
        elif key == "severity" and isinstance(value, (str, dict)):
            out["severity"] = value
        elif key == "versions" and isinstance(value, dict):
            out["versions"] = {str(k): str(v) for k, v in value.items()}
        elif key in _MEMORY:
            if isinstance(value, str):
                out[_MEMORY[key]] = value
        elif key in _TRUSTED:
            if isinstance(value, str):
                value = [value]
            if isinstance(value, list):
                out[_TRUSTED[key]] = [str(v) for v in value]
        elif key in _PASSED_THROUGH:
            out[key] = value  # a setting added to Settings later; Settings.merged checks it
        else:
            log.debug("ignoring editor setting %r", key)
    return out


def resolve_settings(root: Path | None, init_options: Any, configuration: Any,
                     client: str) -> Settings:
    """defaults < user file < workspace pyproject < environment < initializationOptions <
    workspace/configuration."""
    editor = {**editor_settings(init_options), **editor_settings(configuration)}
    settings = load_settings(root, editor)
    settings.client = client
    return settings


def analysis_options(settings: Settings, versions: dict[str, str],
                     session_ignore: set[str]) -> AnalysisOptions:
    return AnalysisOptions(
        select=set(settings.select) if settings.select else None,
        ignore=set(settings.ignore) | session_ignore,
        severity=dict(settings.severity),
        versions=versions,
    )


def client_name(name: str | None) -> str:
    """A short, stable name for the editor from initialize's clientInfo."""
    if not name:
        return "unknown"
    lowered = name.lower()
    for needle, short in (("visual studio code", "vscode"), ("vscode", "vscode"),
                          ("code - oss", "vscode"), ("vscodium", "vscode"),
                          ("code-server", "vscode"), ("eglot", "emacs"), ("cursor", "cursor"),
                          ("neovim", "neovim"), ("nvim", "neovim"), ("vim", "vim"),
                          ("emacs", "emacs"), ("helix", "helix"), ("zed", "zed"),
                          ("sublime", "sublime"), ("jupyter", "jupyterlab")):
        if needle in lowered:
            return short
    return "".join(c if c.isalnum() else "-" for c in lowered).strip("-")[:40] or "unknown"
