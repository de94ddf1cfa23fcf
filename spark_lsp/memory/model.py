"""What a memory holds: card versions, outcomes, suppressions, tombstones and conflicts.

Every card version, suppression and tombstone is signed by its author (an ed25519 key), so
who wrote a version survives merges: "the newer admin-signed version" is checkable anywhere.
Outcomes are not signed one by one (there are many); the file's signature covers them.

Records are plain JSON objects; their canonical form (sorted keys, no spaces, UTF-8) is what
hashes and signatures are computed over.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from spark_lsp.kb.traces import OUTCOMES
from spark_lsp.memory import keys

KINDS = ("memory", "contribution")
TOMBSTONE_KINDS = ("card", "suppression", "outcome")
MAX_HISTORY = 50
_CODE = re.compile(r"^SPK[0-9]{3,4}$")
CARD_CODE = _CODE
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
_HASH = re.compile(r"^[0-9a-f]{64}$")


class InvalidRecord(ValueError):
    """A record that does not have the fields and types of its member."""


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, ensure_ascii=False,
                      separators=(",", ":")).encode("utf-8")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def card_hash(card: dict[str, Any]) -> str:
    """Same as `kb.card_store.content_hash`: the KB and the memory agree on versions."""
    return sha256(canonical(card))


def utc_stamp(when: datetime | float | None = None) -> str:
    """`2025-01-02T03:04:05Z`: seconds, UTC. Compared as strings, so the format is fixed."""
    if when is None:
        when = datetime.now(UTC)
    elif isinstance(when, (int, float)):
        when = datetime.fromtimestamp(when, UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _entry_message(kind: str, data: dict[str, Any]) -> bytes:
    return b"spark-memory-entry-v1\0" + kind.encode() + b"\0" + canonical(data)


def _need(data: dict[str, Any], name: str, kind: type | tuple[type, ...],
          pattern: re.Pattern[str] | None = None, max_len: int = 10_000) -> Any:
    value = data.get(name)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise InvalidRecord(f"{name} must be {getattr(kind, '__name__', kind)}")
    if isinstance(value, str):
        if len(value) > max_len:
            raise InvalidRecord(f"{name} is longer than {max_len} characters")
        if pattern is not None and not pattern.match(value):
            raise InvalidRecord(f"{name} {value[:80]!r} is not in the expected form")
    return value


def _only(data: Any, allowed: set[str], required: set[str]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidRecord(f"expected a JSON object, got {type(data).__name__}")
    unknown = set(data) - allowed
    if unknown:
        raise InvalidRecord(f"unknown field(s) {', '.join(sorted(unknown))}")
    missing = required - set(data)
    if missing:
        raise InvalidRecord(f"missing field(s) {', '.join(sorted(missing))}")
    return data


@dataclass(frozen=True)
class Signed:
    """Fields common to signed entries: when, by whom, and the author's signature."""

    updated: str
    author: str  # the author's public key, `ed25519:...`
    signature: str

    KIND = ""

    def signed_fields(self) -> dict[str, Any]:
        raise NotImplementedError

    def message(self) -> bytes:
        return _entry_message(self.KIND, self.signed_fields())

    def signature_ok(self) -> bool:
        return keys.verify(self.author, self.signature, self.message())

    def to_json(self) -> dict[str, Any]:
        return {**self.signed_fields(), "signature": self.signature}


@dataclass(frozen=True)
class CardEntry(Signed):
    code: str = ""
    card: dict[str, Any] = field(default_factory=dict)
    history: tuple[str, ...] = ()  # hashes of the versions this one was edited from

    KIND = "card"

    @property
    def hash(self) -> str:
        return card_hash(self.card)

    @property
    def title(self) -> str:
        return str(self.card.get("title", ""))

    def signed_fields(self) -> dict[str, Any]:
        return {"code": self.code, "card": self.card, "updated": self.updated,
                "author": self.author, "history": list(self.history)}

    @classmethod
    def create(cls, key: Ed25519PrivateKey, card: dict[str, Any], updated: str,
               history: tuple[str, ...] = ()) -> CardEntry:
        unsigned = cls(updated, keys.public_text(key), "", str(card.get("code", "")), card,
                       tuple(history[-MAX_HISTORY:]))
        return cls(**{**unsigned.__dict__, "signature": keys.sign(key, unsigned.message())})

    @classmethod
    def from_json(cls, data: Any) -> CardEntry:
        data = _only(data, {"code", "card", "updated", "author", "history", "signature"},
                     {"code", "card", "updated", "author", "signature"})
        code = _need(data, "code", str, _CODE)
        card = _need(data, "card", dict)
        if card.get("code") != code:
            raise InvalidRecord(f"card code {card.get('code')!r} differs from the entry's {code}")
        history = data.get("history", [])
        if (not isinstance(history, list) or len(history) > MAX_HISTORY
                or not all(isinstance(h, str) and _HASH.match(h) for h in history)):
            raise InvalidRecord(f"history must be a list of at most {MAX_HISTORY} hashes")
        return cls(_need(data, "updated", str, _TIME), _need(data, "author", str, max_len=100),
                   _need(data, "signature", str, max_len=200), code, card, tuple(history))


