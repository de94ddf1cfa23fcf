"""Cards declare the messages they explain; their examples are the tests: each declared example
message is matched, and (slow) running a card's bad example prints a message the card matches
while its good example runs clean. Bad `errors` are refused at load, and a hostile memory file
whose error regex backtracks is rejected by the time limit."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from memory_fixtures import Admin, card, memory_with, write

from spark_lsp.analysis import installed_versions, load_default_cards
from spark_lsp.analysis.cards import card_from_dict
from spark_lsp.analysis.tracebacks import NotATraceback, message_fragment, parse_error_text
from spark_lsp.memory.format import MemoryFileError
from spark_lsp.memory.verify import verify_file

CARDS, _ = load_default_cards()
ERROR_CARDS = [c for c in CARDS if c.errors]


def message_of(text: str) -> str:
    try:
        return parse_error_text(text).error.text
    except NotATraceback:
        return message_fragment(text).text


def test_cards_explain_common_errors():
    assert len(ERROR_CARDS) >= 55
    assert len([c for c in ERROR_CARDS if not c.rules]) >= 40


@pytest.mark.parametrize("card", ERROR_CARDS, ids=lambda c: c.code)
def test_declared_messages_are_matched(card):
    assert any(p.examples for p in card.errors) or any(e.error for e in card.examples), \
        "a card that explains errors shows at least one message"
    for i, pattern in enumerate(card.errors):
        for example in pattern.examples:
            assert pattern.search(message_of(example)), f"errors/{i} misses {example!r}"
    for example in card.examples:
        if example.error:
            text = message_of(example.error)
            assert any(p.search(text) for p in card.errors), f"example error {text!r}"


def _run(code: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="spark-error-example-") as tmp:
        env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONWARNINGS": "default",
               "TF_CPP_MIN_LOG_LEVEL": "3"}
        return subprocess.run([sys.executable, "-c", code], cwd=tmp, env=env, timeout=120,
                              capture_output=True, text=True, check=False)


RUNNABLE = [pytest.param(c, i, ex, id=f"{c.code}-{i}") for c in ERROR_CARDS if not c.rules
            for i, ex in enumerate(c.examples) if ex.error and ex.run]


@pytest.mark.slow
@pytest.mark.parametrize("card,i,example", RUNNABLE)
def test_bad_example_prints_the_message_and_good_runs_clean(card, i, example):
    declared = message_of(example.error)
    pattern = next(p for p in card.errors if p.search(declared))
    if pattern.emitted_by(installed_versions()) is False:
        pytest.skip(f"the installed versions do not emit {pattern.regex!r}")
    bad = _run(example.bad)
    if "ModuleNotFoundError" in bad.stderr and "ModuleNotFoundError" not in example.error:
        pytest.skip(bad.stderr.strip().splitlines()[-1])
    parsed = parse_error_text(bad.stderr)
    printed = [parsed.error, *parsed.warnings]
    assert any(pattern.search(e.text) for e in printed), bad.stderr[-2000:]
    good = _run(example.good)
    assert good.returncode == 0, good.stderr[-2000:]
    if good.stderr.strip():
        try:
            after = parse_error_text(good.stderr)
        except NotATraceback:
            return
        assert not any(p.search(e.text) for e in [after.error, *after.warnings]
                       for p in card.errors)


@pytest.mark.parametrize("errors, field, message", [
    (["(unclosed"], "errors/0", "bad regular expression"),
    ([{"regex": "KeyError", "versions": {"pandas": "not a range"}}], "errors/0/versions/pandas",
     "bad version range"),
    ([{"regex": "KeyError", "in_code": "([a"}], "errors/0", "bad regular expression"),
    (["x" * 1001], "errors/0", "too long"),
    ([{"regex": "KeyError", "cause": "Not A Slug"}], "errors/0", "does not match"),
])
def test_bad_errors_are_refused_with_their_field(errors, field, message):
    data = card(errors=errors)
    found, problems = card_from_dict(data, "team.yaml")
    assert found is None
    assert any(p.field == field and message in p.message for p in problems), problems


def test_a_card_needs_rules_or_errors():
    _, problems = card_from_dict(card(rules=[]), "team.yaml")
    assert [p.field for p in problems] == ["rules"]
    found, problems = card_from_dict(card(rules=[], errors=["^KeyError: "]), "team.yaml")
    assert found is not None and problems == [] and found.errors[0].regex == "^KeyError: "


def test_a_memory_card_whose_error_regex_backtracks_is_refused(tmp_path: Path):
    admin = Admin(tmp_path / "admin")
    hostile = card("SPK903", rules=[], errors=[{"regex": "^(\\w+\\s?)*$"}])
    path = write(tmp_path / "hang.sparkmem", admin, memory_with(admin, [card(), hostile]))
    with pytest.raises(MemoryFileError) as info:
        verify_file(path, admin.trusted, rule_limit=0.5)
    assert info.value.problem == "hanging-rule"
    assert "SPK903" in str(info.value) and "longer than" in str(info.value)
    assert "SPK901" not in str(info.value)
