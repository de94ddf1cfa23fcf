"""Cheap text tests before an ast-grep search: the words a block must contain for a rule to
match it (each search costs 30-100 µs; a substring test costs nothing)."""

from __future__ import annotations

import os
import re

from spark_lsp.analysis.cards import Rule

_WORD = re.compile(r"(?<![$\w])[A-Za-z_]\w{2,}")


def _rule_words(rule: object) -> set[str]:
    """Words every block that can match this ast-grep rule must contain.

    A pattern's literal identifiers must appear; so must those of `has`/`inside`/`precedes`/
    `follows`/`all` sub-rules; `any` needs the words common to all its alternatives; `not`,
    `kind` and `regex` say nothing.
    """
    if not isinstance(rule, dict):
        return set()
    words: set[str] = set()
    pattern = rule.get("pattern")
    if isinstance(pattern, str):
        words |= set(_WORD.findall(pattern))
    if isinstance(rule.get("regex"), str):
        words |= _regex_words(rule["regex"])
    elif isinstance(pattern, dict) and isinstance(pattern.get("context"), str):
        words |= set(_WORD.findall(pattern["context"]))
    for key in ("has", "inside", "precedes", "follows"):
        words |= _rule_words(rule.get(key))
    for sub in rule.get("all") or []:
        words |= _rule_words(sub)
    alternatives = rule.get("any")
    if alternatives:
        common = [_rule_words(sub) for sub in alternatives]
        words |= set.intersection(*common) if common else set()
    return words


_REGEX_WORD = re.compile(r"^\^?([A-Za-z_]\w{2,})(?![\w*+?{|])")
_REGEX_ALTERNATIVES = re.compile(r"^\^?\(\??:?([\w|]+)\)")


def _regex_words(regex: str) -> set[str]:
    """A literal word the text must contain for an anchored regex to match (or nothing)."""
    m = _REGEX_WORD.match(regex)
    if m:
        return {m.group(1)}
    m = _REGEX_ALTERNATIVES.match(regex)
    if m:
        common = os.path.commonprefix(m.group(1).split("|"))
        if len(common) >= 3 and re.fullmatch(r"\w+", common):
            return {common}
    return set()


def _regex_alternatives(regex: str) -> tuple[str, ...]:
    """`^(apply|map)$` -> ("apply", "map"): the text must contain one of them."""
    m = _REGEX_ALTERNATIVES.match(regex)
    if m and regex.rstrip("$").endswith(")"):
        alts = tuple(a for a in m.group(1).split("|"))
        if all(len(a) >= 2 for a in alts):
            return alts
    return ()


def qualname_words(rule: Rule) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Names one of which a block must contain: the literal last parts of the `qualname` globs
    (`pandas.read_*` -> `read_`, and a file's aliases for them), or the alternatives of an
    anchored constraint regex (`^(apply|map)$`). Returns (names, globs)."""
    globs = tuple(g for gs in rule.qualname.values() for g in gs)
    names: list[str] = []
    for g in globs:
        last = g.rsplit(".", 1)[-1]
        chunk = max(re.split(r"[*?\[\]]", last), key=len)
        if len(chunk) < 2:
            names, globs = [], ()
            break
        names.append(chunk)
    if not names:
        for constraint in ((rule.config or {}).get("constraints") or {}).values():
            if isinstance(constraint, dict) and isinstance(constraint.get("regex"), str):
                alts = _regex_alternatives(constraint["regex"])
                if alts:
                    return tuple(sorted(set(alts))), ()
    return tuple(sorted(set(names))), globs


def required_words(rule: Rule) -> tuple[str, ...]:
    cfg = (rule.config or {}).get("rule", {})
    words = _rule_words(cfg)
    for constraint in ((rule.config or {}).get("constraints") or {}).values():
        if isinstance(constraint, dict) and isinstance(constraint.get("regex"), str):
            words |= _regex_words(constraint["regex"])
    return tuple(sorted(words))
