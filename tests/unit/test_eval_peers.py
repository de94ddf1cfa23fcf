"""benchmarks/eval_peers.py: the peer-rule mapping and its scoring on the peers' own fixtures."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import eval_peers

from spark_lsp.check import make_analyzer
from spark_lsp.config import Settings

DATA = ROOT.parent / "shared" / "data" / "linter_fixtures"
needs_data = pytest.mark.skipif(
    not (DATA / "code" / "manifest.csv").is_file(),
    reason=f"peer linter fixtures not present at {DATA} (CI has them in ../shared/data)")


@pytest.fixture(scope="module")
def analyzer_and_cards():
    analyzer, cards, _ = make_analyzer(Settings())
    return analyzer, cards


def test_rule_map_names_real_cards_and_gives_reasons(analyzer_and_cards):
    _, cards = analyzer_and_cards
    mapping = eval_peers.load_rule_map()
    for m in mapping.values():
        assert set(m.spark) <= set(cards), f"{m.tool} {m.rule}: unknown card in {m.spark}"
        assert m.coverage == "same" or m.reason, f"{m.tool} {m.rule}: no reason"


def test_rule_map_rejects_a_missing_reason(tmp_path):
    bad = tmp_path / "map.csv"
    bad.write_text("tool,rule,spark,coverage,reason\nruff,PD003,,none,\n")
    with pytest.raises(ValueError, match="reason is required"):
        eval_peers.load_rule_map(bad)


@needs_data
def test_every_fixture_rule_is_mapped():
    cases = eval_peers.load_cases(DATA)
    assert len(cases) > 300
    unmapped = {(c.tool, c.rule) for c in cases} - set(eval_peers.load_rule_map())
    assert not unmapped


@needs_data
def test_scoring_on_a_few_fixtures(analyzer_and_cards):
    analyzer, _ = analyzer_and_cards
    wanted = {"mod__PD002_fail.py", "mod__PD002_pass.py", "mod__PD002_pass_polars.py",
              "test_PD011__test_PD011_fail_values.py", "test_PD011__test_PD011_pass_to_numpy.py",
              "test_nan_numpy__test_nan_right.py", "test_nan_numpy__test_nan_none.py"}
    cases = [c for c in eval_peers.load_cases(DATA) if c.name in wanted]
    assert len(cases) == len(wanted)
    scores, _ = eval_peers.score(cases, analyzer, eval_peers.load_rule_map())
    pd002 = scores[("ruff", "PD002")]
    assert (pd002.flag_cases, pd002.agree, pd002.clean_cases, pd002.clean_flagged) == (1, 1, 2, [])
    pd011 = scores[("pandas-vet", "PD011")]
    assert (pd011.agree, pd011.misses, pd011.clean_flagged) == (1, 0, [])
    nan = scores[("dslinter", "nan-numpy")]
    assert (nan.agree, nan.misses, nan.clean_cases, nan.clean_flagged) == (1, 0, 1, [])


@needs_data
def test_mixed_fixture_file_is_scored_line_by_line(analyzer_and_cards):
    analyzer, _ = analyzer_and_cards
    cases = [c for c in eval_peers.load_cases(DATA)
             if c.tool == "ruff" and c.rule == "PD002" and c.expectation == "mixed"]
    assert len(cases) == 1 and cases[0].lines
    scores, _ = eval_peers.score(cases, analyzer, eval_peers.load_rule_map())
    s = scores[("ruff", "PD002")]
    assert s.flag_cases == len(cases[0].lines)
    assert s.agree + s.misses == s.flag_cases
    assert s.agree >= 1


@needs_data
def test_no_fixture_crashes_spark(analyzer_and_cards):
    analyzer, _ = analyzer_and_cards
    scores, _ = eval_peers.score(eval_peers.load_cases(DATA), analyzer,
                                 eval_peers.load_rule_map())
    assert not [c for s in scores.values() for c in s.crashes]


def test_ruff_catches_the_inplace_card_example(analyzer_and_cards):
    analyzer, cards = analyzer_and_cards
    mapping = eval_peers.load_rule_map()
    assert "PD002" in eval_peers.card_ruff_rules(mapping)["SPK002"]
    [row] = eval_peers.compare_cards({"SPK002": cards["SPK002"]}, analyzer, mapping)
    assert row.bad == row.spark_bad
    assert row.ruff_bad >= 1
    assert row.spark_good_flagged == 0
