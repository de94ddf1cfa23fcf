"""Reading tracebacks and warnings as terminals, logs and notebooks print them."""

from __future__ import annotations

import io
import linecache
import os
import subprocess
import sys
import tempfile
import textwrap
import traceback
import warnings

import pytest

from spark_lsp.analysis.tracebacks import (
    TAIL_BYTES,
    NotATraceback,
    clean_text,
    is_user_path,
    parse_error_text,
    read_tail,
)

SITE = os.path.join(os.path.dirname(os.__file__), "site-packages", "pandas", "core", "frame.py")


def raised(code: str) -> str:
    """The traceback Python itself prints for `code`, run in this process from a real file
    (so the traceback shows the source lines)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "report.py")
        with open(path, "w", encoding="utf-8") as f:
            f.write(code)
        namespace: dict[str, object] = {}
        try:
            exec(compile(code, path, "exec"), namespace)  # noqa: S102
        except Exception as exc:  # noqa: BLE001 - the traceback is the test input
            return "".join(traceback.format_exception(exc))
        finally:
            linecache.checkcache(path)
    raise AssertionError("the code did not raise")


def test_plain_traceback_type_message_and_user_frame():
    text = raised("def load(rows):\n    return rows['date']\n\nload({'Date': 1})\n")
    parsed = parse_error_text(text)
    assert parsed.error.type == "KeyError" and parsed.error.message == "'date'"
    assert parsed.error.text == "KeyError: 'date'"
    frame = parsed.user_frame
    assert frame is not None and frame.line == 2 and frame.function == "load"
    assert frame.source == "return rows['date']"
    assert not parsed.truncated and parsed.causes == []


def test_innermost_frame_in_user_code_skips_libraries():
    text = textwrap.dedent(f'''\
        Traceback (most recent call last):
          File "/home/ana/report.py", line 5, in <module>
            df = df.append(extra)
          File "{SITE}", line 6434, in __getattr__
            return object.__getattribute__(self, name)
        AttributeError: 'DataFrame' object has no attribute 'append'
        ''')
    parsed = parse_error_text(text)
    assert parsed.user_frame is not None and parsed.user_frame.line == 5
    assert parsed.user_frame.source == "df = df.append(extra)"
    assert not is_user_path(SITE) and not is_user_path(os.__file__)
    assert is_user_path("<stdin>") and is_user_path("Cell In[3]")


def test_chained_exceptions_keep_their_causes():
    text = raised(textwrap.dedent('''\
        def get(d, key):
            try:
                return d[key]
            except KeyError as err:
                raise ValueError(f"no column {key}") from err
        get({}, "date")
        '''))
    assert "direct cause" in text
    parsed = parse_error_text(text)
    assert parsed.error.text == "ValueError: no column date"
    assert [c.text for c in parsed.causes] == ["KeyError: 'date'"]
    during = raised("try:\n    {}['a']\nexcept KeyError:\n    1 / 0\n")
    parsed = parse_error_text(during)
    assert parsed.error.name == "ZeroDivisionError" and parsed.causes[0].name == "KeyError"


def test_an_earlier_unrelated_traceback_in_the_log_is_not_a_cause():
    first = raised("[][1]\n")
    second = raised("{}['x']\n")
    parsed = parse_error_text(first + "retrying...\n" + second)
    assert parsed.error.name == "KeyError" and parsed.causes == []


def test_warning_lines_with_their_source_line():
    with warnings.catch_warnings():
        text = warnings.formatwarning(
            "A value is trying to be set on a copy of a slice from a DataFrame.\nTry using "
            ".loc[row_indexer,col_indexer] = value instead", FutureWarning,
            "/home/ana/clean.py", 12, 'df[df.a > 1]["b"] = 0')
    parsed = parse_error_text("loading...\n" + text)
    err = parsed.error
    assert err.warning and err.name == "FutureWarning"
    assert err.message.startswith("A value is trying to be set on a copy")
    assert "Try using .loc" in err.message
    assert err.frames[0].line == 12 and err.frames[0].source == 'df[df.a > 1]["b"] = 0'
    empty = parse_error_text("/x/a.py:3: SettingWithCopyWarning: \nA value is trying\n  x = 1\n")
    assert empty.error.name == "SettingWithCopyWarning"


def test_exception_wins_over_warnings_printed_before_it():
    text = ("/home/ana/a.py:3: FutureWarning: old\n  x = f()\n" +
            raised("import math\nmath.sqrt(-1)\n"))
    parsed = parse_error_text(text)
    assert parsed.error.name == "ValueError" and [w.name for w in parsed.warnings] == [
        "FutureWarning"]


def test_ansi_colours_and_progress_bars_are_removed():
    coloured = ("\x1b[0;31mTraceback (most recent call last):\x1b[0m\n"
                '  File \x1b[0;32m"/home/ana/a.py"\x1b[0m, line \x1b[0;32m3\x1b[0m, in '
                "\x1b[0;35m<module>\x1b[0m\n    x = df['a']\n"
                "\x1b[1;31mKeyError\x1b[0m: \x1b]8;;http://x\x07'a'\x1b]8;;\x07\n")
    parsed = parse_error_text("epoch 1  10%\repoch 1 100%\n" + coloured)
    assert parsed.error.text == "KeyError: 'a'" and parsed.user_frame.line == 3
    assert clean_text("a\x1b[2Kb\rc\n") == "c\n"


def test_bytes_that_are_not_utf8_are_replaced():
    data = ("Traceback (most recent call last):\n  File \"/home/ana/a.py\", line 1, in <module>\n"
            "    read('caf\xe9.csv')\nFileNotFoundError: [Errno 2] No such file or directory: "
            "'caf\xe9.csv'\n").encode("latin-1")
    parsed = parse_error_text(data)
    assert parsed.error.name == "FileNotFoundError"
    assert "caf\ufffd.csv" in parsed.error.message


def test_traceback_cut_at_the_start_keeps_its_frames_and_says_so():
    text = raised("def f():\n    return [][3]\nf()\n")
    headless = text.split("\n", 2)[2]  # header and the first frame line gone
    parsed = parse_error_text(headless)
    assert parsed.error.name == "IndexError" and parsed.truncated
    assert any("beginning is missing" in n for n in parsed.notes)


def test_traceback_cut_before_its_exception_line_is_a_clear_error():
    text = raised("def f():\n    return [][3]\nf()\n")
    cut = "\n".join(text.splitlines()[:-1]) + "\n"
    with pytest.raises(NotATraceback, match="cut off before its exception line"):
        parse_error_text(cut)


def test_bare_exception_line_and_bare_warning_class():
    assert parse_error_text("KeyError: 'date'").error.text == "KeyError: 'date'"
    assert parse_error_text("sklearn.exceptions.NotFittedError: This X instance is not "
                            "fitted yet").error.name == "NotFittedError"
    bare = parse_error_text("SettingWithCopyWarning")
    assert bare.error.warning and bare.error.message == ""


@pytest.mark.parametrize("text, language", [
    (('Exception in thread "main" java.lang.NullPointerException: boom\n'
      "\tat com.acme.Report.load(Report.java:42)\n\tat com.acme.Main.main(Main.java:7)\n"), "Java"),
    (("TypeError: Cannot read properties of undefined (reading 'x')\n"
      "    at Object.<anonymous> (/srv/app/index.js:3:15)\n"), "JavaScript"),
    ("thread 'main' panicked at src/main.rs:4:5:\nindex out of bounds\n", "Rust"),
    ("panic: runtime error: index out of range\n\ngoroutine 1 [running]:\nmain.main()\n", "Go"),
])
def test_other_languages_are_refused_with_their_name(text, language):
    with pytest.raises(NotATraceback, match=f"not a Python traceback.*{language}") as info:
        parse_error_text(text)
    assert info.value.language is not None


def test_text_without_any_error_is_refused():
    with pytest.raises(NotATraceback, match="not a Python traceback"):
        parse_error_text("all 12 tests passed\ncoverage 93%\n")


def test_notebook_traceback():
    text = textwrap.dedent("""\
        ---------------------------------------------------------------------------
        KeyError                                  Traceback (most recent call last)
        Cell In[4], line 3
              1 import pandas as pd
              2 df = pd.DataFrame({"Date": [1]})
        ----> 3 df["date"]

        File ~/venv/lib/python3.11/site-packages/pandas/core/frame.py:4102, in DataFrame.__getitem__(self, key)
           4100 if self.columns.nlevels > 1:
        -> 4102 indexer = self.columns.get_loc(key)

        KeyError: 'date'
        """)
    parsed = parse_error_text(text)
    assert parsed.error.text == "KeyError: 'date'"
    frame = parsed.user_frame
    assert frame is not None and frame.path == "Cell In[4]" and frame.line == 3
    assert frame.source == 'df["date"]'


def test_megabytes_of_log_only_the_tail_is_read():
    log = b"".join(b"INFO step %d loss=0.1234 lr=0.001\n" % i for i in range(200_000))
    assert len(log) > 6_000_000
    data = log + raised("import json\njson.loads('{')\n").encode()
    tail, cut = read_tail(io.BytesIO(data))
    assert cut and len(tail) == TAIL_BYTES
    parsed = parse_error_text(tail, cut=cut)
    assert parsed.error.name == "JSONDecodeError" and parsed.truncated
    assert any("KiB" in n for n in parsed.notes)


def test_a_pipe_is_read_through_a_bounded_window():
    class Pipe(io.RawIOBase):  # not seekable, like stdin from another process
        def __init__(self, chunks: int) -> None:
            self.left = chunks

        def readable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return False

        def seek(self, *args: object) -> int:
            raise io.UnsupportedOperation("not seekable")

        def read(self, size: int = -1) -> bytes:
            if self.left == 0:
                return b""
            self.left -= 1
            return b"x" * 65535 + b"\n" if self.left else b"KeyError: 'a'\n"

    tail, cut = read_tail(Pipe(200))  # ~13 MB
    assert cut and len(tail) <= TAIL_BYTES
    assert parse_error_text(tail, cut=cut).error.text == "KeyError: 'a'"


@pytest.mark.slow
def test_a_real_interpreter_traceback_with_warnings(tmp_path):
    script = tmp_path / "job.py"
    script.write_text("import warnings\nwarnings.warn('old api', FutureWarning)\n"
                      "import json\ndef parse(s):\n    return json.loads(s)\nparse('{')\n")
    proc = subprocess.run([sys.executable, "-W", "default", str(script)], capture_output=True,
                          check=False)
    parsed = parse_error_text(proc.stderr)
    assert parsed.error.name == "JSONDecodeError"
    assert parsed.user_frame.path == str(script) and parsed.user_frame.line == 5
    assert [w.name for w in parsed.warnings] == ["FutureWarning"]
