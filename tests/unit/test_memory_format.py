"""The memory file: a round trip, and every hostile case refused with a clear message.

Each case is a real file on disk, read by the same function editors and the CLI use."""

from __future__ import annotations

import json
import os
import zipfile

import pytest
from memory_fixtures import (
    CARD,
    T0,
    Admin,
    card,
    hanging_card,
    members,
    memory_with,
    resign,
    rezip,
    signed_bytes,
    write,
)

from spark_lsp.memory import keys
from spark_lsp.memory.format import (
    FORMAT_VERSION,
    Limits,
    MemoryFileError,
    to_bytes,
)
from spark_lsp.memory.model import CardEntry, Memory, canonical
from spark_lsp.memory.safeload import UnsafeInput, loads_json, loads_yaml
from spark_lsp.memory.store import MemoryInputError, load_card_folder
from spark_lsp.memory.verify import verify_file


@pytest.fixture
def admin(tmp_path):
    return Admin(tmp_path / "admin")


@pytest.fixture
def good(tmp_path, admin):
    return write(tmp_path / "team.sparkmem", admin)


def refused(path, trusted, problem, *words, **kwargs):
    with pytest.raises(MemoryFileError) as info:
        verify_file(path, trusted, **kwargs)
    assert info.value.problem == problem, str(info.value)
    for word in words:
        assert word in str(info.value), str(info.value)
    return str(info.value)


def test_round_trip(good, admin):
    verified = verify_file(good, admin.trusted)
    assert verified.file.trusted and verified.file.signer == admin.public
    assert [c.code for c in verified.cards] == ["SPK901"]
    assert len(verified.file.memory.outcomes) == 3
    assert verified.cards[0].title == CARD["title"]


def test_equal_content_gives_identical_bytes(admin):
    a = memory_with(admin, [card()], outcomes=5)
    b = memory_with(admin, [card()], outcomes=5)
    assert signed_bytes(admin, a) == signed_bytes(admin, b)


def test_key_file_is_private(admin):
    path = keys.private_key_path(admin.home)
    assert path.stat().st_mode & 0o777 == 0o600
    assert (path.parent.stat().st_mode & 0o777) == 0o700
    with pytest.raises(keys.KeyProblem, match="already exists"):
        keys.generate_key(admin.home)
    os.chmod(path, 0o644)
    with pytest.raises(keys.KeyProblem, match="readable by others"):
        keys.load_private_key(admin.home)


# -- signatures --------------------------------------------------------------------------------

def test_unsigned(tmp_path, good, admin):
    files = members(good.read_bytes())
    del files["signature.json"]
    refused(rezip(tmp_path / "unsigned.sparkmem", files), admin.trusted, "unsigned",
            "not signed")


def test_wrong_key(tmp_path, good):
    stranger = Admin(tmp_path / "stranger")
    message = refused(good, stranger.trusted, "untrusted", "not a trusted admin key")
    assert keys.key_id(stranger.public) in message  # names the keys that are trusted


def test_no_trusted_keys_at_all(good):
    refused(good, keys.TrustedKeys(), "untrusted", "none configured")


def test_content_changed_after_signing(tmp_path, good, admin):
    files = members(good.read_bytes())
    files["cards.jsonl"] = files["cards.jsonl"].replace(b"itertuples", b"iterTUPLES")
    refused(rezip(tmp_path / "tampered.sparkmem", files), admin.trusted, "corrupt",
            "does not match the signed manifest")


def test_manifest_changed_after_signing(tmp_path, good, admin):
    files = members(good.read_bytes())
    files["manifest.json"] = files["manifest.json"].replace(b'"snippets":false',
                                                            b'"snippets":true')
    refused(rezip(tmp_path / "tampered.sparkmem", files), admin.trusted, "bad-signature")


