"""Real memory files for the tests: keys, cards, and hostile variants written byte by byte."""

from __future__ import annotations

import copy
import io
import json
import zipfile
from pathlib import Path
from typing import Any

from spark_lsp.memory import keys
from spark_lsp.memory.format import to_bytes, write_memory
from spark_lsp.memory.model import CardEntry, Memory, Outcome, Suppression

T0 = "2025-01-01T00:00:00Z"

CARD: dict[str, Any] = {
    "code": "SPK901",
    "title": "Team: iterate with itertuples, not iterrows",
    "libraries": {"pandas": ">=1"},
    "severity": "warning",
    "message": "`$DF.iterrows()` is slow and loses dtypes",
    "rules": [{"pattern": "$DF.iterrows()"}],
    "why": "iterrows builds a Series per row: slow, and each row loses the column dtypes.",
    "fix": {"applicability": "display", "description": "Use itertuples() or vectorise"},
    "examples": [{"bad": "for i, r in df.iterrows():\n    print(r)\n",
                  "good": "for r in df.itertuples():\n    print(r)\n"}],
    "sources": [{"library": "pandas", "object": "pandas.DataFrame.iterrows"}],
}


def card(code: str = "SPK901", **changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(CARD)
    data["code"] = code
    data.update(changes)
    return data


def hanging_card(code: str = "SPK902") -> dict[str, Any]:
    """A card whose fix transform is a regex with catastrophic backtracking."""
    data = card(code)
    data["rules"] = [{"pattern": "$DF.iterrows()", "transform": {
        "NAME": {"replace": {"source": "$DF", "replace": "(a+)+$", "by": ""}}}}]
    return data


class Admin:
    """A signing key in its own SPARK_HOME-like folder."""

    def __init__(self, folder: Path) -> None:
        self.home = folder
        _, self.public = keys.generate_key(folder)
        self.key = keys.load_private_key(folder)

    @classmethod
    def existing(cls, folder: Path) -> Admin:
        """The key already in `folder` (e.g. made by `spark memory keygen`)."""
        admin = cls.__new__(cls)
        admin.home, admin.key = folder, keys.load_private_key(folder)
        admin.public = keys.public_text(admin.key)
        return admin

    @property
    def trusted(self) -> keys.TrustedKeys:
        return keys.trusted_keys([self.public])


def memory_with(admin: Admin, cards: list[dict[str, Any]] = (), *, updated: str = T0,
                outcomes: int = 0, suppress: dict[str, str] | None = None,
                kind: str = "memory") -> Memory:
    m = Memory(kind=kind)
    for data in cards:
        m.cards[data["code"]] = CardEntry.create(admin.key, data, updated)
    for i in range(outcomes):
        tid = f"{kind[0]}{i:031d}"
        m.outcomes[tid] = Outcome(tid, "SPK901", ("accepted", "rejected", "shown")[i % 3],
                                  "2025-01-01", f"user{i % 4}", {"pandas": "2.2.3"})
    for code, reason in (suppress or {}).items():
        m.suppressions[code] = Suppression.create(admin.key, code, reason, updated)
    return m


def write(path: Path, admin: Admin, memory: Memory | None = None) -> Path:
    write_memory(path, memory or memory_with(admin, [card()], outcomes=3), admin.key)
    return path


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def rezip(path: Path, files: dict[str, bytes] | list[tuple[str, bytes]]) -> Path:
    """Write `files` as a zip (no signing: for hostile variants of a signed file)."""
    items = files.items() if isinstance(files, dict) else files
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in items:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return path


def resign(path: Path, admin: Admin, files: dict[str, bytes]) -> Path:
    """Rewrite members, update the manifest's hashes and sign it again with `admin`'s key:
    hostile *content* from a trusted signer (a compromised or careless admin)."""
    import hashlib

    from spark_lsp.memory.format import _signed_message
    from spark_lsp.memory.model import canonical, sha256

    manifest = json.loads(files["manifest.json"])
    for name, data in files.items():
        if name.endswith(".jsonl"):
            manifest["members"][name] = {"sha256": hashlib.sha256(data).hexdigest(),
                                         "bytes": len(data)}
    files["manifest.json"] = canonical(manifest) + b"\n"
    signature = json.loads(files["signature.json"])
    signature["manifest_sha256"] = sha256(files["manifest.json"])
    signature["signature"] = keys.sign(admin.key, _signed_message(sha256(files["manifest.json"]),
                                                                  signature["signed_at"]))
    files["signature.json"] = canonical(signature) + b"\n"
    return rezip(path, files)


def signed_bytes(admin: Admin, memory: Memory) -> bytes:
    return to_bytes(memory, admin.key, signed_at=T0)
