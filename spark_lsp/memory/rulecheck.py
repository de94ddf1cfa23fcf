"""A time limit per rule for cards that come from a memory file.

A card from elsewhere could carry a rule that makes the matcher hang: a Python regular
expression with catastrophic backtracking in a fix `transform` or in `errors`, or an ast-grep
rule that explodes on large code. Such a rule cannot be stopped from inside the process (a
regex holds the GIL), so every rule runs in a child process on its card's own examples and on
pathological samples — long files, deep nesting, and for each regex, strings built from its
own characters that trigger backtracking. The parent gives each rule `limit` seconds and kills
the child when one overruns: that rule (and its card) is rejected, the remaining rules go on in
a fresh child.

    python -m spark_lsp.memory.rulecheck   # the child: JSON cards on stdin, progress on stdout
"""

from __future__ import annotations

import json
import logging
import os
import re
import select
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

RULE_TIME_LIMIT = 1.0  # seconds per rule, on top of the child's start-up
STARTUP_LIMIT = 20.0
_MEMORY_LIMIT = 2 * 1024**3


@dataclass
class SlowRule:
    code: str
    rule: int
    seconds: float
    message: str


def _samples() -> list[str]:
    """Pathological Python: long, deeply nested, repetitive."""
    nested = "x = " + "f(" * 200 + "1" + ")" * 200 + "\n"
    chained = "df = df" + ".apply(lambda r: r)" * 300 + "\n"
    long_file = "".join(f"v{i} = df['c{i}'].values + np.array([{i}] * 10)\n" for i in range(3000))
    strings = "s = '" + "a" * 5000 + "!'\n" + "t = \"" + "ab " * 2000 + "\"\n"
    return [nested, chained, long_file, strings, "for i in range(10):\n" * 40 + "    pass\n"]


def _regex_samples(regex: str) -> list[str]:
    """Strings made of the regex's own characters, ending in a character that fails a match:
    what makes nested quantifiers (`(a+)+$`, `(\\w|\\d)*x`) backtrack exponentially."""
    chars: list[str] = []
    for m in re.finditer(r"\\([dwsDWS])|\\(.)|\[([^\]]+)\]|([^\\()\[\]{}|*+?^$.])|(\.)", regex):
        cls, escaped, klass, literal, dot = m.groups()
        if cls:
            chars.append({"d": "1", "w": "a", "s": " ", "D": "a", "W": "-", "S": "a"}[cls])
        elif escaped:
            chars.append(escaped)
        elif klass:
            chars.append(klass.lstrip("^")[:1] or "a")
        elif literal:
            chars.append(literal)
        elif dot:
            chars.append("a")
    unique = list(dict.fromkeys(chars))[:12] or ["a"]
    out = []
    for c in unique:
        out += [c * 40 + "\0", c * 40 + "!", c * 5000]
    if len(unique) > 1:
        pair = "".join(unique[:2])
        out += [pair * 25 + "\0", "".join(unique) * 10 + "\0"]
    return out


def _card_regexes(card: dict[str, Any], index: int) -> list[str]:
    """Python regular expressions of one rule (its transforms), and the card's `errors`."""
    rules = card.get("rules") or []
    rule = rules[index] if index < len(rules) else {}  # a card that only explains errors
    found = [str(t["replace"]["replace"]) for t in (rule.get("transform") or {}).values()
             if isinstance(t, dict) and isinstance(t.get("replace"), dict)
             and "replace" in t["replace"]]
    if index == 0:
        for e in card.get("errors", []):
            if isinstance(e, dict):
                found += [str(e.get("regex", ""))] + ([str(e["in_code"])] if e.get("in_code")
                                                      else [])
            else:
                found.append(str(e))
    return found


# -- the child -------------------------------------------------------------------------------