def test_card_entry_signed_by_someone_else(tmp_path, admin):
    """The file is signed by the admin, but one card version claims an author it is not from."""
    other = Admin(tmp_path / "other")
    m = Memory()
    entry = CardEntry.create(other.key, card(), T0)
    m.cards["SPK901"] = CardEntry(entry.updated, admin.public, entry.signature, "SPK901",
                                  entry.card)
    path = tmp_path / "forged.sparkmem"
    path.write_bytes(to_bytes(m, admin.key))
    refused(path, admin.trusted, "bad-signature", "card SPK901")


# -- damaged files ------------------------------------------------------------------------------

def test_truncated(tmp_path, good, admin):
    data = good.read_bytes()
    path = tmp_path / "truncated.sparkmem"
    path.write_bytes(data[: len(data) // 2])
    refused(path, admin.trusted, "corrupt", "truncated or corrupt")


def test_corrupt_bytes(tmp_path, good, admin):
    data = bytearray(good.read_bytes())
    info = zipfile.ZipFile(good).getinfo("cards.jsonl")
    middle = info.header_offset + 30 + len("cards.jsonl") + info.compress_size // 2
    data[middle] ^= 0xFF
    path = tmp_path / "corrupt.sparkmem"
    path.write_bytes(bytes(data))
    refused(path, admin.trusted, "corrupt", "cards.jsonl")


def test_not_a_zip(tmp_path, admin):
    path = tmp_path / "random.sparkmem"
    path.write_bytes(os.urandom(4096))
    refused(path, admin.trusted, "corrupt")


def test_missing_member(tmp_path, good, admin):
    files = members(good.read_bytes())
    del files["outcomes.jsonl"]
    refused(rezip(tmp_path / "short.sparkmem", files), admin.trusted, "corrupt", "missing")


# -- versions and limits -----------------------------------------------------------------------

def test_newer_format(tmp_path, good, admin):
    files = members(good.read_bytes())
    manifest = json.loads(files["manifest.json"])
    manifest["version"] = FORMAT_VERSION + 1
    files["manifest.json"] = canonical(manifest) + b"\n"
    # even correctly signed by a trusted admin, a newer format is refused before anything else
    path = resign(tmp_path / "newer.sparkmem", admin, files)
    refused(path, admin.trusted, "newer-format", "newer Spark", "Upgrade Spark")


def test_oversized_file_is_refused_before_reading(tmp_path, admin):
    path = tmp_path / "huge.sparkmem"
    with open(path, "wb") as fh:  # sparse: no disk used
        fh.truncate(Limits().file_bytes + 1)
    refused(path, admin.trusted, "oversized", "over the limit")


def test_zip_bomb_member(tmp_path, good, admin):
    files = members(good.read_bytes())
    files["outcomes.jsonl"] = b"\n" * (3 * 1024 * 1024)  # 3 MB of newlines compress to ~3 kB
    path = resign(tmp_path / "bomb.sparkmem", admin, files)
    assert path.stat().st_size < 64 * 1024
    refused(path, admin.trusted, "oversized", "outcomes.jsonl",
            limits=Limits(member_bytes=1024 * 1024))


def test_too_many_members(tmp_path, good, admin):
    files = list(members(good.read_bytes()).items())
    files += [(f"extra{i}.jsonl", b"") for i in range(20)]
    refused(rezip(tmp_path / "many.sparkmem", files), admin.trusted, "oversized", "members")


@pytest.mark.parametrize("name", ["../evil.jsonl", "/etc/passwd", "cards/../../x.jsonl",
                                  "..\\evil.jsonl", "C:/Windows/x.jsonl"])
def test_path_escape(tmp_path, good, admin, name):
    files = list(members(good.read_bytes()).items()) + [(name, b"{}\n")]
    message = refused(rezip(tmp_path / "escape.sparkmem", files), admin.trusted, "path-escape",
                      "escapes")
    assert name.replace("\\", "/").rsplit("/", 1)[-1] in message  # the member is named


# -- JSON and YAML tricks ----------------------------------------------------------------------

def test_deep_nesting(tmp_path, good, admin):
    files = members(good.read_bytes())
    deep = card()
    deep["provenance"] = json.loads("[" * 200 + "]" * 200)
    files["cards.jsonl"] += canonical({**json.loads(files["cards.jsonl"]), "code": "SPK903",
                                       "card": {**deep, "code": "SPK903"}}) + b"\n"
    refused(resign(tmp_path / "deep.sparkmem", admin, files), admin.trusted, "unsafe-data",
            "nested deeper")


def test_very_deep_nesting_does_not_crash(tmp_path, good, admin):
    files = members(good.read_bytes())
    files["outcomes.jsonl"] = b"[" * 100_000 + b"]" * 100_000 + b"\n"
    refused(resign(tmp_path / "deeper.sparkmem", admin, files), admin.trusted, "unsafe-data",
            "nested deeper")


def test_yaml_anchor_bomb_in_a_member(tmp_path, good, admin):
    bomb = ('a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
            'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n'
            'd: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n')
    files = members(good.read_bytes())
    files["cards.jsonl"] = bomb.encode()
    refused(resign(tmp_path / "yaml.sparkmem", admin, files), admin.trusted, "unsafe-data",
            "anchors and aliases are not allowed")


def test_yaml_tag_in_a_member(tmp_path, good, admin):
    files = members(good.read_bytes())
    files["suppressions.jsonl"] = b"!!python/object/apply:os.system ['echo pwned']\n"
    refused(resign(tmp_path / "tag.sparkmem", admin, files), admin.trusted, "unsafe-data",
            "tags are not allowed")


def test_duplicate_keys_and_nan(tmp_path, good, admin):
    files = members(good.read_bytes())
    line = files["outcomes.jsonl"].split(b"\n")[0]
    files["outcomes.jsonl"] = line[:-1] + b',"code":"SPK001"}\n'
    refused(resign(tmp_path / "dup.sparkmem", admin, files), admin.trusted, "unsafe-data",
            "duplicate key")
    with pytest.raises(UnsafeInput, match="not a JSON number"):
        loads_json('{"a": NaN}')


def test_unknown_fields_are_refused(tmp_path, good, admin):
    files = members(good.read_bytes())
    files["outcomes.jsonl"] = files["outcomes.jsonl"].replace(b'"day"', b'"path":"/x","day"', 1)
    refused(resign(tmp_path / "extra.sparkmem", admin, files), admin.trusted, "invalid",
            "unknown field")


@pytest.mark.parametrize("text,words", [
    ("a: &x [1, 2]\nb: *x\n", "anchor"),
    ("a: !!python/object:os.system x\n", "tag"),
    ("a: !custom 1\n", "tag"),
    ("a: " + "[" * 60 + "]" * 60 + "\n", "nested deeper"),
])
def test_hardened_yaml(text, words):
    with pytest.raises(UnsafeInput, match=words):
        loads_yaml(text)


def test_yaml_bomb_in_a_card_folder_is_refused(tmp_path):
    folder = tmp_path / "team-cards"
    folder.mkdir()
    (folder / "SPK950.yaml").write_text(
        "code: SPK950\nlol: &l [x, x, x, x, x, x, x, x]\nlol2: &m [*l, *l, *l, *l, *l, *l]\n"
        "lol3: [*m, *m, *m, *m, *m, *m, *m, *m]\n")
    with pytest.raises(MemoryInputError, match="SPK950.yaml.*anchor"):
        load_card_folder(folder)


# -- cards -------------------------------------------------------------------------------------

def test_hanging_pattern(tmp_path, admin):
    path = write(tmp_path / "hang.sparkmem", admin,
                 memory_with(admin, [card(), hanging_card()]))
    message = refused(path, admin.trusted, "hanging-rule", "SPK902", "longer than",
                      rule_limit=0.5)
    assert "SPK901" not in message


def test_invalid_card(tmp_path, admin):
    bad = card()
    bad["rules"] = [{"pattern": "$DF.iterrows(", "detector": "nope"}]
    path = write(tmp_path / "bad.sparkmem", admin, memory_with(admin, [bad]))
    refused(path, admin.trusted, "card", "SPK901")
