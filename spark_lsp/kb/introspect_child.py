"""Introspect one installed library and write its public objects as JSON Lines.

Run by `kb.harvest` in a subprocess of the *target* interpreter (Spark's own, or the user's
project interpreter given with `--python`), so it must need nothing but the standard library:
the target environment may not have Spark (or docstring_parser) installed. The parent splits
docstrings into sections; this script only imports, walks and reads.

    python introspect_child.py LIBRARY OUTPUT.jsonl [MAX_OBJECTS]

Records: {"type": "library", ...} first, then {"type": "object", ...} per public object, then
{"type": "done", ...}. A library that cannot be imported gives {"type": "error", ...} and exit 3.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import inspect
import io
import json
import os
import pkgutil
import re
import signal
import sys
import threading
import time
import types
import warnings
from collections import deque

# Import names of libraries whose public API is re-exported from another package.
FOREIGN_OK = {"tensorflow": ("keras", "tf_keras"), "keras": ("tensorflow",)}
# Subpackages never walked: private by convention, tests, or huge mirrors of the public API.
SKIP_SUBMODULES = {"tests", "test", "conftest", "setup", "core", "compat", "python", "src",
                   "internal", "libs", "include", "tools", "_api", "benchmarks", "testing", "lib2to3", "distutils", "f2py", "typing", "contrib", "experimental",
                   "utils_test", "tensorflow_core", "backend_bases_test"}
# Infrastructure subpackages of one library that are not what its users call (distributed
# runtimes, compilers, exporters, backends): walking them costs objects and embedding time.
SKIP_BY_LIBRARY = {"torch": {"distributed", "ao", "fx", "onnx", "export", "jit", "package",
                             "quantization", "backends", "mps", "mtia", "xpu", "cpp", "classes",
                             "ops", "return_types", "overrides", "monitor", "accelerator",
                             "compiler", "multiprocessing", "futures", "library", "torch",
                             "version", "torch_version", "serialization", "storage", "types"}}
# Libraries walked through their attributes only: importing every file of theirs takes minutes
# and reaches private code. Every other library's public subpackages are imported by name
# (pkgutil), since `import LIB` does not import them all (`rich.table`, `sklearn.cluster`).
ATTRIBUTES_ONLY = {"torch", "tensorflow", "keras", "tf_keras", "jax", "transformers"}
DIST_NAMES = {"sklearn": "scikit-learn", "yaml": "pyyaml", "PIL": "pillow", "cv2": "opencv-python"}
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_DOC_SIGNATURE = re.compile(r"^([A-Za-z_][\w.]*)\((.*)\)(\s*->\s*.+)?$")
MAX_DOC = 60_000
# An accessor namespace several classes share (pandas' `str` on Series and Index) is documented
# under the first of these class names that has it (`pandas.Series.str.contains`), where users
# reach it most; else under the shortest.
ACCESSOR_HOMES = ("Series", "DataFrame")
MAX_SIGNATURE = 1_000
MAX_ALIASES = 50  # inherited names kept per member (Artist.set_alpha has hundreds of artists)


def _text(value: object, limit: int) -> str:
    text = value if isinstance(value, str) else ""
    text = _ADDRESS.sub("", text.replace("\x00", ""))
    return text[:limit]


@functools.lru_cache(maxsize=1)
def distributions_of() -> dict[str, list[str]]:
    """Top-level package -> the distributions that install it (read once: it scans every
    installed distribution's metadata); empty when that metadata is broken."""
    try:
        return dict(importlib.metadata.packages_distributions())
    except Exception:  # noqa: BLE001 - metadata of other packages may be broken
        return {}


def sibling_packages(name: str) -> set[str]:
    """The other top-level packages of the distribution that installs `name`: `attrs` re-exports
    the objects of `attr`, which the same wheel installs; a namespace shared with other
    distributions (`google`) brings none."""
    owners = distributions_of()
    dists = set(owners.get(name, []))
    if len(dists) != 1:
        return set()
    return {top for top, found in owners.items()
            if top != name and is_public(top) and set(found) == dists}


def library_version(name: str, module: types.ModuleType) -> str:
    candidates = [DIST_NAMES.get(name, name), *distributions_of().get(name, [])]
    for dist in candidates:
        try:
            return importlib.metadata.version(dist)
        except Exception:  # noqa: BLE001, S112 - try the next distribution name
            continue
    version = safe_getattr(module, "__version__")
    return str(version) if version else "unknown"


def docstring(obj: object) -> str:
    try:
        doc = inspect.getdoc(obj)
    except Exception:  # noqa: BLE001 - a __doc__ property may raise
        return ""
    if not isinstance(doc, str):
        return ""
    # Objects without their own docstring show their type's (int, dict, ...): not theirs.
    if not inspect.isclass(obj) and not callable(obj) and not isinstance(obj, property):
        try:
            if doc == inspect.getdoc(type(obj)):
                return ""
        except Exception:  # noqa: BLE001
            return ""
    return _text(doc, MAX_DOC)


def signature(obj: object, doc: str) -> str:
    try:
        return _text(str(inspect.signature(obj)), MAX_SIGNATURE)  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001, S110 - builtins, ufuncs and C extensions have none
        pass
    first = doc.split("\n", 1)[0].strip() if doc else ""
    m = _DOC_SIGNATURE.match(first)
    if m:
        return _text(f"({m.group(2)}){m.group(3) or ''}", MAX_SIGNATURE)
    return ""


def kind_of(obj: object, in_class: bool) -> str | None:
    if inspect.ismodule(obj):
        return "module"
    if inspect.isclass(obj):
        return "class"
    if isinstance(obj, (property, types.GetSetDescriptorType, types.MemberDescriptorType)):
        return "property"
    if inspect.isroutine(obj) or (callable(obj) and type(obj).__name__ == "ufunc"):
        return "method" if in_class else "function"
    if callable(obj):
        return "method" if in_class else "function"
    return None


def defined_in(obj: object) -> str:
    """Top-level package that defines `obj` ('' when unknown)."""
    module = safe_getattr(obj, "__module__")
    if not isinstance(module, str):
        module = safe_getattr(safe_getattr(obj, "__objclass__"), "__module__")
    return module.split(".")[0] if isinstance(module, str) else ""


def canonical_name(names: list[str], home: str | None) -> str:
    """The name an object is documented under, of the public names the walk found it by (in
    the order found, shallowest first): the first whose module is the object's own module or a
    package above it (`rich.table.Table`, not `rich.columns.Table` which imports it; `pandas.
    DataFrame`), else the first (TensorFlow's objects live in `keras.src`)."""
    def at_home(name: str) -> bool:
        parent = name.rsplit(".", 1)[0]
        return home is not None and (home == parent or home.startswith(parent + "."))
    return next((n for n in names if at_home(n)), names[0])


class ImportTimeout(Exception):
    """A submodule whose import did not finish in time (it waits on a network, say)."""


def import_within(name: str, seconds: float) -> types.ModuleType:
    """`importlib.import_module(name)`, interrupted after `seconds` (where SIGALRM exists): one
    submodule that hangs costs that much, not the library's whole harvest."""
    if seconds <= 0 or not hasattr(signal, "setitimer") or \
            threading.current_thread() is not threading.main_thread():
        return importlib.import_module(name)

    def expired(signum: int, frame: object) -> None:
        raise ImportTimeout(f"importing {name} took over {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return importlib.import_module(name)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def is_public(name: str) -> bool:
    return bool(name) and not name.startswith("_")


def safe_getattr(obj: object, name: str, default: object = None) -> object:
    """getattr that survives lazy modules and properties raising anything."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return getattr(obj, name, default)
    except BaseException:  # noqa: BLE001 - some raise SystemExit or custom errors on access
        return default


class Walker:
    def __init__(self, root_name: str, out: io.TextIOBase, max_objects: int,
                 import_limit: float = 0.0) -> None:
        self.root_name = root_name
        self.import_limit = import_limit  # seconds per submodule import; 0: no limit
        self.allowed = {root_name, *FOREIGN_OK.get(root_name, ()), *sibling_packages(root_name)}
        self.out = out
        self.max_objects = max_objects
        self.count = 0
        self.seen: dict[int, dict] = {}  # id(object) -> its record (module-level objects)
        self.keep_alive: list[object] = []  # ids stay unique only while objects live
        self.errors = 0
        self.member_aliases: dict[str, list[str]] = {}  # owner's member -> inherited names
        self.member_home: dict[int, str] = {}  # id(member) -> the class that documents it
        self.member_names: set[str] = set()  # last components of the names emitted
        self.accessors: list[tuple[str, type]] = []  # (path, namespace class): walk_accessors
        # id(class) -> (its name, its members' names as `.member`): the classes walked so far
        self.class_members: dict[int, tuple[str, list[str]]] = {}

    def add_alias(self, name: str, alias: str) -> None:
        """`alias` (an inherited or accessor path) names the member documented as `name`."""
        aliases = self.member_aliases.setdefault(name, [])
        if len(aliases) < MAX_ALIASES:
            aliases.append(alias)

    def emit(self, record: dict) -> None:
        if record.get("type") == "object" and record.get("kind") != "module":
            self.member_names.add(record["name"].rsplit(".", 1)[-1])
        self.out.write(json.dumps(record, ensure_ascii=True) + "\n")

    def ours(self, obj: object) -> bool:
        owner = defined_in(obj)
        return owner in self.allowed or owner == ""

    def submodule_names(self, module: types.ModuleType) -> list[str]:
        names: list[str] = []
        if self.root_name in ATTRIBUTES_ONLY:
            return names
        path = safe_getattr(module, "__path__")
        if not path:
            return names
        try:
            for info in pkgutil.iter_modules(path):  # type: ignore[arg-type]
                if is_public(info.name) and info.name not in SKIP_SUBMODULES:
                    names.append(info.name)
        except Exception:  # noqa: BLE001
            self.errors += 1
        return names

    def members(self, module: types.ModuleType) -> list[str]:
        listed = safe_getattr(module, "__all__")
        names: set[str] = set()
        if isinstance(listed, (list, tuple)):
            names.update(n for n in listed if isinstance(n, str))
            if self.root_name in ATTRIBUTES_ONLY:
                # `torch.__all__` lists functions, not `nn`, `optim` or `utils`: the library's
                # public submodules that are imported anyway are part of its API too
                names.update(self.imported_submodules(module))
        else:
            try:
                names.update(dir(module))
            except Exception:  # noqa: BLE001
                self.errors += 1
        names.update(self.submodule_names(module))
        return sorted(n for n in names if is_public(n))

    def imported_submodules(self, module: types.ModuleType) -> list[str]:
        skip = SKIP_SUBMODULES | SKIP_BY_LIBRARY.get(self.root_name, set())
        found = []
        try:
            names = dir(module)
        except Exception:  # noqa: BLE001
            self.errors += 1
            return found
        for name in names:
            if not is_public(name) or name in skip:
                continue
            value = safe_getattr(module, name)
            if inspect.ismodule(value) and \
                    str(safe_getattr(value, "__name__", "")).split(".")[0] in self.allowed:
                found.append(name)
        return found

    def get(self, owner: object, name: str) -> object:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return getattr(owner, name)
        except KeyboardInterrupt:
            raise
        except BaseException:  # noqa: BLE001 - lazy attributes may fail to import, or exit
            if inspect.ismodule(owner):
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        return import_within(f"{owner.__name__}.{name}", self.import_limit)
                except BaseException:  # noqa: BLE001, S110 - SystemExit from odd modules too
                    pass
            self.errors += 1
            return None

    def record(self, name: str, obj: object, kind: str) -> dict:
        doc = docstring(obj)
        rec = {"type": "object", "name": name, "kind": kind, "signature": "", "doc": doc,
               "aliases": []}
        if kind in ("function", "method", "class"):
            rec["signature"] = signature(obj, doc)
        return rec

    def walk(self, root: types.ModuleType) -> None:
        queue: deque[tuple[str, types.ModuleType]] = deque([(self.root_name, root)])
        self.seen[id(root)] = self.record(self.root_name, root, "module")
        self.emit(self.seen[id(root)])
        self.count += 1
        classes: list[tuple[dict, type]] = []  # (record, class)
        while queue and self.count < self.max_objects:
            mod_name, module = queue.popleft()
            for attr in self.members(module):
                if self.count >= self.max_objects:
                    break
                obj = self.get(module, attr)
                if obj is None:
                    continue
                name = f"{mod_name}.{attr}"
                known = self.seen.get(id(obj))
                if known is not None:
                    found = known.setdefault("new_aliases", [])
                    if len(found) < 20 and name != known["name"]:
                        found.append(name)
                    continue
                if inspect.ismodule(obj):
                    if obj.__name__.split(".")[0] not in self.allowed:
                        continue
                    # judged by the public path: TF's `tf.math` is `tensorflow._api.v2.math`
                    if attr in SKIP_SUBMODULES or \
                            attr in SKIP_BY_LIBRARY.get(self.root_name, ()):
                        continue
                    queue.append((name, obj))
                elif not self.ours(obj):
                    continue
                kind = kind_of(obj, False)
                if kind is None:
                    continue
                rec = self.record(name, obj, kind)
                rec["home"] = safe_getattr(obj, "__module__")
                self.seen[id(obj)] = rec
                self.keep_alive.append(obj)
                self.count += 1
                if kind == "class":
                    classes.append((rec, obj))  # type: ignore[arg-type]  # obj is a class
        # Records go out after the walk, under their canonical name and with every alias found.
        for rec in self.seen.values():
            home = rec.pop("home", None)
            names = [rec["name"], *rec.pop("new_aliases", [])]
            if rec["kind"] != "module":  # a module's name is already its members' prefix
                rec["name"] = canonical_name(names, home if isinstance(home, str) else None)
            rec["aliases"] = sorted(set(names) - {rec["name"]})
        for rec in self.seen.values():
            if rec["name"] != self.root_name:
                self.emit(rec)
        # Classes that share member objects (torch's ByteTensor, FloatTensor... carry Tensor's
        # methods) document them once, under the shortest class name; the rest are aliases.
        named = [(rec["name"], cls) for rec, cls in classes]
        for name, cls in sorted(named, key=lambda c: (len(c[0].rsplit(".", 1)[-1]), c[0])):
            if self.count >= self.max_objects:
                break
            self.class_members[id(cls)] = (name, self.walk_class(name, cls))
        self.walk_accessors()
        for name, aliases in sorted(self.member_aliases.items()):
            self.emit({"type": "aliases", "name": name, "aliases": aliases})

    def walk_class(self, cls_name: str, cls: type) -> list[str]:
        """Document the class's own public members; returns their names as `.member`."""
        emitted: list[str] = []
        try:
            names = sorted(n for n in dir(cls) if is_public(n))
            mro = inspect.getmro(cls)
        except Exception:  # noqa: BLE001
            self.errors += 1
            return emitted
        for attr in names:
            if self.count >= self.max_objects:
                break
            owner = next((k for k in mro
                          if attr in (safe_getattr(k, "__dict__") or {})), None)  # type: ignore[operator]
            if owner is None or defined_in(owner) not in self.allowed:
                continue  # inherited from object, dict, Exception, typing.Generic...
            owner_rec = self.seen.get(id(owner)) if owner is not cls else None
            if owner_rec is not None and owner_rec["kind"] == "class":
                # Documented under the public class that defines it (Artist.set_alpha, not
                # once per artist): this name becomes an alias of that one.
                self.add_alias(f"{owner_rec['name']}.{attr}", f"{cls_name}.{attr}")
                continue
            try:
                raw: object = inspect.getattr_static(cls, attr)
            except Exception:  # noqa: BLE001
                self.errors += 1
                continue
            if isinstance(raw, (staticmethod, classmethod)):
                obj: object = raw.__func__
            elif isinstance(raw, (property, types.GetSetDescriptorType,
                                  types.MemberDescriptorType)) or inspect.isfunction(raw) \
                    or inspect.isbuiltin(raw):
                obj = raw
            elif inspect.isroutine(raw):  # a method descriptor, or an accessor's (`Series.str`)
                value = self.get(cls, attr)
                obj = value if inspect.isclass(value) else raw
            else:
                obj = self.get(cls, attr)
            if obj is None or inspect.ismodule(obj):
                continue
            if inspect.isclass(obj):
                # `Series.str`, `Series.dt`, `DataFrame.plot`: a descriptor on the class that
                # hands out a namespace class no public module documents (walk_accessors).
                # Nested classes are reached, if public, through their module.
                if raw is not obj and self.ours(obj):
                    self.accessors.append((f"{cls_name}.{attr}", obj))
                continue
            kind = kind_of(obj, True)
            if kind is None and inspect.isdatadescriptor(obj) and \
                    defined_in(type(obj)) in self.allowed:
                kind = "property"  # a descriptor class of the library's own: `DataFrame.index`
            if kind is None:
                continue
            home = self.member_home.get(id(obj))
            if home is not None and home.rsplit(".", 1)[-1] == attr:
                self.add_alias(home, f"{cls_name}.{attr}")
                continue
            if kind in ("method", "function"):
                self.member_home[id(obj)] = f"{cls_name}.{attr}"
                self.keep_alive.append(obj)
            rec = self.record(f"{cls_name}.{attr}", obj, kind)
            if not rec["doc"] and not rec["signature"]:
                continue
            self.count += 1
            self.emit(rec)
            emitted.append(f".{attr}")
        return emitted

    def walk_accessors(self) -> None:
        """Document each accessor namespace once, as a property (`pandas.Series.str`, with the
        namespace's docstring) and its members below it (`pandas.Series.str.contains`); the
        other paths to it (`pandas.Index.str...`) become aliases, and so do the paths to a
        namespace a module documents already (`pandas.DataFrame.plot.bar` of `pandas.plotting.
        PlotAccessor.bar`)."""
        def order(found: tuple[str, type]) -> tuple[int, int, str]:
            owner = found[0].rsplit(".", 2)[-2]
            home = ACCESSOR_HOMES.index(owner) if owner in ACCESSOR_HOMES else len(ACCESSOR_HOMES)
            return (home, len(found[0]), found[0])
        documented = dict(self.class_members)  # id(namespace) -> (path, members)
        for path, namespace in sorted(self.accessors, key=order):
            if self.count >= self.max_objects:
                return
            # the subclasses that inherit the accessor reach it by their own paths too
            # (`pandas.MultiIndex.str`, recorded as aliases of `pandas.Index.str`)
            others = self.member_aliases.pop(path, [])
            known = documented.get(id(namespace))
            if known is None:
                rec = self.record(path, namespace, "property")
                if not rec["doc"]:
                    continue
                self.count += 1
                self.emit(rec)
                known = documented[id(namespace)] = (path, self.walk_class(path, namespace))
            else:
                others = [path, *others]
            home, members = known
            for name in ("", *members):
                for other in others:
                    self.add_alias(home + name, other + name)


_ATTRIBUTE = re.compile(rb"[\w)\]]\.([A-Za-z_]\w*)")
USAGE_BYTES = 200_000_000  # source read at most per library
USAGE_FILE_BYTES = 5_000_000  # larger files are generated code, not usage
USAGE_SECONDS = 30.0


def usage_counts(module: types.ModuleType, names: set[str]) -> dict[str, int]:
    """How often each of `names` is used as an attribute (`df.loc`, `np.where(`) in the
    library's own Python source and tests: a measure of how common an API is."""
    roots = list(getattr(module, "__path__", None) or [])
    if not roots and getattr(module, "__file__", None):
        roots = [os.path.dirname(module.__file__)]
    counts: dict[str, int] = {}
    budget, deadline = USAGE_BYTES, time.monotonic() + USAGE_SECONDS
    for root in roots:
        for folder, _, files in os.walk(root):
            for filename in files:
                if budget <= 0 or time.monotonic() > deadline:
                    return counts  # not the rest of the tree: nothing more would be read
                if not filename.endswith(".py"):
                    continue
                path = os.path.join(folder, filename)
                try:
                    if os.path.getsize(path) > USAGE_FILE_BYTES:
                        continue
                    with open(path, "rb") as fh:
                        data = fh.read()
                except OSError:
                    continue
                budget -= len(data)
                for found in _ATTRIBUTE.findall(data):
                    name = found.decode("ascii", "replace")
                    if name in names:
                        counts[name] = counts.get(name, 0) + 1
    return counts


def main(argv: list[str]) -> int:
    library, output = argv[1], argv[2]
    max_objects = int(argv[3]) if len(argv) > 3 else 60_000
    import_limit = float(argv[4]) if len(argv) > 4 else 0.0
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("MPLBACKEND", "Agg")
    warnings.simplefilter("ignore")
    started = time.monotonic()
    real_stdout = sys.stdout
    sys.stdout = sys.stderr  # libraries that print on import must not mix with anything
    with open(output, "w", encoding="utf-8") as out:
        try:
            module = importlib.import_module(library)
        except BaseException as exc:  # noqa: BLE001 - SystemExit and friends included
            out.write(json.dumps({"type": "error", "library": library, "stage": "import",
                                  "error": f"{type(exc).__name__}: {exc}"[:2000]}) + "\n")
            return 3
        imported = time.monotonic()
        walker = Walker(library, out, max_objects, import_limit)
        walker.emit({"type": "library", "library": library,
                     "version": library_version(library, module),
                     "python": sys.executable, "python_version": sys.version.split()[0]})
        try:
            walker.walk(module)
        except Exception as exc:  # noqa: BLE001 - keep what was found, say what broke
            walker.emit({"type": "error", "library": library, "stage": "walk",
                         "error": f"{type(exc).__name__}: {exc}"[:2000]})
            walker.errors += 1
        try:
            walker.emit({"type": "usage",
                         "counts": usage_counts(module, walker.member_names)})
        except Exception as exc:  # noqa: BLE001 - the documentation stands without it
            walker.emit({"type": "error", "library": library, "stage": "usage",
                         "error": f"{type(exc).__name__}: {exc}"[:2000]})
        walker.emit({"type": "done", "objects": walker.count, "errors": walker.errors,
                     "import_seconds": round(imported - started, 3),
                     "seconds": round(time.monotonic() - started, 3),
                     "truncated": walker.count >= max_objects})
    sys.stdout = real_stdout
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