@dataclass(frozen=True)
class Suppression(Signed):
    code: str = ""
    reason: str = ""

    KIND = "suppression"

    def signed_fields(self) -> dict[str, Any]:
        return {"code": self.code, "reason": self.reason, "updated": self.updated,
                "author": self.author}

    @classmethod
    def create(cls, key: Ed25519PrivateKey, code: str, reason: str, updated: str
               ) -> Suppression:
        unsigned = cls(updated, keys.public_text(key), "", code, reason)
        return cls(**{**unsigned.__dict__, "signature": keys.sign(key, unsigned.message())})

    @classmethod
    def from_json(cls, data: Any) -> Suppression:
        data = _only(data, {"code", "reason", "updated", "author", "signature"},
                     {"code", "updated", "author", "signature"})
        return cls(_need(data, "updated", str, _TIME), _need(data, "author", str, max_len=100),
                   _need(data, "signature", str, max_len=200), _need(data, "code", str, _CODE),
                   str(data.get("reason", ""))[:2000])


@dataclass(frozen=True)
class Tombstone(Signed):
    kind: str = "card"
    key: str = ""  # a card code, a suppressed code, or an outcome's trace id

    KIND = "tombstone"

    def signed_fields(self) -> dict[str, Any]:
        return {"kind": self.kind, "key": self.key, "updated": self.updated,
                "author": self.author}

    @classmethod
    def create(cls, key: Ed25519PrivateKey, kind: str, target: str, updated: str) -> Tombstone:
        unsigned = cls(updated, keys.public_text(key), "", kind, target)
        return cls(**{**unsigned.__dict__, "signature": keys.sign(key, unsigned.message())})

    @classmethod
    def from_json(cls, data: Any) -> Tombstone:
        data = _only(data, {"kind", "key", "updated", "author", "signature"},
                     {"kind", "key", "updated", "author", "signature"})
        kind = _need(data, "kind", str)
        if kind not in TOMBSTONE_KINDS:
            raise InvalidRecord(f"kind must be one of {', '.join(TOMBSTONE_KINDS)}")
        return cls(_need(data, "updated", str, _TIME), _need(data, "author", str, max_len=100),
                   _need(data, "signature", str, max_len=200), kind,
                   _need(data, "key", str, _CODE if kind != "outcome" else _ID))


@dataclass(frozen=True)
class Outcome:
    """One trace's outcome, without code: counted once per trace id, whatever the merges."""

    id: str
    code: str
    outcome: str
    day: str  # YYYY-MM-DD: the time of day is not shared
    user: str = ""  # pseudonymous
    versions: dict[str, str] = field(default_factory=dict)
    before: str = ""  # redacted code windows, only when the admin opts in to snippets
    after: str = ""

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "code": self.code, "outcome": self.outcome,
                                "day": self.day, "user": self.user, "versions": self.versions}
        if self.before or self.after:
            data.update(before=self.before, after=self.after)
        return data

    @classmethod
    def from_json(cls, data: Any) -> Outcome:
        data = _only(data, {"id", "code", "outcome", "day", "user", "versions", "before",
                            "after"}, {"id", "code", "outcome", "day"})
        outcome = _need(data, "outcome", str)
        if outcome not in OUTCOMES:
            raise InvalidRecord(f"outcome must be one of {', '.join(OUTCOMES)}")
        versions = data.get("versions", {})
        if not isinstance(versions, dict) or len(versions) > 64 or not all(
                isinstance(k, str) and isinstance(v, str) and len(k) + len(v) < 200
                for k, v in versions.items()):
            raise InvalidRecord("versions must map library names to version strings")
        return cls(_need(data, "id", str, _ID), _need(data, "code", str, _CODE), outcome,
                   _need(data, "day", str, _DAY), str(data.get("user", ""))[:64], versions,
                   str(data.get("before", ""))[:4000], str(data.get("after", ""))[:4000])


