"""The memory file: one zip, signed with ed25519, read with every limit checked first.

Layout (format version 1; docs/team-memory.md is the full description):

    manifest.json       {"format": "spark-memory", "version": 1, "kind": "memory"|"contribution",
                         "snippets": bool, "spark": "<version that wrote it>",
                         "counts": {...}, "members": {"cards.jsonl": {"sha256": ..., "bytes": n}, ...}}
    signature.json      {"algorithm": "ed25519", "key": "ed25519:...", "key_id": ...,
                         "manifest_sha256": ..., "signed_at": "...Z", "signature": ...}
    cards.jsonl         card versions        (one canonical JSON object a line, sorted by key)
    outcomes.jsonl      outcomes by trace id
    suppressions.jsonl  team-wide suppressions
    tombstones.jsonl    deletions
    conflicts.jsonl     card versions that lost to a concurrent edit

The signature covers `"spark-memory-v1\\0" + sha256(manifest.json) + "\\0" + signed_at`, and the
manifest holds each member's SHA-256: the hash chain covers every byte that is read. Members are
written in a fixed order with fixed timestamps, so equal content gives an identical file.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from spark_lsp import __version__
from spark_lsp.memory import keys
from spark_lsp.memory.model import (
    KINDS,
    FileVersion,
    InvalidRecord,
    Memory,
    canonical,
    sha256,
    utc_stamp,
)
from spark_lsp.memory.safeload import UnsafeInput, loads_json

FORMAT_NAME = "spark-memory"
FORMAT_VERSION = 1
SUFFIX = ".sparkmem"
MANIFEST = "manifest.json"
SIGNATURE = "signature.json"
MEMBERS = ("cards.jsonl", "outcomes.jsonl", "suppressions.jsonl", "tombstones.jsonl",
           "conflicts.jsonl")
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class Limits:
    file_bytes: int = 64 * 1024 * 1024  # the file on disk
    total_bytes: int = 512 * 1024 * 1024  # all members, uncompressed
    member_bytes: int = 256 * 1024 * 1024  # one member, uncompressed
    members: int = 16
    line_bytes: int = 1024 * 1024  # one record
    depth: int = 32  # JSON nesting
    cards: int = 20_000
    outcomes: int = 2_000_000


DEFAULT_LIMITS = Limits()


class MemoryFileError(Exception):
    """A memory file that is refused. `problem` is a short stable name, `str()` the message."""

    def __init__(self, problem: str, message: str) -> None:
        super().__init__(message)
        self.problem = problem


@dataclass
class MemoryFile:
    """A memory read from a file whose signature and hashes were checked."""

    memory: Memory
    signer: str  # the public key that signed the file
    signed_at: str
    trusted: bool  # the signer is one of the trusted admin keys
    digest: str  # sha256 of manifest.json: names this content
    path: Path | None = None
    size: int = 0
    version: FileVersion | None = None  # team and sequence; None: written before they existed

    @property
    def signer_id(self) -> str:
        return keys.key_id(self.signer)


# -- writing ---------------------------------------------------------------------------------

def member_bytes(memory: Memory) -> dict[str, bytes]:
    return {name: b"".join(canonical(r) + b"\n" for r in records)
            for name, records in memory.records().items()}


def manifest_for(memory: Memory, members: dict[str, bytes],
                 version: FileVersion | None = None) -> bytes:
    manifest: dict[str, Any] = {
        "format": FORMAT_NAME, "version": FORMAT_VERSION, "kind": memory.kind,
        "snippets": memory.snippets, "spark": __version__, "counts": memory.counts(),
        "members": {name: {"sha256": sha256(data), "bytes": len(data)}
                    for name, data in members.items()},
    }
    if version is not None:  # readers of format 1 ignore fields they do not know
        manifest.update(team=version.team, sequence=version.sequence)
    return canonical(manifest) + b"\n"


def content_digest(memory: Memory, version: FileVersion | None = None) -> str:
    """The digest a file of this memory (and version) would carry (sha256 of its manifest)."""
    return sha256(manifest_for(memory, member_bytes(memory), version))


def _signed_message(manifest_sha: str, signed_at: str) -> bytes:
    return b"spark-memory-v1\0" + manifest_sha.encode() + b"\0" + signed_at.encode()


def to_bytes(memory: Memory, key: Ed25519PrivateKey, *, signed_at: str | None = None,
             version: FileVersion | None = None) -> bytes:
    members = member_bytes(memory)
    manifest = manifest_for(memory, members, version)
    signed_at = signed_at or utc_stamp()
    public = keys.public_text(key)
    signature = {
        "algorithm": "ed25519", "key": public, "key_id": keys.key_id(public),
        "manifest_sha256": sha256(manifest), "signed_at": signed_at,
        "signature": keys.sign(key, _signed_message(sha256(manifest), signed_at)),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in [(MANIFEST, manifest), (SIGNATURE, canonical(signature) + b"\n"),
                           *members.items()]:
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            zf.writestr(info, data, compresslevel=6)
    return buffer.getvalue()


def write_memory(path: Path, memory: Memory, key: Ed25519PrivateKey, *,
                 signed_at: str | None = None, version: FileVersion | None = None) -> str:
    """Sign and write `memory` to `path` atomically (readers see the old or the new file).

    Admins' writes of the team memory pass a `version` (`memory.rollback.next_version`), which
    lets readers refuse an older file replayed in its place. Returns the file's digest.
    """
    data = to_bytes(memory, key, signed_at=signed_at, version=version)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return content_digest(memory, version)


# -- reading ---------------------------------------------------------------------------------

def escapes(name: str) -> bool:
    """An archive path that would land outside the folder it is extracted to."""
    if not name or "\\" in name or "\0" in name or name.startswith("/") or _DRIVE.match(name):
        return True
    return any(part == ".." for part in PurePosixPath(name).parts)


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """At most `limit` bytes, whatever the header claims (a zip bomb stops here)."""
    try:
        with zf.open(info) as fh:
            data = fh.read(limit + 1)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, RuntimeError) as exc:
        raise MemoryFileError("corrupt", f"member {info.filename} is damaged ({exc})") from None
    if len(data) > limit:
        raise MemoryFileError("oversized", f"member {info.filename} is larger than {limit:,} "
                                           "bytes uncompressed")
    return data


def _json_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limits: Limits) -> dict[str, Any]:
    data = _read_member(zf, info, min(limits.line_bytes, 64 * 1024))
    try:
        value = loads_json(data, max_depth=limits.depth)
    except UnsafeInput as exc:
        raise MemoryFileError("unsafe-data", f"{info.filename}: {exc}") from None
    if not isinstance(value, dict):
        raise MemoryFileError("invalid", f"{info.filename} is not a JSON object")
    return value


def read_memory(path: Path, trusted: keys.TrustedKeys, *, limits: Limits = DEFAULT_LIMITS,
                allow_contribution: bool = False, require_trusted: bool = True) -> MemoryFile:
    """Read and check a memory file; raise MemoryFileError naming the first problem.

    Checks, in order: size on disk, zip structure, member names (escaping paths), member count
    and sizes, the manifest's format and version (a newer format is refused before anything
    else is trusted), the signature, the signer (a trusted admin key; a contribution may be
    self-signed when `allow_contribution`), each member's hash, then every record: strict JSON,
    bounded depth, known fields and types, valid per-entry signatures.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise MemoryFileError("missing", f"no memory file at {path}") from None
    except OSError as exc:
        raise MemoryFileError("missing", f"cannot read {path}: {exc}") from None
    if size > limits.file_bytes:
        raise MemoryFileError("oversized", f"{path.name} is {size:,} bytes, over the limit of "
                                           f"{limits.file_bytes:,}")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise MemoryFileError("corrupt", f"{path.name} is not a readable memory file: it is "
                                         f"truncated or corrupt ({exc})") from None
    with zf:
        return _read_open(zf, path, size, trusted, limits, allow_contribution, require_trusted)


