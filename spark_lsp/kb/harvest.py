"""Harvest documentation by introspecting installed libraries, then split it into snippets.

Introspection runs in a subprocess of the target interpreter (`introspect_child.py`, stdlib
only), one process per library with a timeout, so a library that fails to import, hangs, or
crashes the interpreter costs a note and nothing else. Docstrings are split here, in Spark's
own environment, with docstring_parser: one snippet per public object (signature + summary) and
one per meaningful section (parameters, returns, notes, examples, deprecation notes).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import docstring_parser

from spark_lsp.kb.db import KBError

log = logging.getLogger(__name__)

CHILD_SCRIPT = Path(__file__).with_name("introspect_child.py")
# import name -> distribution name, for the libraries Spark knows by default
DEFAULT_LIBRARIES = ("pandas", "numpy", "scipy", "sklearn", "matplotlib", "torch", "tensorflow",
                     "keras", "dask")
DIST_NAMES = {"sklearn": "scikit-learn", "yaml": "pyyaml"}
IMPORT_NAMES = {"scikit-learn": "sklearn", "pyyaml": "yaml", "tensorflow-cpu": "tensorflow",
                "pytorch": "torch", "tf": "tensorflow", "np": "numpy", "pd": "pandas",
                "mpl": "matplotlib", "tensorflow/keras": "tensorflow"}
SECTIONS = ("summary", "parameters", "returns", "examples", "notes", "deprecation")
DEFAULT_TIMEOUT = 300.0
MAX_OBJECTS = 60_000
# A submodule's import may take a tenth of the library's timeout (at most 30 s): one that hangs
# is left out instead of losing the whole library to the timeout.
MAX_IMPORT_SECONDS = 30.0
# The harvester's revision, stored with each library it documents: bump it when a change here or
# in introspect_child.py changes what a harvest finds, and the next incremental build documents
# every library again (vectors of unchanged texts come from the cache). 1: first release; 2: the
# public subpackages of every library not walked by attributes only, and the other packages of
# its distribution (`attrs` re-exports `attr`); 3: "See Also" links; 4: accessor namespaces
# (`pandas.Series.str.contains`, `pandas.Series.dt.year`); 5: class attributes that are descriptors
# of the library's own with a docstring (`pandas.DataFrame.index`, `columns`, `Index.dtype`).
HARVESTER = 5
MIN_SECTION_CHARS = 15
_LIMITS = {"summary": 1500, "parameters": 2000, "returns": 800, "examples": 1500,
           "notes": 1500, "deprecation": 800}
_NUMPYDOC = re.compile(r"^[ \t]*(Parameters|Returns|Yields|Raises|Examples?|Notes|See Also|"
                       r"Attributes|Methods|Other Parameters|Warnings?|References)[ \t]*\n"
                       r"[ \t]*-{3,}[ \t]*$", re.MULTILINE)
_GOOGLE = re.compile(r"^[ \t]*(Args|Arguments|Parameters|Returns?|Raises|Examples?|Notes?|"
                     r"Yields|Attributes|Keyword [Aa]rgs|Warning|Warnings|Usage):[ \t]*$",
                     re.MULTILINE)
_REST = re.compile(r"^[ \t]*:(param|parameter|arg|returns?|rtype|raises?)\b", re.MULTILINE)
_EPYDOC = re.compile(r"^[ \t]*@(param|return|raise)", re.MULTILINE)
_VERSION_NOTE = re.compile(
    r"^([ \t]*)\.\. (versionadded|versionchanged|deprecated|versionremoved)::[ \t]*([^\n]*)\n"
    r"((?:\1[ \t]+[^\n]*\n|[ \t]*\n)*)", re.MULTILINE)
# A "See Also" section, underlined with dashes (numpydoc) or equals signs (SymPy), up to the
# next underlined heading.
_SEE_ALSO = re.compile(r"^([ \t]*)See Also[ \t]*\n[ \t]*(?:-{3,}|={3,})[ \t]*\n(.*?)"
                       r"(?=^[ \t]*\S[^\n]*\n[ \t]*(?:-{3,}|={3,})[ \t]*$|\Z)",
                       re.MULTILINE | re.DOTALL)
_ROLE = re.compile(r":[\w:]+:`([^`]*)`")  # :func:`~numpy.sort`, :meth:`sort <numpy.sort>`
_REFERENCE = re.compile(r"[A-Za-z_][\w.]*")
_DOC_SIGNATURE = re.compile(r"^[A-Za-z_][\w.]*\(.*\)(\s*->\s*.+)?$")


class HarvestError(KBError):
    """The target interpreter cannot be used at all (missing, not Python, broken)."""


@dataclass
class DocObject:
    library: str
    version: str
    object: str  # fully qualified public name: pandas.DataFrame.sort_values
    kind: str  # module | class | function | method | property
    signature: str
    doc: str
    aliases: list[str] = field(default_factory=list)


@dataclass
class Snippet:
    library: str
    version: str
    object: str
    kind: str
    signature: str
    section: str
    text: str
    source: str  # "introspected from pandas 3.1.1"

    def embed_text(self) -> str:
        """What the model sees: the name (queries mention classes and modules) and the prose.

        A summary's first paragraph is the signature: tokens spent on it are missing from the
        description (the model reads 128 tokens) and it says little about meaning.
        """
        body = self.text
        if self.section == "summary" and "\n\n" in body:
            body = body.split("\n\n", 1)[1]
        label = self.object if self.section == "summary" else f"{self.object} ({self.section})"
        return f"{label}: {body}"


@dataclass
class LibraryHarvest:
    library: str
    status: str  # ok | missing | import_failed | timeout | crashed
    version: str = ""
    python: str = ""
    objects: list[DocObject] = field(default_factory=list)
    seconds: float = 0.0
    message: str = ""
    truncated: bool = False
    harvested_at: datetime | None = None  # UTC; set when stored
    usage: dict[str, int] = field(default_factory=dict)  # member name -> uses in its source
    harvester: int = HARVESTER  # the harvester revision that documented it
    # object -> the objects of this library its "See Also" section names (`see_also_links`)
    links: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def import_name(name: str) -> str:
    """`scikit-learn` -> `sklearn`; other names as given (stripped, lowercase where known)."""
    key = name.strip()
    return IMPORT_NAMES.get(key.lower(), key)


def parse_libraries(value: str | Iterable[str] | None) -> list[str]:
    if value is None:
        return list(DEFAULT_LIBRARIES)
    items = value.split(",") if isinstance(value, str) else list(value)
    return list(dict.fromkeys(import_name(x) for x in items if x.strip()))


def clean_text(text: str) -> str:
    """Valid UTF-8 without NULs: docstrings can hold lone surrogates and control bytes."""
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")


def python_executable(python: str | os.PathLike[str] | None) -> str:
    if python is None:
        return sys.executable
    path = Path(python).expanduser()
    if path.is_dir():  # a virtualenv folder
        for candidate in (path / "bin" / "python", path / "Scripts" / "python.exe"):
            if candidate.is_file():
                return str(candidate)
    if not path.is_file() or not os.access(path, os.X_OK):
        raise HarvestError(f"--python {python}: no Python interpreter there")
    return str(path)


_VERSIONS_SCRIPT = """
import importlib.metadata as md, importlib.util as iu, json, sys
out = {}
for name, dist in json.loads(sys.argv[1]):
    try:
        found = iu.find_spec(name) is not None
    except Exception:
        found = False
    if not found:
        out[name] = None
        continue
    out[name] = "unknown"
    # the distribution may be named otherwise (tensorflow-cpu provides `tensorflow`)
    try:
        others = md.packages_distributions().get(name, [])
    except Exception:
        others = []
    for candidate in [dist, *others]:
        try:
            out[name] = md.version(candidate)
            break
        except Exception:
            continue
