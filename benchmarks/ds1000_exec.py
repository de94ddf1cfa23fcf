"""Run DS-1000 programs the way their labels were made: a pinned environment, a sandbox, a cache.

- `ensure_env()` builds (once) a virtual environment pinned to the versions DSCodeBench labelled
  the generations with (see the data's README) outside the repository, by default
  `~/.cache/spark-eval/ds1000-env` (`SPARK_EVAL_CACHE` moves the whole cache).
- `program()` is DS-1000's own harness: `code_context + test_execution(code) [+ test_string(code)]`.
- `Runner` executes programs in subprocesses, two at a time: a timeout (120 s, as the labels),
  an output cap (RLIMIT_FSIZE on the files stdout/stderr go to), its own temporary folder as cwd
  and HOME, and a sandbox: new network, mount and PID namespaces (`unshare`), where every mount is
  read-only but the program's folder and fresh tmpfs on /tmp, /var/tmp and /dev/shm. Where
  namespaces are not allowed a `sitecustomize` that refuses socket connections stands in (no
  write protection then); `Runner.sandbox` says which one ran.
- Results are cached in SQLite outside the repository, keyed by the environment, the problem and
  the SHA-256 of the code, so a run resumes where it stopped and identical code is run once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

log = logging.getLogger(__name__)

PYTHON_VERSION = "3.11"
CORE_PINS = ("pandas==2.2.3", "numpy==1.26.0", "scipy==1.15.2", "scikit-learn==1.6.1",
             "matplotlib==3.10.0", "seaborn==0.13.2", "xgboost-cpu==3.0.0")
TF_PINS = ("tensorflow-cpu==2.18.0",)
# torch 2.6.0 on PyPI is the CUDA 12.4 build (nvidia-* wheels + triton, ~3 GB); its CPU build is
# only on PyTorch's own index, which this machine cannot reach.
EXCLUDED_LIBRARIES = {"Pytorch": "torch 2.6.0 has no CPU build on PyPI (the PyPI wheel is the "
                                 "CUDA 12.4 build with ~3 GB of nvidia-* dependencies)"}
_IMPORTS = {"Pytorch": re.compile(r"^\s*(import|from)\s+torch", re.MULTILINE),
            "Tensorflow": re.compile(r"^\s*(import|from)\s+(tensorflow|keras)", re.MULTILINE)}


def exclusion(problem: dict, tensorflow: bool = True) -> str:
    """Why a problem cannot run in the pinned environment ("" when it can): its library is
    excluded, or its test harness imports one (two NumPy problems import torch)."""
    excluded = dict(EXCLUDED_LIBRARIES)
    if not tensorflow:
        excluded["Tensorflow"] = "TensorFlow left out of the environment"
    for lib, why in excluded.items():
        if problem["library"] == lib:
            return f"{lib}: {why}"
        if _IMPORTS[lib].search(problem["code_context"]):
            return f"the test harness imports {lib}: {why}"
    return ""


# what Spark's analysis is told is installed (import names, as `installed_versions()`)
ANALYSIS_VERSIONS = {"pandas": "2.2.3", "numpy": "1.26.0", "scipy": "1.15.2", "sklearn": "1.6.1",
                     "matplotlib": "3.10.0", "seaborn": "0.13.2", "xgboost": "3.0.0",
                     "tensorflow": "2.18.0", "torch": "2.6.0"}
TIMEOUT_S = 120.0
OUTPUT_CAP = 16 * 1024 * 1024  # bytes per file the program writes, stdout and stderr included
MEMORY_CAP = 8 * 1024 ** 3  # address space; TensorFlow reserves ~2 GiB at import
STDERR_TAIL = 4000


def cache_dir() -> Path:
    env = os.environ.get("SPARK_EVAL_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "spark-eval"


def _find_python() -> str:
    for name in (f"python{PYTHON_VERSION}", "python3", "python"):
        exe = shutil.which(name)
        if exe and subprocess.run([exe, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                  capture_output=True, text=True, check=False).stdout.strip() == PYTHON_VERSION:
            return exe
    raise RuntimeError(f"no Python {PYTHON_VERSION} interpreter on PATH")


def env_python(env: Path) -> Path:
    return env / "bin" / "python"


def ensure_env(env: Path | None = None, tensorflow: bool = True,
               echo: Callable[[str], None] = print) -> Path:
    """The pinned environment's interpreter; built (pip, ~2 min core, ~3 min TensorFlow) once.

    A stamp file per group of pins records what was installed; changing the pins reinstalls."""
    env = env or cache_dir() / "ds1000-env"
    python = env_python(env)
    if not python.exists():
        echo(f"building the pinned environment in {env} ...")
        subprocess.run([_find_python(), "-m", "venv", str(env)], check=True)
    groups = [("core", CORE_PINS)] + ([("tensorflow", TF_PINS)] if tensorflow else [])
    for name, pins in groups:
        stamp = env / f".spark-{name}"
        if stamp.exists() and stamp.read_text() == "\n".join(pins):
            continue
        echo(f"installing {' '.join(pins)} into {env} ...")
        subprocess.run([str(python), "-m", "pip", "install", "--quiet",
                        "--disable-pip-version-check", *CORE_PINS, *pins],
                       check=True, stdout=subprocess.DEVNULL)
        stamp.write_text("\n".join(pins))
    _warm_matplotlib(env)
    return python


def _warm_matplotlib(env: Path) -> None:
    """Build matplotlib's font cache once; each run gets a copy (its config dir is per run)."""
    mpl = env / "mplconfig"
    if not list(mpl.glob("fontlist-*.json")):
        mpl.mkdir(exist_ok=True)
        subprocess.run([str(env_python(env)), "-c", "import matplotlib.font_manager"],
                       env={**os.environ, "MPLCONFIGDIR": str(mpl), "MPLBACKEND": "Agg"},
                       check=True, capture_output=True)


