"""The admin's side: export a memory, merge files (or an inbox) into the team memory.

Both sign with the admin's key from `$SPARK_HOME/keys`. The team file is replaced atomically,
so editors following it (`memory.watch`) see the old version or the new one, never half.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from spark_lsp.memory import keys, rollback
from spark_lsp.memory.format import (
    SUFFIX,
    MemoryFile,
    MemoryFileError,
    content_digest,
    describe,
    read_memory,
    write_memory,
)
from spark_lsp.memory.merge import merge_memories
from spark_lsp.memory.model import Conflict, Memory, utc_stamp
from spark_lsp.memory.store import LocalSources, imported_path, snapshot
from spark_lsp.memory.verify import VerifiedMemory, verify_file

log = logging.getLogger(__name__)

MERGED_DIR = "merged"
REJECTED_DIR = "rejected"


def signing_key(home: Path, trusted: keys.TrustedKeys, notes: list[str]) -> Ed25519PrivateKey:
    key = keys.load_private_key(home)
    if keys.public_text(key) not in trusted:
        notes.append(f"your key {keys.key_id(keys.public_text(key))} is not in trusted_keys: "
                     "editors will refuse files signed with it until it is added")
    return key


def load_base(path: Path | None, home: Path, trusted: keys.TrustedKeys) -> MemoryFile | None:
    """The memory an export continues: `path`, else the last imported one; None if neither."""
    candidate = path or imported_path(home)
    if not candidate.is_file():
        return None
    return verify_file(candidate, trusted).file


def _replaced(path: Path, trusted: keys.TrustedKeys) -> MemoryFile | None:
    """The signed memory an export is about to replace, whose version it must continue."""
    if not path.is_file():
        return None
    try:
        return read_memory(path, trusted)
    except MemoryFileError:
        return None


@dataclass
class ExportReport:
    path: Path
    memory: Memory
    digest: str
    notes: list[str] = field(default_factory=list)


def export_memory(home: Path, out: Path, trusted: keys.TrustedKeys, sources: LocalSources, *,
                  base: Path | None = None) -> ExportReport:
    notes: list[str] = []
    key = signing_key(home, trusted, notes)
    now = utc_stamp()
    base_file = load_base(base, home, trusted)
    memory, more = snapshot(home, key, sources, kind="memory",
                            base=base_file.memory if base_file else None, now=now)
    version = rollback.next_version(home, [base_file, _replaced(out, trusted)])
    digest = write_memory(out, memory, key, signed_at=now, version=version)
    rollback.record_written(home, version, digest, now, out)
    return ExportReport(out, memory, digest, notes + more)


@dataclass
class MergeReport:
    target: Path
    memory: Memory | None = None
    merged: list[Path] = field(default_factory=list)
    rejected: list[tuple[Path, str]] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    digest: str = ""
    changed: bool = False


def _inputs(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.glob(f"*{SUFFIX}") if not p.name.startswith("."))
    return [path]


def merge_into(home: Path, source: Path, target: Path, trusted: keys.TrustedKeys, *,
               output: Path | None = None, file_inbox: bool = True) -> MergeReport:
    """Merge `source` (a memory, a contribution, or a folder of them) into `target`.

    Every input is verified in full; a rejected one is reported (and, from a folder, moved to
    `rejected/` beside a `.reason` file) while the others go on. The result is written to
    `output` (default: `target`, replaced atomically); merged inbox files move to `merged/`.
    """
    report = MergeReport(output or target)
    key = signing_key(home, trusted, report.notes)
    current: VerifiedMemory | None = None
    if target.exists():
        current = verify_file(target, trusted)  # a broken team file stops the merge
        rollback.accept(home, current.file)  # so does one older than this machine has seen
    memories = [current.file.memory] if current else []
    files = [current.file] if current else []
    accepted: list[Path] = []
    for path in _inputs(source):
        try:
            verified = verify_file(path, trusted, allow_contribution=True)
        except MemoryFileError as exc:
            report.rejected.append((path, describe(exc, path)))
            if source.is_dir() and file_inbox:
                _file_away(path, REJECTED_DIR, describe(exc, path))
            continue
        memories.append(verified.file.memory)
        files.append(verified.file)
        accepted.append(path)
    if not memories:
        return report
    result = merge_memories(memories, trusted)
    report.memory, report.conflicts = result.memory, result.new_conflicts
    report.notes += result.notes
    report.digest = content_digest(result.memory, current.file.version if current else None)
    report.changed = current is None or report.digest != current.digest or output is not None
    if report.changed:  # an unchanged team file is left alone: editors have nothing to reload
        now = utc_stamp()
        version = rollback.next_version(home, files)
        report.digest = write_memory(report.target, result.memory, key, signed_at=now,
                                     version=version)
        rollback.record_written(home, version, report.digest, now, report.target)
    report.merged = accepted
    if source.is_dir() and file_inbox:
        for path in accepted:
            _file_away(path, MERGED_DIR)
    return report


def _file_away(path: Path, folder: str, reason: str | None = None) -> None:
    target = path.parent / folder / path.name
    try:
        target.parent.mkdir(exist_ok=True)
        shutil.move(str(path), target)
        if reason:
            target.with_name(target.name + ".reason").write_text(reason + "\n", encoding="utf-8")
    except OSError as exc:
        log.warning("cannot move %s to %s: %s", path, target, exc)
