"""Rollback protection: an older, validly signed team memory put back in place is refused.

A signature proves who wrote a file, not that it is the latest: anyone who can write the shared
folder could put last month's file back (undoing a deletion, a suppression, a fixed card). So
every version an admin writes carries, in its signed manifest, the team memory it belongs to
(`team`, minted with the first version and carried by every later one) and a `sequence` that
grows with each version. Each machine remembers, per team, the highest version it accepted
(`$SPARK_HOME/memory/versions.json`) and refuses anything older:

- a lower sequence: refused (`rollback`);
- the same sequence with other content: two admins wrote concurrently; the one signed later is
  accepted, an earlier one is refused;
- a file without a version (written before versions existed) at a path where this machine has
  accepted a versioned team memory: refused, since it could be any old file.

Contributions (`spark memory sync`) carry no version: a merge counts their content once
whatever their age, so replaying one changes nothing.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from spark_lsp.memory.format import MemoryFile, MemoryFileError
from spark_lsp.memory.model import FileVersion, utc_stamp

try:
    import fcntl
except ImportError:  # Windows: no advisory lock; writes stay atomic (rename)
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

STATE_FILE = "versions.json"
PROBLEM = "rollback"


def state_path(home: Path) -> Path:
    return home / "memory" / STATE_FILE


@contextmanager
def _locked(home: Path) -> Iterator[None]:
    """Serializes read-modify-write of the state file (the server and the CLI both record)."""
    path = state_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "a+b") as fh:
        if fcntl is not None:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _load(home: Path) -> dict[str, dict[str, Any]]:
    """{"teams": {team: {"sequence", "digest", "signed_at", "accepted_at"}},
    "paths": {absolute path of a team memory: its team}}"""
    try:
        data = json.loads(state_path(home).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"teams": {}, "paths": {}}
    except (OSError, ValueError) as exc:
        # A damaged state file must not silently disable the protection.
        raise MemoryFileError(PROBLEM, f"cannot read the accepted memory versions "
                                       f"{state_path(home)}: {exc}; fix or remove it") from None
    if not isinstance(data, dict) or not isinstance(data.get("teams"), dict):
        raise MemoryFileError(PROBLEM, f"{state_path(home)} is not a versions file; fix or "
                                       "remove it")
    paths = data.get("paths")
    return {"teams": {str(k): v for k, v in data["teams"].items() if isinstance(v, dict)},
            "paths": ({str(k): str(v) for k, v in paths.items()} if isinstance(paths, dict)
                      else {})}


def accepted_versions(home: Path) -> dict[str, dict[str, Any]]:
    """team -> {"sequence", "digest", "signed_at", "accepted_at"} of the newest accepted file."""
    return _load(home)["teams"]


def _key(path: Path | None) -> str | None:
    return str(Path(path).expanduser().resolve()) if path is not None else None


def _write(home: Path, state: dict[str, dict[str, Any]]) -> None:
    path = state_path(home)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(state, fh, indent=1, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _refusal(mf: MemoryFile, state: dict[str, dict[str, Any]]) -> str | None:
    """Why `mf` is older than what this machine accepted; None when it may be used."""
    if mf.memory.kind != "memory":
        return None
    name = mf.path.name if mf.path is not None else "the memory"
    version = mf.version
    if version is None:
        if _key(mf.path) not in state["paths"]:
            return None
        return (f"{name} carries no version number (it was written before versions existed), "
                "and this machine has already accepted a versioned team memory from this path: "
                "it could be an old file put back. An admin can merge it into the current team "
                "memory to give its content a version")
    seen = state["teams"].get(version.team)
    if seen is None:
        return None
    last, when = int(seen.get("sequence", 0)), str(seen.get("signed_at", ""))
    if version.sequence > last:
        return None
    if version.sequence == last and (mf.digest == seen.get("digest") or mf.signed_at > when):
        return None  # the same file, or the later of two versions written concurrently
    what = ("an older copy" if version.sequence < last
            else "a concurrent version signed earlier than the one in use")
    return (f"{name} is {version.describe()} (signed {mf.signed_at}), but version {last} (signed "
            f"{when}) was already accepted on this machine: {what} put back in place of the "
            "current file is refused. If the admins really want the old content back, they "
            "merge the old file into the current team memory, which makes a newer version")


def check(home: Path, mf: MemoryFile) -> None:
    """Raise MemoryFileError(`rollback`) when `mf` is older than what was accepted here."""
    reason = _refusal(mf, _load(home))
    if reason:
        raise MemoryFileError(PROBLEM, reason)


def accept(home: Path, mf: MemoryFile) -> None:
    """Check `mf` and remember its version as the newest of its team, atomically."""
    if mf.memory.kind != "memory":
        return
    with _locked(home):
        state = _load(home)
        reason = _refusal(mf, state)
        if reason:
            raise MemoryFileError(PROBLEM, reason)
        if mf.version is not None:
            _remember(home, state, mf.version, mf.digest, mf.signed_at, mf.path)


def record_written(home: Path, version: FileVersion, digest: str, signed_at: str,
                   path: Path) -> None:
    """An admin's own write (to `path`) is the newest version of its team on this machine."""
    with _locked(home):
        _remember(home, _load(home), version, digest, signed_at, path)


def _remember(home: Path, state: dict[str, dict[str, Any]], version: FileVersion, digest: str,
              signed_at: str, path: Path | None) -> None:
    seen = state["teams"].get(version.team, {})
    newer = ((int(seen.get("sequence", 0)), str(seen.get("signed_at", "")))
             < (version.sequence, signed_at))
    if newer:
        state["teams"][version.team] = {"sequence": version.sequence, "digest": digest,
                                        "signed_at": signed_at, "accepted_at": utc_stamp()}
    key = _key(path)
    pinned = False
    if key is not None and state["paths"].get(key) != version.team:
        state["paths"][key] = version.team  # an unversioned file here is now refused
        pinned = True
    if newer or pinned:
        _write(home, state)


def next_version(home: Path, predecessors: Iterable[MemoryFile | None]) -> FileVersion:
    """The version of a new file that continues `predecessors` (the team file first).

    The team is the first predecessor's that has one (a new id when none has); the sequence is
    one above every known version of that team, this machine's record included.
    """
    versions = [mf.version for mf in predecessors if mf is not None and mf.version is not None]
    team = versions[0].team if versions else uuid.uuid4().hex[:16]
    known = [v.sequence for v in versions if v.team == team]
    seen = accepted_versions(home).get(team)
    if seen is not None:
        known.append(int(seen.get("sequence", 0)))
    return FileVersion(team, max(known, default=0) + 1)