def installed(env: Path) -> dict[str, str]:
    """Distribution versions in the environment (for the report)."""
    out = subprocess.run([str(env_python(env)), "-m", "pip", "list", "--format", "json",
                          "--disable-pip-version-check"], capture_output=True, text=True, check=False)
    return {re.sub(r"[-_.]+", "-", p["name"]).lower(): p["version"]
            for p in json.loads(out.stdout or "[]")}


def program(code_context: str, code: str) -> str:
    """DS-1000's test program for one solution (as in its `test_ds1000.py`)."""
    return (code_context + "\n" + f"code = {code!r}\n" + "test_execution(code)\n"
            + ("test_string(code)\n" if "test_string(" in code_context else "\n"))


def code_sha(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class RunResult:
    passed: bool
    status: str  # passed | failed | timeout | output_cap | error (the runner's own)
    returncode: int | None
    seconds: float
    error: str  # last non-empty stderr line
    stderr_tail: str
    kinds: str  # comma-separated: syntax, network, write_outside, memory
    cached: bool = False


def classify(stderr: str) -> list[str]:
    """Kinds of bad behaviour seen in a failed run's stderr."""
    kinds = []
    if re.search(r"\b(SyntaxError|IndentationError|TabError)\b", stderr):
        kinds.append("syntax")
    if re.search(r"Network is unreachable|Name or service not known|Temporary failure in name "
                 r"resolution|URLError|ConnectionError|network access is blocked", stderr):
        kinds.append("network")
    if re.search(r"Read-only file system|EROFS", stderr):
        kinds.append("write_outside")
    if re.search(r"\bMemoryError\b|Unable to allocate", stderr):
        kinds.append("memory")
    return kinds


_SANDBOX_SH = r"""
set -e
work=$1; shift
mount --make-rprivate /
for mp in $(awk '{print $5}' /proc/self/mountinfo | sort -u); do
  case "$mp" in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*) continue;; esac
  mount -o remount,bind,ro "$mp" 2>/dev/null || true
done
mount --bind "$work" "$work"
mount -o remount,bind,rw "$work"
for d in /tmp /var/tmp /dev/shm; do
  case "$work/" in "$d"/*) continue;; esac  # a tmpfs there would hide the program's folder
  if [ -d "$d" ]; then mount -t tmpfs -o size=512m,mode=1777 tmpfs "$d"; fi
done
cd "$work"
exec "$@"
"""

_SOCKET_GUARD = '''\
import socket

def _blocked(*args, **kwargs):
    raise OSError("network access is blocked in this evaluation")

socket.socket.connect = _blocked
socket.socket.connect_ex = _blocked
socket.create_connection = _blocked
socket.getaddrinfo = _blocked
'''


class ResultCache:
    """SQLite file of run results; written by one thread at a time."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("""CREATE TABLE IF NOT EXISTS runs (
            env TEXT, problem_id INTEGER, code_sha TEXT, attempt INTEGER, result TEXT,
            PRIMARY KEY (env, problem_id, code_sha, attempt))""")
        self._db.commit()
        self._lock = threading.Lock()

    def get(self, env: str, problem_id: int, sha: str, attempt: int) -> RunResult | None:
        with self._lock:
            row = self._db.execute("SELECT result FROM runs WHERE env=? AND problem_id=? AND "
                                   "code_sha=? AND attempt=?",
                                   (env, problem_id, sha, attempt)).fetchone()
        return RunResult(**{**json.loads(row[0]), "cached": True}) if row else None

    def put(self, env: str, problem_id: int, sha: str, attempt: int, result: RunResult) -> None:
        data = json.dumps({k: v for k, v in asdict(result).items() if k != "cached"})
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?)",
                             (env, problem_id, sha, attempt, data))
            self._db.commit()


@dataclass(frozen=True)
class Job:
    problem_id: int
    code_context: str
    code: str
    attempt: int = 0  # > 0: a repeat, to tell a real change from a flaky test


class Runner:
    def __init__(self, python: Path, cache: ResultCache | None, workers: int = 2,
                 timeout: float = TIMEOUT_S, sandbox: str = "auto") -> None:
        self.python = python
        self.env_root = python.parent.parent
        self.cache = cache
        self.workers = workers
        self.timeout = timeout
        self.sandbox = self._probe_sandbox() if sandbox == "auto" else sandbox
        self.key = f"py{PYTHON_VERSION}:{','.join(CORE_PINS + TF_PINS)}:{self.sandbox}"
        self._scratch = cache_dir() / "work"
        self._scratch.mkdir(parents=True, exist_ok=True)

    # -- sandbox ------------------------------------------------------------------------
    def _sandbox_prefix(self) -> list[str]:
        return ["unshare", "--net", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc",
                "sh", "-c", _SANDBOX_SH, "sandbox"]

    def _probe_sandbox(self) -> str:
        """'namespaces' when unshare works here (and the root is then read-only), else 'guard'."""
        if not shutil.which("unshare"):
            return "guard"
        cache_dir().mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache_dir()) as tmp:
            # no traffic: a new network namespace has one interface, `lo`, and it is down
            probe = ("import socket\n"
                     "open('inside.txt', 'w').write('x')\n"
                     f"try:\n    open({str(cache_dir() / 'probe.txt')!r}, 'w')\n"
                     "except OSError:\n    print('ro')\n"
                     "if [n for _, n in socket.if_nameindex()] == ['lo']:\n    print('nonet')\n")
            try:
                out = subprocess.run([*self._sandbox_prefix(), tmp, str(self.python), "-c", probe],
                                     capture_output=True, text=True, timeout=60, check=False)
            except (OSError, subprocess.TimeoutExpired):
                return "guard"
            ok = (out.returncode == 0 and out.stdout.split() == ["ro", "nonet"]
                  and Path(tmp, "inside.txt").exists())
        if not ok:
            log.warning("namespaces sandbox unavailable (%s); using the socket guard",
                        out.stderr.strip()[-200:])
        return "namespaces" if ok else "guard"

    # -- running ------------------------------------------------------------------------
    def run(self, job: Job) -> RunResult:
        sha = code_sha(job.code)
        if self.cache is not None:
            hit = self.cache.get(self.key, job.problem_id, sha, job.attempt)
            if hit is not None:
                return hit
        try:
            result = self._execute(job)
        except Exception as exc:  # a runner failure is a counted outcome, not a crash
            log.exception("running problem %s failed", job.problem_id)
            return RunResult(False, "error", None, 0.0, f"runner: {exc}", "", "")
        if self.cache is not None:
            self.cache.put(self.key, job.problem_id, sha, job.attempt, result)
        return result

    def run_all(self, jobs: Iterable[Job], progress: Callable[[int, int], None] | None = None
                ) -> dict[Job, RunResult]:
        todo = list(dict.fromkeys(jobs))
        results: dict[Job, RunResult] = {}
        with ThreadPoolExecutor(self.workers) as pool:
            for i, (job, res) in enumerate(zip(todo, pool.map(self.run, todo)), 1):
                results[job] = res
                if progress:
                    progress(i, len(todo))
        return results

    def _execute(self, job: Job) -> RunResult:
        work = Path(tempfile.mkdtemp(prefix="run-", dir=self._scratch))
        try:
            return self._execute_in(job, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _execute_in(self, job: Job, work: Path) -> RunResult:
        (work / "program.py").write_text(program(job.code_context, job.code), encoding="utf-8",
                                         errors="surrogatepass")
        mpl = work / ".matplotlib"
        mpl.mkdir()
        for font_cache in (self.env_root / "mplconfig").glob("fontlist-*.json"):
            shutil.copy(font_cache, mpl)
        env = {"PATH": f"{self.python.parent}:/usr/bin:/bin", "HOME": str(work),
               "MPLCONFIGDIR": str(mpl), "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0",
               "PYTHONDONTWRITEBYTECODE": "1", "TF_CPP_MIN_LOG_LEVEL": "2",
               "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "LANG": "C.UTF-8"}
        for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # see the machine notes
            if name in os.environ:
                env[name] = os.environ[name]
        cmd = [str(self.python), "program.py"]
        if self.sandbox == "namespaces":
            cmd = [*self._sandbox_prefix(), str(work), *cmd]
        else:
            guard = work / ".guard"
            guard.mkdir()
            (guard / "sitecustomize.py").write_text(_SOCKET_GUARD)
            env["PYTHONPATH"] = str(guard)
        limits = ["prlimit", f"--fsize={OUTPUT_CAP}", f"--as={MEMORY_CAP}", "--core=0", "--"]
        start = time.monotonic()
        with open(work / "stdout", "wb") as out, open(work / "stderr", "wb") as err:
            proc = subprocess.Popen([*limits, *cmd], cwd=work, env=env, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=err, start_new_session=True)
            timed_out = False
            try:
                proc.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        seconds = time.monotonic() - start
        stderr = _tail(work / "stderr")
        capped = (proc.returncode == -signal.SIGXFSZ
                  or max((work / "stdout").stat().st_size, (work / "stderr").stat().st_size)
                  >= OUTPUT_CAP)
        status = ("timeout" if timed_out else "output_cap" if capped
                  else "passed" if proc.returncode == 0 else "failed")
        lines = [ln for ln in stderr.splitlines() if ln.strip()]
        return RunResult(status == "passed", status, proc.returncode, round(seconds, 2),
                         lines[-1][:300] if lines else "", stderr[-STDERR_TAIL:],
                         ",".join(classify(stderr)) if status != "passed" else "")


def _tail(path: Path, size: int = 64 * 1024) -> str:
    with open(path, "rb") as fh:
        fh.seek(max(0, path.stat().st_size - size))
        return fh.read().decode("utf-8", "replace")


def default_runner(workers: int = 2, tensorflow: bool = True, fresh_cache: Path | None = None,
                   echo: Callable[[str], None] = print) -> Runner:
    python = ensure_env(tensorflow=tensorflow, echo=echo)
    cache = ResultCache(fresh_cache or cache_dir() / "ds1000-results.sqlite")
    return Runner(python, cache, workers=workers)


if __name__ == "__main__":  # pragma: no cover - a manual check of the sandbox
    r = default_runner()
    print(f"sandbox: {r.sandbox}", file=sys.stderr)