print(json.dumps(out))
"""


def installed_in(python: str, libraries: list[str], timeout: float = 60.0) -> dict[str, str | None]:
    """Versions of `libraries` in the interpreter, without importing them (None: missing;
    "unknown": importable but without package metadata)."""
    pairs = json.dumps([[lib, DIST_NAMES.get(lib, lib)] for lib in libraries])
    try:
        proc = subprocess.run([python, "-c", _VERSIONS_SCRIPT, pairs], capture_output=True,
                              text=True, timeout=timeout, cwd=tempfile.gettempdir(),
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise HarvestError(f"cannot run {python}: {exc}") from exc
    try:
        return dict(json.loads(proc.stdout.strip().splitlines()[-1]))
    except (ValueError, IndexError) as exc:
        detail = (proc.stderr or proc.stdout).strip()[-500:]
        raise HarvestError(f"{python} did not answer like a Python 3 interpreter: {detail}"
                           ) from exc


_live: set[subprocess.Popen[bytes]] = set()
_live_lock = threading.Lock()


def kill_children() -> None:
    """Stop every introspection process still running (on Ctrl-C / kill of the build)."""
    with _live_lock:
        procs = list(_live)
    for proc in procs:
        _kill(proc)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, AttributeError):
        proc.kill()
    proc.wait()


def harvest_library(library: str, python: str | None = None, *,
                    timeout: float = DEFAULT_TIMEOUT, max_objects: int = MAX_OBJECTS
                    ) -> LibraryHarvest:
    """Introspect one library in a subprocess of `python`; never raises for the library's faults.

    Ctrl-C or a kill of this process kills the child too (it runs in its own session so the
    terminal's Ctrl-C reaches only us, and we end it).
    """
    exe = python_executable(python)
    started = time.monotonic()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "MPLBACKEND": "Agg",
           "PYTHONDONTWRITEBYTECODE": "1", "PYTHONWARNINGS": "ignore"}
    with tempfile.TemporaryDirectory(prefix="spark-harvest-") as tmp:
        out = Path(tmp) / f"{library}.jsonl"
        import_limit = max(1.0, min(MAX_IMPORT_SECONDS, timeout / 10))
        proc = subprocess.Popen([exe, str(CHILD_SCRIPT), library, str(out), str(max_objects),
                                 str(import_limit)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, cwd=tmp, env=env,
                                start_new_session=True)
        with _live_lock:
            _live.add(proc)
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill(proc)
            return LibraryHarvest(library, "timeout", python=exe,
                                  seconds=time.monotonic() - started,
                                  message=f"{library}: introspection took longer than "
                                          f"{timeout:g} s and was stopped")
        finally:
            _kill(proc)
            with _live_lock:
                _live.discard(proc)
        result = read_child_output(library, out, exe)
        result.seconds = time.monotonic() - started
        if result.status == "ok" and proc.returncode != 0:
            result.status = "crashed"
        if result.status == "crashed":
            tail = err.decode("utf-8", "replace").strip().splitlines()[-3:]
            result.message = (f"{library}: the introspection process ended with code "
                              f"{proc.returncode}" + (f" ({' | '.join(tail)})" if tail else ""))
        return result


def read_child_output(library: str, path: Path, python: str) -> LibraryHarvest:
    result = LibraryHarvest(library, "crashed", python=python)
    if not path.is_file():
        return result
    objects: dict[str, DocObject] = {}
    aliases: dict[str, list[str]] = {}
    done = False
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                rec = json.loads(line)
            except ValueError:
                continue  # a line cut by a crash
            kind = rec.get("type")
            if kind == "error" and rec.get("stage") == "import":
                result.status = "import_failed"
                result.message = f"{library}: import failed: {rec.get('error', '')}"
                return result
            if kind == "error" and rec.get("stage") == "usage":
                result.message = f"{library}: API usage not counted: {rec.get('error')}"
            elif kind == "error":
                result.message = f"{library}: introspection stopped early: {rec.get('error')}"
            elif kind == "usage" and isinstance(rec.get("counts"), dict):
                result.usage = {clean_text(str(name))[:200]: count
                                for name, count in rec["counts"].items()
                                if isinstance(count, int) and count > 0}
            elif kind == "library":
                result.version = clean_text(str(rec.get("version") or "unknown"))
            elif kind == "object" and result.version:
                obj = DocObject(library, result.version, clean_text(rec["name"]), rec["kind"],
                                clean_text(rec.get("signature") or ""),
                                clean_text(rec.get("doc") or ""),
                                [clean_text(a) for a in rec.get("aliases") or []])
                objects.setdefault(obj.object, obj)
            elif kind == "aliases":
                aliases.setdefault(rec["name"], []).extend(rec.get("aliases") or [])
            elif kind == "done":
                done = True
                result.truncated = bool(rec.get("truncated"))
    for name, extra in aliases.items():
        if name in objects:
            merged = dict.fromkeys(objects[name].aliases + [clean_text(a) for a in extra])
            objects[name].aliases = [a for a in merged if a not in objects]
    result.objects = list(objects.values())
    result.links = see_also_links(result.objects)
    if done:
        result.status = "ok"
    return result


# -- sections ------------------------------------------------------------------------------------

def docstring_style(doc: str) -> docstring_parser.DocstringStyle | None:
    """The style to parse with, or None for a plain docstring (no sections to find)."""
    style = docstring_parser.DocstringStyle
    if _NUMPYDOC.search(doc):
        return style.NUMPYDOC
    if _GOOGLE.search(doc):
        return style.GOOGLE
    if _REST.search(doc):
        return style.REST
    if _EPYDOC.search(doc):
        return style.EPYDOC
    return None


def _clip(text: str, limit: int) -> str:
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit * 0.6 else limit].rstrip() + " …"


def _plain_summary(doc: str) -> tuple[str, str]:
    short, _, rest = doc.strip().partition("\n\n")
    return short.strip(), rest.strip()


def _version_notes(doc: str) -> list[str]:
    notes = []
    for m in _VERSION_NOTE.finditer(doc):
        body = " ".join(m.group(4).split())
        notes.append(f"{m.group(2)} {m.group(3).strip()}: {body}".strip().rstrip(":"))
    return notes


def _examples_text(parsed: docstring_parser.Docstring) -> str:
    parts = []
    for ex in parsed.examples:
        if ex.snippet:
            parts.append(ex.snippet.rstrip())
        if ex.description:
            parts.append(ex.description.rstrip())
    return "\n".join(p for p in parts if p)


def short_name(qualname: str) -> str:
    """The name without its library: `pandas.DataFrame.sort_values` -> `DataFrame.sort_values`."""
    return qualname.split(".", 1)[1] if "." in qualname else qualname


def sections_of(obj: DocObject) -> list[tuple[str, str]]:
    """(section, text) pairs for one object; the summary always comes first when there is a doc.

    Odd markup never raises: a docstring the parser rejects becomes a summary of its text.
    """
    doc = obj.doc.strip()
    if not doc:
        return []
    lines = doc.split("\n", 1)
    if _DOC_SIGNATURE.match(lines[0].strip()) and len(lines) > 1:
        doc = lines[1].strip() or doc  # the signature line of builtins/ufuncs: kept separately
    style = docstring_style(doc)
    parsed = None
    if style is not None:
        try:
            parsed = docstring_parser.parse(doc, style=style)
        except Exception as exc:  # noqa: BLE001 - ParseError and worse on odd markup
            log.debug("docstring of %s not parsed (%s): %s", obj.object, style, exc)
    if parsed is not None:
        short, long = parsed.short_description or "", parsed.long_description or ""
    else:
        short, long = _plain_summary(doc)
    name = short_name(obj.object)
    head = f"{name}{obj.signature}" if obj.signature else name
    summary = "\n\n".join(x for x in (head, short.strip(), long.strip()) if x)
    found = [("summary", _clip(summary, _LIMITS["summary"]))]
    if parsed is not None:
        params = []
        for p in parsed.params:
            name = p.arg_name + (f" : {p.type_name}" if p.type_name else "")
            params.append(f"{name} — {_clip(' '.join((p.description or '').split()), 300)}")
        returns = []
        for r in parsed.many_returns:
            what = "Yields" if r.is_generator else "Returns"
            label = f"{what} {r.type_name}" if r.type_name else what
            returns.append(f"{label} — {' '.join((r.description or '').split())}")
        notes = [m.description or "" for m in parsed.meta
                 if m.args and m.args[0].lower() in ("notes", "note", "warning", "warnings")]
        found += [("parameters", "\n".join(params)), ("returns", "\n".join(returns)),
                  ("examples", _examples_text(parsed)), ("notes", "\n\n".join(notes))]
    deprecations = []
    if parsed is not None and parsed.deprecation is not None:
        dep = parsed.deprecation
        deprecations.append(f"deprecated {dep.version or ''}: "
                            f"{' '.join((dep.description or '').split())}")
    deprecations += [n for n in _version_notes(obj.doc) if n not in deprecations]
    found.append(("deprecation", "\n".join(deprecations)))
    return [(section, _clip(text, _LIMITS[section])) for section, text in found
            if section == "summary" or len(text.strip()) >= MIN_SECTION_CHARS]


def _role_target(m: re.Match[str]) -> str:
    text = m.group(1)
    if "<" in text and text.endswith(">"):
        text = text[text.rindex("<") + 1:-1]
    return text.lstrip("~!")


def see_also(doc: str) -> list[str]:
    """The names a "See Also" section lists, as written (`DataFrame.duplicated`,
    `numpy.sort`, `sort`): the first word of each entry line, or several separated by commas;
    the indented descriptions below them are skipped."""
    found: list[str] = []
    for m in _SEE_ALSO.finditer(doc):
        indent = len(m.group(1).expandtabs())
        for line in m.group(2).splitlines():
            if not line.strip() or len(line) - len(line.lstrip()) > indent:
                continue  # a blank line or an entry's description
            head = _ROLE.sub(_role_target, line).split(":", 1)[0]
            for name in head.split(","):
                name = name.strip().strip("`").strip()
                if _REFERENCE.fullmatch(name) and name not in found:
                    found.append(name)
    return found


def see_also_links(objects: list[DocObject]) -> dict[str, list[str]]:
    """Each object's "See Also" names resolved to documented objects of the same library: as
    written, under the library (`DataFrame.duplicated` -> `pandas.DataFrame.duplicated`),
    beside the object itself (`sort` from `numpy.argsort` -> `numpy.sort`; from a method, its
    class's member) or, failing those, the one object of the library whose name ends that way.
    Aliases resolve to their canonical object; names resolving nowhere are dropped."""
    names: dict[str, str] = {}
    endings: dict[str, set[str]] = {}
    for o in objects:
        names[o.object] = o.object
        parts = o.object.split(".")
        for i in range(1, len(parts)):
            endings.setdefault(".".join(parts[i:]), set()).add(o.object)
    for o in objects:
        for alias in o.aliases:
            names.setdefault(alias, o.object)
    links: dict[str, list[str]] = {}
    for o in objects:
        if "See Also" not in o.doc:
            continue
        library = o.object.split(".", 1)[0]
        parent = o.object.rpartition(".")[0]
        targets: list[str] = []
        for ref in see_also(o.doc):
            candidates = [ref, f"{library}.{ref}", f"{parent}.{ref}",
                          f"{parent.rpartition('.')[0]}.{ref}"]
            target = next((names[c] for c in candidates if c in names), None)
            if target is None and len(endings.get(ref, ())) == 1:
                target = next(iter(endings[ref]))
            if target is not None and target != o.object and target not in targets:
                targets.append(target)
        if targets:
            links[o.object] = targets
    return links


def snippets_of(harvest: LibraryHarvest) -> list[Snippet]:
    source = f"introspected from {harvest.library} {harvest.version}"
    out = []
    for obj in harvest.objects:
        for section, text in sections_of(obj):
            out.append(Snippet(obj.library, obj.version, obj.object, obj.kind, obj.signature,
                               section, text, source))
    return out


def content_hash(text: str, model: str) -> str:
    return hashlib.sha256(f"{model}\n{text}".encode()).hexdigest()[:32]
