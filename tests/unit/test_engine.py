"""The detection core: block splitting, fixes, imports, suppression, tolerance."""

from spark_lsp.analysis.cards import card_from_dict, render
from spark_lsp.analysis.context import FileContext
from spark_lsp.analysis.engine import AnalysisOptions, Analyzer
from spark_lsp.analysis.findings import Edit, Position, Span
from spark_lsp.analysis.fixes import _import_insertion_line, apply_edits, import_edits
from spark_lsp.analysis.source import decode_source, split_blocks

CARD = {
    "code": "SPK900", "title": "Test card for sort", "libraries": {"pandas": ">=1.0"},
    "message": "sort $DF", "why": "A test card used by the engine tests only, not shipped.",
    "rules": [{"pattern": "$DF.sort_values($$$ARGS)", "types": {"DF": ["pandas"]}}],
    "fix": {"applicability": "unsafe", "description": "stable",
            "template": '$DF.sort_values($$$ARGS, kind="stable")'},
    "examples": [{"bad": "x", "good": "y"}], "sources": [{"url": "https://example.org"}],
}


def analyzer(**overrides):
    card, problems = card_from_dict({**CARD, **overrides})
    assert not problems, problems
    return Analyzer([card])


def test_blocks_rejoin_to_the_source_and_keep_bodies_together():
    text = ('"""doc\nstill doc\n"""\nimport a\n\n@dec\ndef f(x):\n    return (x +\n1)\n'
            "class C:\n    pass\nelse_ = 1\nx = foo(\ny = 2\n")
    blocks = split_blocks(text)
    assert "".join(b.text for b in blocks) == text
    starts = [b.start_line for b in blocks]
    assert 5 in starts and 6 not in starts  # decorator stays with its def
    assert 8 not in starts  # a col-0 continuation inside brackets is not a new block
    assert 13 in starts  # after an unclosed paren, a new assignment starts a block


def test_empty_multi_metavariable_and_template_rendering():
    a = analyzer()
    src = "import pandas as pd\ndf = pd.DataFrame()\ndf.sort_values()\ndf.sort_values('a')\n"
    fixes = [f.fix.edits[0].content for f in a.analyze(src)]
    assert fixes == ['df.sort_values(kind="stable")', "df.sort_values('a', kind=\"stable\")"]
    assert render("$A + $$$B + $C", {"A": "1", "B": "x, y"}) == "1 + x, y + $C"


def test_receiver_type_is_required():
    a = analyzer()
    assert a.analyze("items = [3, 1]\nitems.sort_values()\n") == []
    assert a.analyze("from multiprocessing import Pool\np = Pool()\np.sort_values()\n") == []


def test_half_typed_code_still_gets_findings_on_readable_lines():
    a = analyzer()
    src = ("import pandas as pd\ndf = pd.read_csv('x.csv')\nresult = df.sort_values('a')\n"
           "def broken(:\n    x = (1,\nother = df.sort_values('b')\n")
    rows = [f.span.start.line for f in a.analyze(src)]
    assert rows == [2, 5]


def test_suppression_and_select():
    card, _ = card_from_dict(CARD)
    src = "import pandas as pd\ndf = pd.DataFrame()\ndf.sort_values()  # spark: ignore[SPK900]\n"
    assert Analyzer([card]).analyze(src) == []
    src2 = "import pandas as pd\ndf = pd.DataFrame()\ndf.sort_values()\n"
    assert Analyzer([card], AnalysisOptions(ignore={"SPK9"})).analyze(src2) == []
    assert Analyzer([card], AnalysisOptions(select={"SPK1"})).analyze(src2) == []
    assert Analyzer([card], AnalysisOptions(versions={"pandas": "0.25.0"})).analyze(src2) == []
    assert len(Analyzer([card], AnalysisOptions(versions={"pandas": "3.1.1"})).analyze(src2)) == 1


def test_fix_that_would_break_the_file_is_dropped():
    a = analyzer(fix={"applicability": "safe", "description": "broken",
                      "template": "$DF.sort_values($$$ARGS"})
    [finding] = a.analyze("import pandas as pd\ndf = pd.DataFrame()\ndf.sort_values()\n")
    assert finding.fix is None


def test_import_insertion_after_docstring_and_imports():
    assert _import_insertion_line(['"""Doc."""', "import os", "", "x = 1"]) == 2
    assert _import_insertion_line(["#!/usr/bin/env python", "from a import (", "  b,", ")", "y"]) == 4
    assert _import_insertion_line(["x = 1"]) == 0
    ctx = FileContext.from_text('"""Doc."""\nimport pandas as pd\nx = 1\n')
    [edit] = import_edits(ctx, ["import ast", "import pandas as pd"])
    assert edit.content == "import ast\n" and edit.span.start == Position(2, 0)


def test_apply_edits_skips_overlaps_and_handles_unicode():
    text = "é = 1\nb = 2\n"
    e1 = Edit(Span(Position(0, 4), Position(0, 5)), "10")
    e2 = Edit(Span(Position(0, 4), Position(0, 5)), "20")
    assert apply_edits(text, [e1, e2]) == "é = 10\nb = 2\n"


def test_non_utf8_bytes_are_replaced_not_fatal():
    text, warning = decode_source(b"x = '\xff'\n")
    assert "\ufffd" in text and "UTF-8" in warning
