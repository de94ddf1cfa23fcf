"""Practice cards: YAML data validated against a schema. A new practice needs no code change."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

log = logging.getLogger(__name__)

SCHEMA_PATH = Path(__file__).with_name("card_schema.json")
# The C loader is ~10x faster; both are safe loaders (no Python tags).
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_CARD_BYTES = 256 * 1024
RULES_URL = "https://github.com/spark-lsp/spark/blob/main/docs/rules.md"
_METAVAR = re.compile(r"\$\$\$([A-Z_][A-Z0-9_]*)|\$([A-Z_][A-Z0-9_]*)")


def version_in(installed: str | None, spec: str) -> bool | None:
    """Whether an installed version lies in a specifier range; None when either is unknown or
    cannot be read."""
    if not installed:
        return None
    try:
        return Version(installed) in SpecifierSet(spec)
    except (InvalidSpecifier, InvalidVersion):
        return None


@dataclass(frozen=True)
class FixSpec:
    applicability: str
    description: str
    template: str | None = None
    target: str | None = None
    imports: tuple[str, ...] = ()
    example: str | None = None


@dataclass(frozen=True)
class Rule:
    id: str
    config: dict[str, Any] | None = None  # ast-grep config: {"rule": ..., "constraints": ...}
    detector: str | None = None
    types: dict[str, tuple[str, ...]] = field(default_factory=dict)
    not_types: dict[str, tuple[str, ...]] = field(default_factory=dict)
    qualname: dict[str, tuple[str, ...]] = field(default_factory=dict)
    requires_import: tuple[str, ...] = ()
    target: str | None = None
    message: str | None = None
    fix: FixSpec | None = None
    # ast-grep-style transforms, applied in Python to matched text only when a fix is built
    # (compiling them into every search would cost ~1 ms per block).
    transform: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Example:
    bad: str
    good: str
    fixed: str | None = None
    run: bool = True
    error: str | None = None  # the `Type: message` line running `bad` prints


MAX_ERROR_TEXT = 2000  # characters of `Type: message` a card's error regex is run on
MAX_CODE_TEXT = 50_000  # characters of the user's code an `in_code` regex is run on


@dataclass(frozen=True)
class ErrorPattern:
    """A message a card explains: a regex searched in `ExceptionType: message`.

    Seed cards are ours; a card from a memory file had each regex run on backtracking samples
    under a time limit in a child process (`memory.rulecheck`) before it got here, and the text
    searched is capped at MAX_ERROR_TEXT characters.
    """

    regex: str
    versions: dict[str, str] = field(default_factory=dict)  # library -> range that emits it
    note: str = ""  # the change behind the message: "removed in pandas 2.0"
    examples: tuple[str, ...] = ()
    cause: str = ""  # what the message stands for: removed-api, missing-key, … (docs/errors.md)
    in_code: str = ""  # a regex the user's code must contain for the message to count
    with_finding: bool = False  # … or one of the card's rules must fire in the code

    @property
    def needs_code(self) -> bool:
        return bool(self.in_code) or self.with_finding

    def search(self, text: str) -> re.Match[str] | None:
        return _compiled(self.regex).search(text[:MAX_ERROR_TEXT])

    def found_in(self, code: str) -> bool:
        return bool(self.in_code) and _compiled(self.in_code).search(code[:MAX_CODE_TEXT]) \
            is not None

    def emitted_by(self, versions: dict[str, str]) -> bool | None:
        """Whether the installed versions emit this message; None when unknown."""
        verdict: bool | None = None
        for lib, spec in self.versions.items():
            inside = version_in(versions.get(lib), spec)
            if inside is False:
                return False
            if inside:
                verdict = True
        return verdict


@lru_cache(maxsize=1024)
def _compiled(regex: str) -> re.Pattern[str]:
    return re.compile(regex)


@dataclass(frozen=True)
class Card:
    code: str
    title: str
    libraries: dict[str, str]
    rules: tuple[Rule, ...]
    why: str
    fix: FixSpec
    examples: tuple[Example, ...]
    sources: tuple[dict[str, str], ...]
    message: str = ""
    severity: str = "warning"
    category: str = ""
    status: str = "curated"
    tags: tuple[str, ...] = ()
    clean: tuple[str, ...] = ()
    errors: tuple[ErrorPattern, ...] = ()
    provenance: dict[str, Any] = field(default_factory=dict)
    path: str = ""
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def url(self) -> str:
        return f"{RULES_URL}#{self.code.lower()}"

    def applies_to(self, versions: dict[str, str]) -> bool:
        """False only when a library's installed version is known and outside the card's range."""
        return all(not spec or version_in(versions.get(lib), spec) is not False
                   for lib, spec in self.libraries.items())


@dataclass
class CardProblem:
    path: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.field}: {self.message}"


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    return Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))


def _fix(data: dict[str, Any] | None) -> FixSpec | None:
    if data is None:
        return None
    return FixSpec(
        applicability=data["applicability"],
        description=data["description"],
        template=data.get("template"),
        target=data.get("target"),
        imports=tuple(data.get("imports", ())),
        example=data.get("example"),
    )


def _error_pattern(data: str | dict[str, Any]) -> ErrorPattern:
    if isinstance(data, str):
        return ErrorPattern(data)
    return ErrorPattern(data["regex"], dict(data.get("versions") or {}), data.get("note", ""),
                        tuple(data.get("examples", ())), data.get("cause", ""),
                        data.get("in_code", ""), bool(data.get("with_finding", False)))


def _check_errors(patterns: tuple[ErrorPattern, ...], path: str) -> list[CardProblem]:
    problems = []
    for i, p in enumerate(patterns):
        try:
            _compiled(p.regex)
            if p.in_code:
                _compiled(p.in_code)
        except re.error as exc:
            problems.append(CardProblem(path, f"errors/{i}", f"bad regular expression: {exc}"))
            continue
        for lib, spec in p.versions.items():
            try:
                SpecifierSet(spec)
            except InvalidSpecifier:
                problems.append(CardProblem(path, f"errors/{i}/versions/{lib}",
                                            f"bad version range {spec!r}"))
    return problems


def _rule(code: str, i: int, data: dict[str, Any]) -> Rule:
    config = None
    if "pattern" in data or "rule" in data:
        rule = dict(data.get("rule") or {})
        if "pattern" in data:
            rule["pattern"] = data["pattern"]
        config = {"rule": rule}
        if data.get("constraints"):
            config["constraints"] = data["constraints"]
    def varmap(key: str) -> dict[str, tuple[str, ...]]:
        return {k: tuple(v) for k, v in (data.get(key) or {}).items()}
    return Rule(
        id=data.get("id", f"{code}-{i}"),
        config=config,
        detector=data.get("detector"),
        types=varmap("types"),
        not_types=varmap("not_types"),
        qualname=varmap("qualname"),
        requires_import=tuple(data.get("requires_import", ())),
        target=data.get("target"),
        message=data.get("message"),
        fix=_fix(data.get("fix")),
        transform=dict(data.get("transform") or {}),
    )


def apply_transforms(transform: dict[str, Any], values: dict[str, str]) -> None:
    """Compute transformed metavariables (`replace`, `substring`) into `values`."""
    for name, spec in transform.items():
        if not isinstance(spec, dict):
            continue
        if "replace" in spec:
            r = spec["replace"]
            source = values.get(str(r.get("source", "")).lstrip("$"), "")
            try:
                values[name] = re.sub(r["replace"], r.get("by", ""), source)
            except (re.error, KeyError, TypeError):
                log.warning("bad transform %s: %s", name, spec)
        elif "substring" in spec:
            r = spec["substring"]
            source = values.get(str(r.get("source", "")).lstrip("$"), "")
            values[name] = source[r.get("startChar"):r.get("endChar")]


def _problem_message(err: ValidationError) -> str:
    """"Not valid under any of the given schemas" says little: name what is wrong in the
    branch of the right type (a string that is too long, not "is not of type 'object'")."""
    if not err.context:
        return err.message
    relevant = [e for e in err.context if e.validator != "type"]
    return best_match(relevant or err.context).message  # type: ignore[union-attr]


def card_from_dict(data: Any, path: str = "<memory>") -> tuple[Card | None, list[CardProblem]]:
    """Validate one card's data; return the card or the problems (file + field + message)."""
    problems = [
        CardProblem(path, "/".join(str(p) for p in err.absolute_path) or "(card)",
                    _problem_message(err))
        for err in sorted(_validator().iter_errors(data), key=lambda e: list(map(str, e.path)))
    ]
    if problems:
        return None, problems
    code = data["code"]
    rules = tuple(_rule(code, i, r) for i, r in enumerate(data["rules"]))
    errors = tuple(_error_pattern(e) for e in data.get("errors", ()))
    if not rules and not errors:
        problems.append(CardProblem(path, "rules", "a card needs at least one rule, or the "
                                                   "`errors` it explains"))
    problems += _check_rules(rules, path) + _check_errors(errors, path)
    for lib, spec in data["libraries"].items():
        try:
            SpecifierSet(spec)
        except InvalidSpecifier:
            problems.append(CardProblem(path, f"libraries/{lib}", f"bad version range {spec!r}"))
    if problems:
        return None, problems
    card = Card(
        code=code,
        title=data["title"],
        libraries=dict(data["libraries"]),
        rules=rules,
        why=data["why"].strip(),
        fix=_fix(data["fix"]),  # type: ignore[arg-type]
        examples=tuple(Example(e["bad"], e["good"], e.get("fixed"), e.get("run", True),
                               e.get("error")) for e in data["examples"]),
        sources=tuple(data["sources"]),
        message=data.get("message", data["title"]),
        severity=data.get("severity", "warning"),
        category=data.get("category", ""),
        status=data.get("status", "curated"),
        tags=tuple(data.get("tags", ())),
        clean=tuple(data.get("clean", ())),
        errors=errors,
        provenance=dict(data.get("provenance", {})),
        path=path,
        raw=data,
    )
    return card, []


