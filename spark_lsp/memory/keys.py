"""Ed25519 signing keys (through `cryptography`) and the team's trusted admin keys.

A public key is written `ed25519:<base64 of its 32 bytes>`; its *key id* is the first 16 hex
digits of the SHA-256 of those bytes. The private key lives in `$SPARK_HOME/keys/` (PKCS#8 PEM,
mode 0600, folder 0700) and never leaves the machine.

The team configuration lists the keys editors trust:

    [tool.spark.memory]
    path = "//share/team/spark.sparkmem"
    trusted_keys = ["ed25519:..."]          # and/or
    trusted_keys_file = "spark-admins.txt"  # one key a line, '#' comments
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

PREFIX = "ed25519:"
KEY_DIR = "keys"
PRIVATE_NAME = "memory_ed25519"


class KeyProblem(ValueError):
    """A key that cannot be read or used, worded for the user."""


def key_id(public: str) -> str:
    return hashlib.sha256(_raw(public)).hexdigest()[:16]


def _raw(public: str) -> bytes:
    text = public.strip().removeprefix(PREFIX)
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise KeyProblem(f"not an ed25519 public key: {public[:60]!r}") from None
    if len(raw) != 32:
        raise KeyProblem(f"not an ed25519 public key ({len(raw)} bytes, expected 32)")
    return raw


def normalize(public: str) -> str:
    """`ed25519:<base64>` for a key given with or without its prefix; KeyProblem if invalid."""
    return PREFIX + base64.b64encode(_raw(public)).decode("ascii")


def public_text(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw,
                                        serialization.PublicFormat.Raw)
    return PREFIX + base64.b64encode(raw).decode("ascii")


def sign(key: Ed25519PrivateKey, message: bytes) -> str:
    return base64.b64encode(key.sign(message)).decode("ascii")


def verify(public: str, signature: str, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(_raw(public)).verify(
            base64.b64decode(signature, validate=True), message)
    except (InvalidSignature, KeyProblem, binascii.Error, ValueError):
        return False
    return True


# -- the private key -------------------------------------------------------------------------

def private_key_path(home: Path) -> Path:
    return home / KEY_DIR / PRIVATE_NAME


def generate_key(home: Path, *, force: bool = False) -> tuple[Path, str]:
    """Write a new private key (0600) under `home`; return its path and the public key.

    Refuses to replace an existing key unless `force`: files signed with it could no longer be
    re-signed, and editors trusting it would have to be told the new one.
    """
    path = private_key_path(home)
    if path.exists() and not force:
        raise KeyProblem(f"a signing key already exists at {path} (public key "
                        f"{public_text(load_private_key(home))}); pass --force to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    public = public_text(key)
    path.with_name(PRIVATE_NAME + ".pub").write_text(public + "\n", encoding="utf-8")
    return path, public


def load_private_key(home: Path) -> Ed25519PrivateKey:
    path = private_key_path(home)
    try:
        mode = path.stat().st_mode & 0o777
        data = path.read_bytes()
    except FileNotFoundError:
        raise KeyProblem(f"no signing key at {path}; run `spark memory keygen` first") from None
    except OSError as exc:
        raise KeyProblem(f"cannot read the signing key {path}: {exc}") from None
    if mode & 0o077:
        raise KeyProblem(f"the signing key {path} is readable by others (mode {mode:o}); "
                        f"run `chmod 600 {path}`")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyProblem(f"{path} is not a readable private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyProblem(f"{path} is not an ed25519 key")
    return key


# -- trusted keys ----------------------------------------------------------------------------

@dataclass(frozen=True)
class TrustedKeys:
    keys: frozenset[str] = frozenset()
    problems: tuple[str, ...] = ()  # entries that were not keys (reported, skipped)

    def __contains__(self, public: object) -> bool:
        return public in self.keys

    def __bool__(self) -> bool:
        return bool(self.keys)

    def ids(self) -> list[str]:
        return sorted(key_id(k) for k in self.keys)


def trusted_keys(entries: list[str] | tuple[str, ...] = (), files: list[str] | tuple[str, ...] = ()
                 ) -> TrustedKeys:
    """Keys from a list (`trusted_keys`) and key files (`trusted_keys_file`)."""
    keys: set[str] = set()
    problems: list[str] = []
    lines = [(str(e), "trusted_keys") for e in entries]
    for name in files:
        try:
            text = Path(name).expanduser().read_text(encoding="utf-8")
        except OSError as exc:
            problems.append(f"cannot read trusted keys file {name}: {exc}")
            continue
        lines += [(line.split("#", 1)[0].strip(), name) for line in text.splitlines()]
    for entry, where in lines:
        if not entry:
            continue
        try:
            keys.add(normalize(entry))
        except KeyProblem as exc:
            problems.append(f"{where}: {exc}")
    return TrustedKeys(frozenset(keys), tuple(problems))


def team_trusted_keys(settings: object) -> TrustedKeys:
    """The trusted keys of a `config.Settings` (`trusted_keys` and `trusted_keys_file`)."""
    return trusted_keys(list(getattr(settings, "trusted_keys", []) or []),
                        list(getattr(settings, "trusted_keys_file", []) or []))