def _child() -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (_MEMORY_LIMIT, _MEMORY_LIMIT))
    except (ImportError, ValueError, OSError):
        pass
    from ast_grep_py import SgRoot

    from spark_lsp.analysis.cards import card_from_dict
    from spark_lsp.analysis.engine import Analyzer

    # parsed once, before the cards arrive (a spare child waits here, warm); the matcher
    # (ast-grep) is what a rule drives — Spark's own steps around it are trusted code
    roots = [SgRoot(text, "python").root() for text in _samples()]
    Analyzer([])
    text = sys.stdin.read()
    if not text:
        return  # a spare child that was not needed
    cards = json.loads(text)
    print("ready", flush=True)
    for code, card_data, index in cards:
        print(f"start {code} {index}", flush=True)
        rules = card_data.get("rules") or []
        single = {**card_data, "rules": rules[index:index + 1]}
        card, _ = card_from_dict(single, f"<memory:{code}>")
        if card is not None:
            texts = [t for e in card.examples for t in (e.bad, e.good, e.fixed or "")]
            analyzer = Analyzer([card])
            for text in texts + list(card.clean):
                analyzer.analyze(text, "example.py")  # the whole path, fixes and transforms too
            for rule in card.rules:
                for root in roots if rule.config is not None else []:
                    root.find_all(rule.config)  # type: ignore[call-overload]
        for regex in _card_regexes(card_data, index):
            try:
                compiled = re.compile(regex)
            except re.error:
                continue
            for text in _regex_samples(regex):
                compiled.search(text)
                compiled.sub("", text)
        print(f"done {code} {index}", flush=True)


# -- the parent ------------------------------------------------------------------------------

def find_slow_rules(cards: list[dict[str, Any]], *, limit: float = RULE_TIME_LIMIT
                    ) -> list[SlowRule]:
    """Rules (by card code and index) that overran `limit` seconds; [] when all are quick."""
    # a card without rules still has its `errors` regexes timed, as "rule" 0
    todo = [(str(c["code"]), c, i) for c in cards
            for i in range(max(1, len(c.get("rules") or [])))]
    slow: list[SlowRule] = []
    try:
        while todo:
            done, overran = _run_child(todo, limit)
            if overran is None:
                break
            slow.append(overran)
            todo = todo[done + 1:]
    finally:
        _replenish()
    return slow


_spare_lock = threading.Lock()
_spare: subprocess.Popen[bytes] | None = None
_warm = False


def _spawn() -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.Popen([sys.executable, "-m", "spark_lsp.memory.rulecheck"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=env)


def keep_warm(on: bool) -> None:
    """Keep a started child waiting (a long-running process, e.g. the language server): the
    next check skips the child's start-up (~0.4 s of imports)."""
    global _warm, _spare
    with _spare_lock:
        _warm = on
        if on and _spare is None:
            _spare = _spawn()
        elif not on and _spare is not None:
            _spare.kill()
            _spare.wait()
            _spare = None


def _child_process() -> subprocess.Popen[bytes]:
    global _spare
    with _spare_lock:
        proc, _spare = _spare, None
        if proc is None or proc.poll() is not None:
            proc = _spawn()
    return proc


def _replenish() -> None:
    """A new spare once a check is over (not during it: they would compete for the CPU)."""
    global _spare
    with _spare_lock:
        if _warm and _spare is None:
            _spare = _spawn()


def _run_child(todo: list[tuple[str, dict[str, Any], int]], limit: float
               ) -> tuple[int, SlowRule | None]:
    """Run rules in one child; (rules finished, the rule that overran or None)."""
    proc = _child_process()
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(json.dumps(todo).encode())
        proc.stdin.close()
        finished = 0
        current: tuple[str, int] | None = None
        started = time.monotonic()
        deadline = started + STARTUP_LIMIT
        buffer = b""
        while True:
            timeout = deadline - time.monotonic()
            if timeout <= 0:
                if current is None:
                    raise RuntimeError("the rule checker did not start")
                return finished, SlowRule(current[0], current[1], time.monotonic() - started,
                                          f"rule {current[1]} of {current[0]} ran longer than "
                                          f"{limit:g} s on a test sample (a pattern or regular "
                                          "expression that can hang the matcher)")
            ready, _, _ = select.select([proc.stdout], [], [], timeout)
            if not ready:
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                proc.wait(timeout=5)
                if proc.returncode not in (0, None) and current is not None:
                    return finished, SlowRule(current[0], current[1], 0.0,
                                              f"rule {current[1]} of {current[0]} crashed the "
                                              f"matcher (exit code {proc.returncode})")
                return finished, None
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                word, *rest = line.decode().split()
                if word == "start":
                    current = (rest[0], int(rest[1]))
                    started = time.monotonic()
                    deadline = started + limit
                elif word == "done":
                    finished += 1
                    current = None
                    deadline = time.monotonic() + limit
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()


if __name__ == "__main__":
    _child()