def _check_rules(rules: tuple[Rule, ...], path: str) -> list[CardProblem]:
    from ast_grep_py import SgRoot

    from spark_lsp.analysis.detectors import DETECTORS

    problems = []
    probe = SgRoot("x = 1\n", "python").root()
    for i, rule in enumerate(rules):
        if rule.config is not None:
            try:
                probe.find_all(rule.config)  # compiles the pattern
            except Exception as exc:  # ast-grep raises plain Exception on a bad rule
                problems.append(CardProblem(path, f"rules/{i}", f"invalid ast-grep rule: {exc}"))
        if rule.detector and rule.detector not in DETECTORS:
            problems.append(CardProblem(path, f"rules/{i}/detector",
                                        f"unknown detector {rule.detector!r}"))
        for regex in (rule.config or {}).get("constraints", {}).values():
            if isinstance(regex, dict) and "regex" in regex:
                try:
                    re.compile(regex["regex"])
                except re.error as exc:
                    problems.append(CardProblem(path, f"rules/{i}/constraints", str(exc)))
    return problems


def load_card_file(path: Path) -> tuple[list[Card], list[CardProblem]]:
    try:
        if path.stat().st_size > MAX_CARD_BYTES:
            return [], [CardProblem(str(path), "(file)", f"larger than {MAX_CARD_BYTES} bytes")]
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_SafeLoader)  # noqa: S506
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        return [], [CardProblem(str(path), "(file)", f"cannot read card: {exc}")]
    docs = data if isinstance(data, list) else [data]
    cards, problems = [], []
    for doc in docs:
        card, probs = card_from_dict(doc, str(path))
        problems += probs
        if card:
            cards.append(card)
    return cards, problems