@dataclass(frozen=True)
class Conflict:
    """A card version that lost to a concurrent edit (not one the winner was edited from)."""

    code: str
    hash: str
    updated: str
    author: str
    title: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "hash": self.hash, "updated": self.updated,
                "author": self.author, "title": self.title}

    @classmethod
    def of(cls, entry: CardEntry) -> Conflict:
        return cls(entry.code, entry.hash, entry.updated, entry.author, entry.title[:200])

    @classmethod
    def from_json(cls, data: Any) -> Conflict:
        data = _only(data, {"code", "hash", "updated", "author", "title"},
                     {"code", "hash", "updated", "author"})
        return cls(_need(data, "code", str, _CODE), _need(data, "hash", str, _HASH),
                   _need(data, "updated", str, _TIME), _need(data, "author", str, max_len=100),
                   str(data.get("title", ""))[:200])


@dataclass(frozen=True)
class FileVersion:
    """Which team memory a file is, and how far along it is (in the signed manifest).

    `team` is minted when a team memory is first written and carried by every later version;
    `sequence` grows with each version an admin writes. A reader refuses a file older than the
    version of the same team it accepted before (`memory.rollback`).
    """

    team: str
    sequence: int

    def describe(self) -> str:
        return f"version {self.sequence} of team memory {self.team}"


@dataclass
class Memory:
    kind: str = "memory"
    cards: dict[str, CardEntry] = field(default_factory=dict)
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    suppressions: dict[str, Suppression] = field(default_factory=dict)
    tombstones: dict[tuple[str, str], Tombstone] = field(default_factory=dict)
    conflicts: dict[tuple[str, str], Conflict] = field(default_factory=dict)
    snippets: bool = False  # outcomes carry redacted code windows

    def records(self) -> dict[str, list[dict[str, Any]]]:
        """Each member's records in their canonical order (by key)."""
        return {
            "cards.jsonl": [self.cards[k].to_json() for k in sorted(self.cards)],
            "outcomes.jsonl": [self.outcomes[k].to_json() for k in sorted(self.outcomes)],
            "suppressions.jsonl": [self.suppressions[k].to_json()
                                   for k in sorted(self.suppressions)],
            "tombstones.jsonl": [self.tombstones[k].to_json() for k in sorted(self.tombstones)],
            "conflicts.jsonl": [self.conflicts[k].to_json() for k in sorted(self.conflicts)],
        }

    def counts(self) -> dict[str, int]:
        return {"cards": len(self.cards), "outcomes": len(self.outcomes),
                "suppressions": len(self.suppressions), "tombstones": len(self.tombstones),
                "conflicts": len(self.conflicts)}

    def add(self, member: str, data: Any) -> None:
        """Add one parsed record of `member`; InvalidRecord if it is not one, or a repeat."""
        if member == "cards.jsonl":
            card = CardEntry.from_json(data)
            self._put(self.cards, card.code, card)
        elif member == "outcomes.jsonl":
            outcome = Outcome.from_json(data)
            self._put(self.outcomes, outcome.id, outcome)
        elif member == "suppressions.jsonl":
            sup = Suppression.from_json(data)
            self._put(self.suppressions, sup.code, sup)
        elif member == "tombstones.jsonl":
            tomb = Tombstone.from_json(data)
            self._put(self.tombstones, (tomb.kind, tomb.key), tomb)
        elif member == "conflicts.jsonl":
            conflict = Conflict.from_json(data)
            self._put(self.conflicts, (conflict.code, conflict.hash), conflict)
        else:
            raise InvalidRecord(f"unknown member {member}")

    @staticmethod
    def _put(table: dict[Any, Any], key: Any, value: Any) -> None:
        if key in table:
            raise InvalidRecord(f"{key} appears twice")
        table[key] = value