def _read_open(zf: zipfile.ZipFile, path: Path, size: int, trusted: keys.TrustedKeys,
               limits: Limits, allow_contribution: bool, require_trusted: bool) -> MemoryFile:
    infos = zf.infolist()
    for info in infos:
        if escapes(info.filename):
            raise MemoryFileError("path-escape", f"archive member {info.filename!r} has a path "
                                                 "that escapes its folder; refused")
    if len(infos) > limits.members:
        raise MemoryFileError("oversized", f"{len(infos)} archive members, over the limit of "
                                           f"{limits.members}")
    by_name: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        if info.filename in by_name:
            raise MemoryFileError("corrupt", f"archive member {info.filename} appears twice")
        by_name[info.filename] = info
        if info.file_size > limits.member_bytes:
            raise MemoryFileError("oversized", f"member {info.filename} is {info.file_size:,} "
                                               f"bytes, over the limit of {limits.member_bytes:,}")
    if sum(i.file_size for i in infos) > limits.total_bytes:
        raise MemoryFileError("oversized", f"members total over {limits.total_bytes:,} bytes")
    unexpected = set(by_name) - {MANIFEST, SIGNATURE, *MEMBERS}
    if unexpected:
        raise MemoryFileError("invalid", f"unexpected archive member(s) "
                                         f"{', '.join(sorted(unexpected))}")
    if MANIFEST not in by_name:
        raise MemoryFileError("invalid", f"{path.name} has no manifest.json: not a Spark "
                                         "memory file")
    manifest_raw = _read_member(zf, by_name[MANIFEST], 64 * 1024)
    manifest = _json_member(zf, by_name[MANIFEST], limits)
    _check_manifest(manifest)
    signer, signed_at = _check_signature(zf, by_name, manifest_raw, limits)
    is_trusted = signer in trusted
    kind = manifest["kind"]
    if not is_trusted and require_trusted and not (allow_contribution and kind == "contribution"):
        known = ", ".join(trusted.ids()) or "none configured"
        raise MemoryFileError("untrusted", f"signed by key {keys.key_id(signer)}, which is not a "
                                           f"trusted admin key (trusted: {known})")
    memory = Memory(kind=kind, snippets=bool(manifest.get("snippets", False)))
    declared = manifest["members"]
    total_records = 0
    for name in MEMBERS:
        if name not in declared:
            if name in by_name:
                raise MemoryFileError("invalid", f"member {name} is not in the signed manifest")
            continue
        if name not in by_name:
            raise MemoryFileError("corrupt", f"member {name} is missing (truncated file?)")
        data = _read_member(zf, by_name[name], limits.member_bytes)
        if not isinstance(declared[name], dict) or sha256(data) != declared[name].get("sha256"):
            raise MemoryFileError("corrupt", f"member {name} does not match the signed manifest "
                                             "(changed after signing, or damaged)")
        total_records += _parse_records(memory, name, data, limits)
    _check_counts(memory, limits)
    for entry in [*memory.cards.values(), *memory.suppressions.values(),
                  *memory.tombstones.values()]:
        if not entry.signature_ok():
            what = getattr(entry, "code", "") or getattr(entry, "key", "")
            raise MemoryFileError("bad-signature", f"{entry.KIND} {what}: its author's signature "
                                                   "does not verify")
    return MemoryFile(memory, signer, signed_at, is_trusted, sha256(manifest_raw), path, size,
                      _manifest_version(manifest))


