"""Read a Python traceback or warning text: the exception (or warning), where it was raised in
the user's code, and its causes. Plain text in, plain data out; no database, no LSP.

Input is whatever a terminal, a log file or a notebook printed: ANSI colours, progress bars
(`\\r`), bytes that are not UTF-8, megabytes of log around the traceback (only the tail is
read), a traceback cut at either end, exceptions chained with "During handling of the above
exception…", IPython's `Cell In[3], line 5` frames, and warnings lines
(`file.py:12: FutureWarning: …`). Text with none of these is refused with a message saying so —
and, when it recognises one, which language's stack trace it looks like.
"""

from __future__ import annotations

import io
import re
import sysconfig
from collections import deque
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any, BinaryIO

TAIL_BYTES = 256 * 1024  # of a bigger input only the end is read: tracebacks end logs
MAX_MESSAGE_CHARS = 4000
MAX_WARNING_LINES = 8  # continuation lines of one warning's message
MAX_FRAMES = 200  # kept per exception (the innermost ones)

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_HEADER = re.compile(r"Traceback \(most recent call last\):?\s*$")
_IPY_HEADER = re.compile(r"^(?P<type>[A-Za-z_][\w.]*)\s{2,}Traceback \(most recent call last\)")
_CHAIN = re.compile(r"^(During handling of the above exception, another exception occurred|"
                    r"The above exception was the direct cause of the following exception):?\s*$")
_FRAME = re.compile(r'^\s*File "(?P<path>[^"]+)", line (?P<line>\d+)(?:, in (?P<func>.+))?\s*$')
_IPY_FRAME = re.compile(r"^(?:File (?P<path>\S.*?):(?P<line>\d+)(?:, in (?P<func>.+))?|"
                        r"(?P<cell>Cell In\s*\[\s*\d*\s*\]), line (?P<cline>\d+))\s*$")
_IPY_ARROW = re.compile(r"^-*>\s*(?P<line>\d+)\s(?P<code>.*)$")
_IPY_CONTEXT = re.compile(r"^\s+\d+\s")
_CARETS = re.compile(r"^\s*[~^\s]+$")
# a dotted name whose last part looks like an exception class: KeyError, errors_impl.
# InvalidArgumentError, _UFuncNoLoopError, StopIteration, KeyboardInterrupt, SystemExit
_EXC_NAME = r"(?:[A-Za-z_][\w]*\.)*_?[A-Z]\w*"
_EXC_LINE = re.compile(rf"^(?P<type>{_EXC_NAME})(?::\s?(?P<msg>.*))?$")
_WARNING_LINE = re.compile(
    rf"^(?P<path>.+?):(?P<line>\d+): (?P<type>{_EXC_NAME}(?:Warning|Error)):\s*(?P<msg>.*)$")
_EXC_SUFFIXES = ("Error", "Exception", "Warning", "Exit", "Interrupt", "Iteration", "Fault",
                 "Failure", "Timeout")
_LANGUAGES = [
    ("Java/JVM", re.compile(r"^\s+at [\w$.<>]+\([\w$.]+\.(?:java|kt|scala):\d+\)|"
                            r"^Exception in thread \"", re.MULTILINE)),
    ("JavaScript/Node.js", re.compile(r"^\s+at .+ \(.+\.(?:m?js|ts|cjs):\d+:\d+\)|"
                                      r"^\s+at .+\.(?:m?js|ts):\d+:\d+$", re.MULTILINE)),
    ("Rust", re.compile(r"thread '[^']+' panicked at")),
    ("Go", re.compile(r"^goroutine \d+ \[\w+", re.MULTILINE)),
    ("C#/.NET", re.compile(r"^\s+at [\w.<>`]+\(.*\) in .+:line \d+", re.MULTILINE)),
    ("R", re.compile(r"^Error in .+ :|^Calls: ", re.MULTILINE)),
    ("Julia", re.compile(r"^ERROR: (?:LoadError: )?\w+", re.MULTILINE)),
    ("C/C++", re.compile(r"terminate called after throwing|Segmentation fault|core dumped")),
    ("Ruby", re.compile(r"^\s+from .+\.rb:\d+:in ", re.MULTILINE)),
]


class NotATraceback(ValueError):
    """The text holds no Python exception or warning; the message says what it looks like."""

    def __init__(self, message: str, language: str | None = None) -> None:
        super().__init__(message)
        self.language = language  # another language's stack trace, when recognised


