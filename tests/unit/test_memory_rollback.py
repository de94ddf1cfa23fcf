"""Rollback protection with real files: an older, validly signed team memory put back in place of
the current one is refused by `spark memory import|verify|merge` and by the language server's
watcher, with a message naming the problem, and the memory in use stays as it was."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner
from memory_fixtures import T0, Admin, card, members, memory_with, rezip

from spark_lsp.cli import cli
from spark_lsp.kb.db import open_readonly
from spark_lsp.memory import rollback
from spark_lsp.memory.admin import export_memory, merge_into
from spark_lsp.memory.format import MemoryFileError, read_memory, write_memory
from spark_lsp.memory.model import FileVersion
from spark_lsp.memory.store import LocalSources, import_memory
from spark_lsp.memory.verify import verify_file
from spark_lsp.memory.watch import MemoryWatcher


def cards_folder(tmp_path, *datas):
    import yaml

    folder = tmp_path / "team-cards"
    folder.mkdir(exist_ok=True)
    for data in datas:
        (folder / f"{data['code']}.yaml").write_text(yaml.safe_dump(data))
    return folder


@pytest.fixture
def team(tmp_path):
    """An admin who wrote version 1 (one card) and then version 2 (plus a suppression) of the
    team memory; `old` is a copy of version 1 kept by an attacker."""
    admin = Admin(tmp_path / "admin")
    path = tmp_path / "shared" / "team.sparkmem"
    folder = cards_folder(tmp_path, card())
    export_memory(admin.home, path, admin.trusted, LocalSources(cards_dirs=[folder],
                                                                learned=False, outcomes=False))
    old = tmp_path / "attacker-copy.sparkmem"
    shutil.copy(path, old)
    edits = tmp_path / "edits.sparkmem"
    export_memory(admin.home, edits, admin.trusted,
                  LocalSources(learned=False, outcomes=False,
                               suppress={"SPK012": "we pin pandas"}))
    report = merge_into(admin.home, edits, path, admin.trusted)
    assert report.changed
    return admin, path, old


def versions(path, admin):
    return read_memory(path, admin.trusted).version


def test_admin_writes_carry_a_growing_version_of_one_team(team):
    admin, path, old = team
    v_old, v_new = versions(old, admin), versions(path, admin)
    assert v_old.team == v_new.team
    assert v_old.sequence == 1 and v_new.sequence == 2
    assert rollback.accepted_versions(admin.home)[v_new.team]["sequence"] == 2
    # an export that continues nothing starts a memory of its own; merged, it takes the team's
    assert versions(path.parent.parent / "edits.sparkmem", admin).team != v_new.team


def test_import_refuses_an_older_file_and_keeps_the_memory_in_use(team, spark_home):
    admin, path, old = team
    import_memory(verify_file(path, admin.trusted), spark_home)
    shutil.copy(old, path)  # the attacker puts version 1 back
    with pytest.raises(MemoryFileError) as caught:
        import_memory(verify_file(path, admin.trusted), spark_home)
    assert caught.value.problem == "rollback"
    message = str(caught.value)
    assert "version 1 of team memory" in message and "version 2" in message
    con = open_readonly(spark_home / "spark.duckdb")
    try:
        meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
    finally:
        con.close()
    assert json.loads(meta["memory_suppressions"]) == {"SPK012": "we pin pandas"}
    assert rollback.accepted_versions(spark_home)[versions(old, admin).team]["sequence"] == 2


def test_cli_verify_and_import_name_the_problem(team, spark_home, tmp_path, monkeypatch):
    admin, path, old = team
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.spark.memory]\npath = "shared/team.sparkmem"\n'
        f'trusted_keys = ["{admin.public}"]\n')
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    ok = runner.invoke(cli, ["memory", "import", str(path)], catch_exceptions=False)
    assert ok.exit_code == 0, ok.output
    for command in ("verify", "import"):
        refused = runner.invoke(cli, ["memory", command, str(old)], catch_exceptions=False)
        assert refused.exit_code == 2
        assert "[rollback]" in refused.stderr
        assert "attacker-copy.sparkmem is version 1 of team memory" in refused.stderr


def test_the_watcher_refuses_a_replayed_file_and_keeps_the_loaded_memory(team, tmp_path):
    admin, path, old = team
    editor = tmp_path / "editor-home"
    current = tmp_path / "current.sparkmem"
    shutil.copy(path, current)
    loaded, refused = [], []
    watcher = MemoryWatcher(path, admin.trusted, loaded.append, refused.append, home=editor)
    watcher.check()
    assert [v.file.version.sequence for v in loaded] == [2] and not refused
    shutil.copy(old, path)
    watcher.check()
    assert len(loaded) == 1 and len(refused) == 1
    assert "(rollback)" in refused[0] and "memory in use is unchanged" in refused[0]
    # the admins put the current file back and go on: the next version is used
    shutil.copy(current, path)
    more = tmp_path / "more-edits.sparkmem"
    export_memory(admin.home, more, admin.trusted,
                  LocalSources(learned=False, outcomes=False, suppress={"SPK003": "noisy"}))
    merge_into(admin.home, more, path, admin.trusted)
    assert versions(path, admin).sequence == 3
    watcher.check()
    assert [v.file.version.sequence for v in loaded] == [2, 3] and len(refused) == 1


def test_a_fresh_machine_accepts_any_version_then_only_newer(team, tmp_path):
    admin, path, old = team
    fresh = tmp_path / "fresh"
    rollback.accept(fresh, verify_file(old, admin.trusted).file)  # first sight: version 1
    rollback.accept(fresh, verify_file(path, admin.trusted).file)  # version 2
    with pytest.raises(MemoryFileError, match="an older copy put back") as caught:
        rollback.accept(fresh, verify_file(old, admin.trusted).file)
    assert caught.value.problem == "rollback"


def test_merge_into_a_rolled_back_team_file_is_refused(team):
    admin, path, old = team
    shutil.copy(old, path)
    with pytest.raises(MemoryFileError) as caught:
        merge_into(admin.home, old, path, admin.trusted)
    assert caught.value.problem == "rollback"
    assert versions(path, admin).sequence == 1  # left as it was


def test_concurrent_versions_the_later_signature_wins(tmp_path):
    admin = Admin(tmp_path / "admin")
    home = tmp_path / "editor"
    a, b = tmp_path / "a.sparkmem", tmp_path / "b.sparkmem"
    version = FileVersion("0123456789abcdef", 5)
    write_memory(a, memory_with(admin, [card()]), admin.key, signed_at="2025-01-01T10:00:00Z",
                 version=version)
    write_memory(b, memory_with(admin, [card(title="Team: another title for it")]), admin.key,
                 signed_at="2025-01-01T10:05:00Z", version=version)
    rollback.accept(home, read_memory(a, admin.trusted))
    rollback.accept(home, read_memory(b, admin.trusted))  # same sequence, signed later
    with pytest.raises(MemoryFileError, match="concurrent version signed earlier"):
        rollback.accept(home, read_memory(a, admin.trusted))
    rollback.accept(home, read_memory(b, admin.trusted))  # the one in use, again: fine


def test_an_unversioned_file_is_refused_where_a_versioned_one_was_accepted(team, tmp_path):
    admin, path, _ = team
    legacy = tmp_path / "legacy.sparkmem"  # written before versions existed
    write_memory(legacy, memory_with(admin, [card()]), admin.key)
    assert read_memory(legacy, admin.trusted).version is None
    kept = tmp_path / "kept-legacy.sparkmem"
    shutil.copy(legacy, kept)
    editor = tmp_path / "editor"
    rollback.accept(editor, verify_file(legacy, admin.trusted).file)  # nothing known yet
    rollback.accept(editor, verify_file(path, admin.trusted).file)  # elsewhere: no matter
    rollback.accept(editor, verify_file(legacy, admin.trusted).file)
    # the admin moves the team file at that path to versions; an editor follows
    merge_into(admin.home, path, legacy, admin.trusted)
    assert read_memory(legacy, admin.trusted).version is not None
    rollback.accept(editor, verify_file(legacy, admin.trusted).file)
    shutil.copy(kept, legacy)  # the unversioned file put back
    with pytest.raises(MemoryFileError, match="no version number"):
        rollback.accept(editor, verify_file(legacy, admin.trusted).file)
    with pytest.raises(MemoryFileError, match="no version number"):
        merge_into(admin.home, path, legacy, admin.trusted)  # the admin's machine knows too


def test_the_version_is_covered_by_the_signature(team, tmp_path):
    admin, _, old = team
    files = members(old.read_bytes())
    manifest = json.loads(files["manifest.json"])
    manifest["sequence"] = 99  # the attacker makes the old file look new
    files["manifest.json"] = json.dumps(manifest, sort_keys=True,
                                        separators=(",", ":")).encode() + b"\n"
    forged = rezip(tmp_path / "forged.sparkmem", files)
    with pytest.raises(MemoryFileError) as caught:
        read_memory(forged, admin.trusted)
    assert caught.value.problem == "bad-signature"


@pytest.mark.parametrize("team_id, sequence", [("../x", 1), ("ok", 0), ("ok", "7"), ("ok", True),
                                               (None, 3), ("ok", None)])
def test_bad_version_fields_are_invalid(tmp_path, team_id, sequence):
    from memory_fixtures import resign

    admin = Admin(tmp_path / "admin")
    good = tmp_path / "good.sparkmem"
    write_memory(good, memory_with(admin, [card()]), admin.key, signed_at=T0,
                 version=FileVersion("0123456789abcdef", 1))
    files = members(good.read_bytes())
    manifest = json.loads(files["manifest.json"])
    manifest.pop("team")
    manifest.pop("sequence")
    manifest.update({k: v for k, v in (("team", team_id), ("sequence", sequence))
                     if v is not None})
    files["manifest.json"] = json.dumps(manifest).encode()
    bad = resign(tmp_path / "bad.sparkmem", admin, files)
    with pytest.raises(MemoryFileError) as caught:
        read_memory(bad, admin.trusted)
    assert caught.value.problem == "invalid"
