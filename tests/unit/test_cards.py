"""Every card's examples are its tests (see spark_lsp.analysis.examples)."""

import pytest

from spark_lsp.analysis import load_default_cards
from spark_lsp.analysis.examples import analyzer_for, expected_fix, fix_code, run_snippet
from spark_lsp.analysis.fixes import parses

CARDS, PROBLEMS = load_default_cards()
# cards without rules only explain error messages: tests/unit/test_error_cards.py runs theirs
EXAMPLES = [pytest.param(card, i, ex, id=f"{card.code}-{i}")
            for card in CARDS if card.rules for i, ex in enumerate(card.examples)]
CLEAN = [pytest.param(card, snippet, id=f"{card.code}-clean{i}")
         for card in CARDS for i, snippet in enumerate(card.clean)]


def test_seed_cards_are_valid():
    assert PROBLEMS == []
    assert len(CARDS) >= 30


@pytest.mark.parametrize("card,i,example", EXAMPLES)
def test_bad_is_flagged_and_good_is_not(card, i, example):
    analyzer = analyzer_for(card)
    assert any(f.code == card.code for f in analyzer.analyze(example.bad)), "bad example not flagged"
    assert not [f for f in analyzer.analyze(example.good) if f.code == card.code], \
        "good example flagged"


@pytest.mark.parametrize("card,snippet", CLEAN)
def test_clean_snippets_are_not_flagged(card, snippet):
    assert not [f for f in analyzer_for(card).analyze(snippet) if f.code == card.code]


@pytest.mark.parametrize("card,i,example", EXAMPLES)
def test_fix_turns_bad_into_good(card, i, example):
    analyzer = analyzer_for(card)
    findings = [f for f in analyzer.analyze(example.bad) if f.code == card.code]
    if not any(f.fix and f.fix.automatic for f in findings):
        pytest.skip("no automatic fix for this card")
    fixed = fix_code(analyzer, example.bad, card.code)
    assert parses(fixed)
    assert fixed == expected_fix(card, example)
    assert not [f for f in analyzer.analyze(fixed) if f.code == card.code], "fixed code still flagged"


@pytest.mark.slow
@pytest.mark.parametrize("card,i,example", [p for p in EXAMPLES if p.values[2].run])
def test_fixed_code_behaves_as_good(card, i, example):
    analyzer = analyzer_for(card)
    findings = [f for f in analyzer.analyze(example.bad) if f.code == card.code]
    if not any(f.fix and f.fix.automatic for f in findings):
        pytest.skip("no automatic fix for this card")
    fixed = fix_code(analyzer, example.bad, card.code)
    good = run_snippet(example.good)
    if good.missing_module:
        pytest.skip(f"{good.missing_module} is not installed")
    assert good.returncode == 0, good.stderr
    after = run_snippet(fixed)
    assert after.returncode == 0, after.stderr
    assert after.stdout == good.stdout
    if findings[0].fix.applicability == "safe":
        before = run_snippet(example.bad)
        assert before.returncode == 0, before.stderr
        assert before.stdout == after.stdout, "a safe fix changed what the program prints"