@dataclass
class Frame:
    path: str
    line: int  # 1-based, as printed
    function: str = ""
    source: str = ""  # the line's code as printed (stripped)

    @property
    def is_user_code(self) -> bool:
        return is_user_path(self.path)


@dataclass
class RaisedError:
    """One exception (or warning) as printed: its type, message and frames (innermost last)."""

    type: str  # as printed: KeyError, numpy.core._exceptions._UFuncNoLoopError, FutureWarning
    message: str = ""
    frames: list[Frame] = field(default_factory=list)
    warning: bool = False

    @property
    def name(self) -> str:
        """The class name without its module: `InvalidArgumentError`."""
        return self.type.rsplit(".", 1)[-1]

    @property
    def text(self) -> str:
        """`Type: message`, what card `errors` regexes are searched in."""
        if not self.type:  # a fragment of a message, without its exception line
            return self.message
        return f"{self.name}: {self.message}" if self.message else self.name

    @property
    def user_frame(self) -> Frame | None:
        """The innermost frame in the user's code (not the standard library, not an installed
        package); None when no frame is."""
        return next((f for f in reversed(self.frames) if f.is_user_code), None)


@dataclass
class ParsedError:
    error: RaisedError  # the one to explain: the exception that ended the program, else a warning
    causes: list[RaisedError] = field(default_factory=list)  # chained before it, earliest first
    warnings: list[RaisedError] = field(default_factory=list)  # other warnings in the text
    truncated: bool = False  # only part of the input or of the traceback was there
    notes: list[str] = field(default_factory=list)

    @property
    def user_frame(self) -> Frame | None:
        for err in [self.error, *reversed(self.causes)]:
            frame = err.user_frame
            if frame is not None:
                return frame
        return None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["error"]["text"] = self.error.text
        frame = self.user_frame
        data["user_frame"] = asdict(frame) if frame else None
        return data


# -- reading -----------------------------------------------------------------------------------

def read_tail(stream: BinaryIO, limit: int = TAIL_BYTES) -> tuple[bytes, bool]:
    """The last `limit` bytes of a stream (memory stays bounded whatever its size), and whether
    anything before them was dropped."""
    try:
        size = stream.seek(0, io.SEEK_END)
        if size > limit:
            stream.seek(size - limit)
            return stream.read(limit), True
        stream.seek(0)
        return stream.read(), False
    except (OSError, ValueError, AttributeError):  # a pipe: keep a window over the stream
        chunks: deque[bytes] = deque()
        kept, dropped = 0, False
        while chunk := stream.read(65536):
            chunks.append(chunk)
            kept += len(chunk)
            while kept - len(chunks[0]) >= limit:
                kept -= len(chunks.popleft())
                dropped = True
        data = b"".join(chunks)
        if len(data) > limit:
            data, dropped = data[-limit:], True
        return data, dropped


def clean_text(data: bytes | str, *, cut: bool = False) -> str:
    """Text without ANSI escapes, control characters or progress-bar overwrites; bytes that are
    not UTF-8 become U+FFFD. `cut`: the data starts mid-stream, so its first line is partial."""
    if isinstance(data, bytes):
        if len(data) > TAIL_BYTES:
            data, cut = data[-TAIL_BYTES:], True
        text = data.decode("utf-8", errors="replace")
    else:
        if len(data) > TAIL_BYTES:
            data, cut = data[-TAIL_BYTES:], True
        text = data
    text = _ANSI.sub("", text).replace("\r\n", "\n")
    lines = text.split("\n")
    if cut and len(lines) > 1:
        lines = lines[1:]
    # a carriage return rewinds the terminal's line: what stays visible is the last segment
    lines = [_CONTROL.sub("", ln.rsplit("\r", 1)[-1] if "\r" in ln.rstrip("\r") else ln.rstrip("\r"))
             for ln in lines]
    return "\n".join(lines)


# -- parsing -----------------------------------------------------------------------------------