def _check_manifest(manifest: dict[str, Any]) -> None:
    if manifest.get("format") != FORMAT_NAME:
        raise MemoryFileError("invalid", "not a Spark memory file (manifest format is "
                                         f"{manifest.get('format')!r})")
    version = manifest.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise MemoryFileError("invalid", f"bad format version {version!r}")
    if version > FORMAT_VERSION:
        raise MemoryFileError("newer-format", f"written in memory format {version} by a newer "
                                              f"Spark ({manifest.get('spark', '?')}); this Spark "
                                              f"({__version__}) reads format {FORMAT_VERSION}. "
                                              "Upgrade Spark to use it")
    if manifest.get("kind") not in KINDS:
        raise MemoryFileError("invalid", f"unknown kind {manifest.get('kind')!r}")
    if not isinstance(manifest.get("members"), dict):
        raise MemoryFileError("invalid", "the manifest lists no members")
    _manifest_version(manifest)


_TEAM = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


def _manifest_version(manifest: dict[str, Any]) -> FileVersion | None:
    """`team` and `sequence`: both or neither (files written before rollback protection)."""
    team, sequence = manifest.get("team"), manifest.get("sequence")
    if team is None and sequence is None:
        return None
    if not isinstance(team, str) or not _TEAM.match(team):
        raise MemoryFileError("invalid", f"bad team id {str(team)[:80]!r} in the manifest")
    if (not isinstance(sequence, int) or isinstance(sequence, bool)
            or not 1 <= sequence < 2**53):
        raise MemoryFileError("invalid", f"bad sequence number {str(sequence)[:40]!r} in the "
                                         "manifest")
    return FileVersion(team, sequence)


