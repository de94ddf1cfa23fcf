"""Concurrent writers against the real trace journal, with merges and a memory import running.

    python benchmarks/bench_concurrency.py [--writers 4] [--outcomes 500] [--kill-after 150]
                                           [--store postgresql://...] [--machines 2]

Each writer is a separate process appending traces through `kb.traces.TraceJournal` (redaction
included) and acknowledging each one in its own file once `append` returned. Meanwhile one
thread merges the journals into the knowledge base again and again (`kb.merge.merge_journals`)
and another verifies and imports a signed team memory (`memory.store.import_memory`) twice.
Writer 0 is killed with SIGKILL after `--kill-after` acknowledged traces. With `--store`, the
memory tables live on that PostgreSQL database (`kb.storage`); `--machines N` runs N such
SPARK_HOMEs at once (each with its writers, merges and imports of the same memory), as N
machines sharing the store would. Afterwards:

- every acknowledged trace is in the knowledge base exactly once (and nothing else is);
- the journal holds no unmerged line, only the killed writer's torn line may be set aside;
- the knowledge base opens and `spark status` reads it; the memory's outcomes are there once.

Prints the machine, throughput (traces/s, all writers together) and the counts. Exit 1 if a
check fails. `tests/unit/test_concurrency.py` runs it with smaller numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # memory_fixtures: an admin key and a memory file


def writer(home: Path, index: int, count: int, ack: Path, prefix: str = "") -> None:
    """One editor: append `count` traces, acknowledging each after `append` returned."""
    from spark_lsp.kb.traces import Trace, TraceJournal

    journal = TraceJournal(home)
    outcomes = ("shown", "accepted", "rejected", "corrected")
    with open(ack, "a", encoding="utf-8") as acks:
        for i in range(count):
            trace = Trace(outcomes[i % 4], "SPK001", client=f"writer{index}",
                          id=f"{prefix}w{index}-{i:06d}", line=i % 100 + 1,
                          before=f"arr{i} = df.values  # contact me: dev{index}@example.org",
                          after=f"arr{i} = df.to_numpy()")
            journal.append(trace)
            acks.write(trace.id + "\n")
            acks.flush()


def _merge_loop(home: Path, stop: threading.Event, stats: dict[str, Any]) -> None:
    from spark_lsp.kb.merge import merge_journals

    while not stop.is_set():
        started = time.perf_counter()
        report = merge_journals(home, timeout=60)
        stats["merges"] += 1
        stats["merged"] += report.inserted
        stats["merge_seconds"] = max(stats["merge_seconds"], time.perf_counter() - started)
        stop.wait(0.05)


def _import_twice(home: Path, memory: Path, trusted: Any, stats: dict[str, Any]) -> None:
    from spark_lsp.memory.store import import_memory
    from spark_lsp.memory.verify import verify_file

    for _ in range(2):
        started = time.perf_counter()
        report = import_memory(verify_file(memory, trusted), home, timeout=60)
        stats["imports"].append(round(time.perf_counter() - started, 3))
        stats["memory_added"] += report.outcomes_added
        time.sleep(0.3)


def run(home: Path, writers: int = 4, outcomes: int = 500, kill_after: int = 150,
        memory_outcomes: int = 300, *, store: str | None = None, machines: int = 1
        ) -> dict[str, Any]:
    """Run the benchmark in `home` (and `home`-1, -2… for more machines); the figures."""
    if machines > 1 and not store:
        raise ValueError("more than one machine needs a shared --store: separate local files "
                         "share nothing")
    previous = os.environ.get("SPARK_MEMORY_STORE")
    if store is not None:
        os.environ["SPARK_MEMORY_STORE"] = store
    try:
        return _run(home, writers, outcomes, kill_after, memory_outcomes, store, machines)
    finally:
        if store is not None:
            if previous is None:
                os.environ.pop("SPARK_MEMORY_STORE", None)
            else:
                os.environ["SPARK_MEMORY_STORE"] = previous


def _run(home: Path, writers: int, outcomes: int, kill_after: int, memory_outcomes: int,
         store: str | None, machines: int) -> dict[str, Any]:
    from memory_fixtures import Admin, card, memory_with

    from spark_lsp.kb.db import kb_file, open_readonly
    from spark_lsp.kb.merge import merge_journals
    from spark_lsp.kb.storage import parse_store
    from spark_lsp.kb.store import ensure_kb, kb_status
    from spark_lsp.memory.format import write_memory

    homes = [home] + [home.with_name(f"{home.name}-{m}") for m in range(1, machines)]
    for h in homes:
        h.mkdir(parents=True, exist_ok=True)
        ensure_kb(h)
    admin = Admin(home.parent / "admin")
    team = home.parent / "team.sparkmem"
    write_memory(team, memory_with(admin, [card()], outcomes=memory_outcomes), admin.key)
    acks = {(m, i): home.parent / f"ack-{m}-{i}.txt" for m in range(machines)
            for i in range(writers)}
    started = time.perf_counter()
    procs = {}
    for (m, i), ack in acks.items():
        env = {**os.environ, "SPARK_HOME": str(homes[m]), "PYTHONPATH": str(ROOT)}
        procs[(m, i)] = subprocess.Popen(
            [sys.executable, __file__, "writer", str(homes[m]), str(i), str(outcomes), str(ack),
             f"m{m}" if m else ""], env=env)
    stats: dict[str, Any] = {"merges": 0, "merged": 0, "merge_seconds": 0.0, "imports": [],
                             "memory_added": 0}
    stop = threading.Event()
    threads = [threading.Thread(target=_merge_loop, args=(h, stop, stats)) for h in homes]
    threads += [threading.Thread(target=_import_twice, args=(h, team, admin.trusted, stats))
                for h in homes]
    for thread in threads:
        thread.start()
    killed_at = None
    first = procs[(0, 0)]
    while first.poll() is None:
        done = _lines(acks[(0, 0)])
        if done >= kill_after:
            first.send_signal(signal.SIGKILL)
            killed_at = done
            break
        time.sleep(0.002)
    for proc in procs.values():
        proc.wait()
    elapsed = time.perf_counter() - started
    for thread in threads[len(homes):]:
        thread.join()
    stop.set()
    for thread in threads[:len(homes)]:
        thread.join()
    final = sum(merge_journals(h, timeout=60).inserted for h in homes)

    con = open_readonly(kb_file(home), timeout=60)  # through the store, when there is one
    assert con is not None, "the knowledge base is busy after the run"
    try:
        rows = con.execute("SELECT id, count(*) FROM traces WHERE client LIKE 'writer%' "
                           "GROUP BY id").fetchall()
        memory_rows = con.execute("SELECT count(*) FROM traces WHERE client = 'memory'"
                                  ).fetchone()[0]
        leaked = con.execute("SELECT count(*) FROM traces WHERE \"before\" LIKE '%@example.org%'"
                             ).fetchone()[0]
    finally:
        con.close()
    stored = dict(rows)
    acked = [line for path in acks.values() for line in path.read_text().split("\n") if line]
    written = sum(_lines(p) for p in acks.values())
    statuses = [kb_status(h) for h in homes]
    set_aside = 0
    for h in homes:
        rejected = h / "journal" / "rejected"
        if rejected.is_dir():
            set_aside += sum(len(p.read_bytes().splitlines()) for p in rejected.glob("*"))
    chosen = parse_store(store) if store else None
    figures = {
        "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} cores, "
                   f"Python {platform.python_version()}",
        "store": chosen.display if chosen else "local DuckDB file", "machines": machines,
        "writers": writers, "outcomes_per_writer": outcomes, "killed_writer_acked": killed_at,
        "acknowledged": len(acked), "stored": len(stored), "seconds": round(elapsed, 2),
        "traces_per_second": round(written / elapsed, 1),
        "missing": len(set(acked) - set(stored)),
        "duplicated": sum(1 for n in stored.values() if n != 1),
        "unacknowledged_stored": len(set(stored) - set(acked)),
        "memory_outcomes": memory_rows, "memory_outcomes_expected": memory_outcomes,
        "merges_during_run": stats["merges"], "slowest_merge_seconds":
            round(stats["merge_seconds"], 3), "import_seconds": stats["imports"],
        "final_merge_inserted": final, "set_aside_lines": set_aside,
        "journal_pending_lines": sum(st.journal_pending_lines for st in statuses),
        "kb_readable": all(st.readable for st in statuses), "secrets_in_kb": leaked,
    }
    figures["ok"] = (figures["missing"] == 0 and figures["duplicated"] == 0
                     and figures["unacknowledged_stored"] <= 1 and figures["kb_readable"]
                     and figures["journal_pending_lines"] == 0 and set_aside <= 1
                     and memory_rows == memory_outcomes and leaked == 0)
    return figures


def _lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "writer":
        home, index, count, ack = sys.argv[2:6]
        writer(Path(home), int(index), int(count), Path(ack), *sys.argv[6:7])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--outcomes", type=int, default=500)
    parser.add_argument("--kill-after", type=int, default=150)
    parser.add_argument("--store", help="A postgresql:// URL: the memory tables live there "
                                        "(default: the local DuckDB file).")
    parser.add_argument("--machines", type=int, default=1,
                        help="SPARK_HOMEs running at once against the same store.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        figures = run(Path(tmp) / "home", args.writers, args.outcomes, args.kill_after,
                      store=args.store, machines=args.machines)
    print(json.dumps(figures, indent=2))
    sys.exit(0 if figures["ok"] else 1)


if __name__ == "__main__":
    main()