def parse_error_text(data: bytes | str, *, cut: bool = False) -> ParsedError:
    """The error (or warning) a traceback / log / warning output reports.

    Raises NotATraceback when there is none, saying which language's stack trace it looks like
    when it recognises one.
    """
    text = clean_text(data, cut=cut)
    lines = text.split("\n")
    blocks, warnings = _scan(lines)
    notes = [f"only the last {TAIL_BYTES // 1024} KiB of the input were read"] if cut else []
    if blocks:
        last = blocks[-1]
        causes = [b.error for b in blocks[:-1]] if last.chain_follows else []
        if last.missing_header:
            notes.append("the traceback's beginning is missing: its outer frames are not known")
        if last.error.type:
            return ParsedError(last.error, causes, warnings, cut or last.missing_header, notes)
        if not warnings:
            raise NotATraceback("the traceback is cut off before its exception line: include "
                                "the last lines, down to `SomeError: message`")
        notes.append("the traceback is cut off before its exception line; explaining the "
                     "warning printed with it")
        return ParsedError(warnings[0], [], warnings[1:], True, notes)
    if warnings:
        return ParsedError(warnings[0], [], warnings[1:], cut, notes)
    language = guess_language(text)
    if language:
        raise NotATraceback(f"not a Python traceback: this looks like a {language} stack trace; "
                            "Spark explains Python exceptions and warnings", language)
    bare = _bare_exception(lines)
    if bare is not None:
        return ParsedError(bare, [], [], cut, notes)
    raise NotATraceback("not a Python traceback: no `Traceback (most recent call last):`, no "
                        "`ExceptionType: message` line and no `file:line: SomeWarning: …` line "
                        "was found")


def message_fragment(data: bytes | str, *, cut: bool = False, lines: int = 12) -> RaisedError:
    """The last lines of a text that has no exception line — often the continuation of a long
    message (`Reshape your data either using …`): card regexes may still recognise it."""
    kept = [ln.strip() for ln in clean_text(data, cut=cut).split("\n") if ln.strip()][-lines:]
    return RaisedError("", "\n".join(kept)[-MAX_MESSAGE_CHARS:])


def guess_language(text: str) -> str | None:
    for name, pattern in _LANGUAGES:
        if pattern.search(text):
            return name
    return None


@dataclass
class _Block:
    error: RaisedError
    missing_header: bool = False
    chain_follows: bool = False  # the exceptions before this one are its context/causes


def _scan(lines: list[str]) -> tuple[list[_Block], list[RaisedError]]:
    """The last traceback (with the ones chained before it) and the warnings in the lines."""
    blocks: list[_Block] = []
    warnings: list[RaisedError] = []
    seen_warnings: set[str] = set()
    i, n = 0, len(lines)
    chained = False
    while i < n:
        line = lines[i]
        stripped = line.strip()
        if _HEADER.search(stripped) or _IPY_HEADER.match(stripped):
            block, i = _read_traceback(lines, i + 1, header=stripped)
            if not chained:
                blocks = []  # an earlier, unrelated traceback in the log: the last one counts
            block.chain_follows = chained
            blocks.append(block)
            chained = False
            continue
        if _CHAIN.match(stripped):
            chained = bool(blocks)
            i += 1
            continue
        w = _WARNING_LINE.match(stripped)
        if w and _looks_like_exception(w.group("type")):
            msg, i = _warning_message(lines, i + 1, w.group("msg"))
            source = ""
            if i < n and lines[i].startswith("  ") and not _FRAME.match(lines[i]):
                source = lines[i].strip()
                i += 1
            err = RaisedError(w.group("type"), msg, [Frame(w.group("path"), int(w.group("line")),
                                                           "", source)], warning=True)
            key = f"{err.text}@{w.group('path')}:{w.group('line')}"
            if key not in seen_warnings:
                seen_warnings.add(key)
                warnings.append(err)
            continue
        if _FRAME.match(line) and not blocks:
            # frames without their header: the start of the traceback was cut off
            block, i = _read_traceback(lines, i, header="")
            block.missing_header = True
            blocks = [block]
            continue
        i += 1
    return blocks, warnings