def _check_signature(zf: zipfile.ZipFile, by_name: dict[str, zipfile.ZipInfo],
                     manifest_raw: bytes, limits: Limits) -> tuple[str, str]:
    if SIGNATURE not in by_name:
        raise MemoryFileError("unsigned", "the file is not signed (no signature.json); only "
                                          "signed memory files are accepted")
    sig = _json_member(zf, by_name[SIGNATURE], limits)
    key, signature, signed_at = sig.get("key"), sig.get("signature"), sig.get("signed_at")
    if sig.get("algorithm") != "ed25519" or not all(
            isinstance(v, str) for v in (key, signature, signed_at)):
        raise MemoryFileError("unsigned", "signature.json is not an ed25519 signature")
    try:
        key = keys.normalize(key)  # type: ignore[arg-type]
    except keys.KeyProblem as exc:
        raise MemoryFileError("bad-signature", f"signature key: {exc}") from None
    if not keys.verify(key, signature, _signed_message(sha256(manifest_raw), signed_at)):  # type: ignore[arg-type]
        raise MemoryFileError("bad-signature", f"the signature by key {keys.key_id(key)} does not "
                                               "verify: the file was changed after signing")
    return key, signed_at  # type: ignore[return-value]


def _parse_records(memory: Memory, name: str, data: bytes, limits: Limits) -> int:
    count = 0
    for number, line in enumerate(data.split(b"\n"), 1):
        if not line.strip():
            continue
        if len(line) > limits.line_bytes:
            raise MemoryFileError("oversized", f"{name} line {number} is over "
                                               f"{limits.line_bytes:,} bytes")
        try:
            memory.add(name, loads_json(line, max_depth=limits.depth))
        except UnsafeInput as exc:
            raise MemoryFileError("unsafe-data", f"{name} line {number}: {exc}") from None
        except InvalidRecord as exc:
            raise MemoryFileError("invalid", f"{name} line {number}: {exc}") from None
        count += 1
        if count > limits.outcomes:
            raise MemoryFileError("oversized", f"{name} has more than {limits.outcomes:,} records")
    return count


def _check_counts(memory: Memory, limits: Limits) -> None:
    if len(memory.cards) > limits.cards:
        raise MemoryFileError("oversized", f"{len(memory.cards):,} cards, over the limit of "
                                           f"{limits.cards:,}")


def describe(problem: MemoryFileError, path: Path | str) -> str:
    """One line for a user: which file, what is wrong, and that nothing changed."""
    return f"memory file {path} rejected ({problem.problem}): {problem}"

