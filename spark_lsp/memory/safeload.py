"""Parsing untrusted JSON and YAML without surprises: bounded depth, no YAML tricks.

- JSON: no NaN/Infinity, no duplicate keys, integers of at most 20 digits, nesting at most
  `max_depth` deep (deeper input fails in the decoder or the check after it).
- YAML: the event stream is read first (no construction): anchors, aliases and tags other than
  the standard ones are refused — an alias bomb ("billion laughs") never expands — and so is
  nesting deeper than `max_depth`. Only then does the safe loader build the value.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

MAX_DEPTH = 32
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STANDARD_TAGS = {None, "!", "tag:yaml.org,2002:str", "tag:yaml.org,2002:int",
                  "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null",
                  "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"}


class UnsafeInput(ValueError):
    """Input that is refused: malformed, too deep, or using YAML features that are not data."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise UnsafeInput(f"duplicate key {key!r}")
        out[key] = value
    return out


def _no_constants(name: str) -> Any:
    raise UnsafeInput(f"{name} is not a JSON number")


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > 20:
        raise UnsafeInput(f"integer with {len(text)} digits")
    return int(text)


def depth(value: Any) -> int:
    """Nesting depth of a JSON-like value (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            deepest = max(deepest, level)
            continue
        deepest = max(deepest, level + 1)
        stack.extend((child, level + 1) for child in children)
    return deepest


def loads_json(text: str | bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse strict JSON; raise UnsafeInput naming the problem."""
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants,
                           parse_int=_bounded_int)
    except RecursionError:
        raise UnsafeInput(f"nested deeper than {max_depth} levels") from None
    except UnsafeInput:
        raise
    except (ValueError, UnicodeDecodeError) as exc:
        hint = _yaml_hint(text)
        raise UnsafeInput(f"not valid JSON ({exc}){hint}") from None
    if depth(value) > max_depth:
        raise UnsafeInput(f"nested deeper than {max_depth} levels")
    return value


def _yaml_hint(text: str | bytes) -> str:
    """Name YAML anchors, aliases or tags when that is what made the JSON invalid."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    try:
        for token in yaml.scan(text[:100_000], Loader=_SafeLoader):
            if isinstance(token, (yaml.AnchorToken, yaml.AliasToken)):
                return "; YAML anchors and aliases are not allowed"
            if isinstance(token, yaml.TagToken):
                return "; YAML tags are not allowed"
    except yaml.YAMLError:
        pass
    return ""


def loads_yaml(text: str, *, max_depth: int = MAX_DEPTH, max_events: int = 200_000) -> Any:
    """Parse YAML as plain data; raise UnsafeInput for anchors, aliases, tags, deep nesting."""
    level = 0
    try:
        for count, event in enumerate(yaml.parse(text, Loader=_SafeLoader)):
            if count > max_events:
                raise UnsafeInput(f"more than {max_events} YAML nodes")
            if isinstance(event, yaml.AliasEvent):
                raise UnsafeInput(f"YAML alias *{event.anchor} (anchors and aliases are not "
                                  f"allowed: they can expand into a huge document)")
            anchor = getattr(event, "anchor", None)
            if anchor is not None:
                raise UnsafeInput(f"YAML anchor &{anchor} (anchors and aliases are not allowed)")
            tag = getattr(event, "tag", None)
            if tag not in _STANDARD_TAGS:
                raise UnsafeInput(f"YAML tag {tag} (only plain data is allowed)")
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                level += 1
                if level > max_depth:
                    raise UnsafeInput(f"nested deeper than {max_depth} levels")
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                level -= 1
        return yaml.load(text, Loader=_SafeLoader)  # a safe loader
    except yaml.YAMLError as exc:
        raise UnsafeInput(f"not valid YAML: {exc}") from None