def _read_traceback(lines: list[str], i: int, header: str) -> tuple[_Block, int]:
    """Frames from line i until the exception line; (block, index after it)."""
    frames: list[Frame] = []
    n = len(lines)
    ipy = _IPY_HEADER.match(header)
    while i < n:
        line = lines[i]
        stripped = line.strip()
        m = _FRAME.match(line)
        im = _IPY_FRAME.match(stripped) if ipy or not m else None
        if m:
            frames.append(Frame(m.group("path"), int(m.group("line")),
                                (m.group("func") or "").strip()))
            i += 1
            if i < n and lines[i].startswith("    ") and not _FRAME.match(lines[i]) \
                    and not _CARETS.match(lines[i]):
                frames[-1].source = lines[i].strip()
                i += 1
            continue
        if im:
            path = im.group("path") or im.group("cell")
            lineno = int(im.group("line") or im.group("cline"))
            frames.append(Frame(path.strip(), lineno, (im.group("func") or "").strip()))
            i += 1
            continue
        if ipy and frames:
            arrow = _IPY_ARROW.match(stripped)
            if arrow:
                frames[-1].source = arrow.group("code").strip()
                i += 1
                continue
            if _IPY_CONTEXT.match(line) or stripped in ("", "...") or set(stripped) <= {"-"}:
                i += 1
                continue
        if not stripped or _CARETS.match(line) or stripped.startswith(
                ("^", "~", "...", "[Previous line repeated")):
            i += 1
            continue
        if line.startswith("  ") and frames and not frames[-1].source:
            frames[-1].source = stripped  # a frame's source line with unusual indentation
            i += 1
            continue
        exc = _EXC_LINE.match(stripped)
        if exc and _looks_like_exception(exc.group("type")):
            msg, i = _exception_message(lines, i + 1, exc.group("msg") or "")
            return _Block(RaisedError(exc.group("type"), msg, frames[-MAX_FRAMES:])), i
        if line.startswith(" ") or not frames:
            i += 1  # something a tool printed in between
            continue
        break  # the traceback ended without an exception line (cut off)
    return _Block(RaisedError("", "", frames[-MAX_FRAMES:])), i


def _exception_message(lines: list[str], i: int, first: str) -> tuple[str, int]:
    """An exception message goes on until a blank line, a chain note or a new traceback."""
    parts = [first]
    n = len(lines)
    while i < n and len(parts) < 40:
        line = lines[i]
        stripped = line.strip()
        if not stripped or _CHAIN.match(stripped) or _HEADER.search(stripped) or \
                _WARNING_LINE.match(stripped) or _FRAME.match(line):
            break
        parts.append(line.rstrip())
        i += 1
    return "\n".join(parts).strip()[:MAX_MESSAGE_CHARS], i


def _warning_message(lines: list[str], i: int, first: str) -> tuple[str, int]:
    """A warning's message may span lines (pandas' SettingWithCopyWarning does); its source
    line follows, indented by two spaces."""
    parts = [first]
    n = len(lines)
    while i < n and len(parts) <= MAX_WARNING_LINES:
        line = lines[i]
        stripped = line.strip()
        exception = _EXC_LINE.match(stripped)
        if line.startswith("  ") or _WARNING_LINE.match(stripped) or _HEADER.search(stripped) \
                or (exception and _looks_like_exception(exception.group("type"))):
            break
        parts.append(line.rstrip())
        i += 1
    return "\n".join(parts).strip()[:MAX_MESSAGE_CHARS], i


def _bare_exception(lines: list[str]) -> RaisedError | None:
    """The last `Type: message` (or bare `SomeError`) line: a traceback's final line alone."""
    for idx in range(len(lines) - 1, max(-1, len(lines) - 400), -1):
        stripped = lines[idx].strip()
        if not stripped:
            continue
        m = _EXC_LINE.match(stripped)
        if m and _looks_like_exception(m.group("type")):
            msg, _ = _exception_message(lines, idx + 1, m.group("msg") or "")
            name = m.group("type")
            return RaisedError(name, msg, [], warning=name.endswith("Warning"))
    return None


def _looks_like_exception(name: str) -> bool:
    last = name.rsplit(".", 1)[-1]
    return last.endswith(_EXC_SUFFIXES) or last in _builtin_exceptions()


@lru_cache(maxsize=1)
def _builtin_exceptions() -> frozenset[str]:
    import builtins

    return frozenset(n for n, v in vars(builtins).items()
                     if isinstance(v, type) and issubclass(v, BaseException))


# -- whose code is it --------------------------------------------------------------------------

_LIBRARY_PARTS = re.compile(r"(?:^|/)(?:site-packages|dist-packages|lib/python\d(?:\.\d+)?|"
                            r"Lib|envs/[^/]+/lib)/")


@lru_cache(maxsize=1)
def _stdlib() -> str:
    return (sysconfig.get_paths().get("stdlib") or "\0").replace("\\", "/").rstrip("/") + "/"


def is_user_path(path: str) -> bool:
    """Not the standard library, not an installed package, not frozen import machinery;
    `<string>`, `<stdin>` and notebook cells (`Cell In[3]`) are the user's."""
    norm = path.replace("\\", "/")
    if norm.startswith(("<frozen", "<__array_function__", "<built-in", _stdlib())):
        return False
    return not _LIBRARY_PARTS.search(norm)