def load_cards(*dirs: Path) -> tuple[list[Card], list[CardProblem]]:
    """Load every `*.yaml` card under the folders; bad cards are reported and skipped."""
    cards: dict[str, Card] = {}
    problems: list[CardProblem] = []
    for d in dirs:
        for path in sorted(Path(d).rglob("*.y*ml")):
            found, probs = load_card_file(path)
            problems += probs
            for card in found:
                if card.code in cards:
                    problems.append(CardProblem(str(path), "code",
                                                f"duplicate code {card.code} (also in {cards[card.code].path})"))
                    continue
                cards[card.code] = card
    for p in problems:
        log.warning("skipped card: %s", p)
    return sorted(cards.values(), key=lambda c: c.code), problems


def template_vars(template: str) -> list[tuple[str, bool]]:
    """Metavariables used in a template: (name, is_multi)."""
    return list(_template_vars(template))


@lru_cache(maxsize=4096)
def _template_vars(template: str) -> tuple[tuple[str, bool], ...]:
    return tuple((m.group(1) or m.group(2), bool(m.group(1))) for m in _METAVAR.finditer(template))


def render(template: str, values: dict[str, str]) -> str:
    """Substitute `$NAME`/`$$$NAME` with matched code; unknown names stay as written."""
    def sub(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        return values.get(name, m.group(0))
    return _METAVAR.sub(sub, template)
