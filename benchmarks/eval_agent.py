"""The retrieval agent over DS-1000: does its top recommendation cite the right APIs, do its
examples parse and use the user's names, how fast is it — and, with `--llm`, does it help a
model solve the problems (pass@1 without vs with Spark's recommendation, by execution).

    python benchmarks/eval_agent.py [--limit N] [--library Pandas] [--home KB_HOME]
    python benchmarks/eval_agent.py --llm --base-url URL --model M [--api-key-env VAR]

Offline figures: recall@3 (the gold API objects — calls of the reference solution resolved to
documented names — found among the first three documentation sources of the top
recommendation), % of tailored examples that parse, % that use the user's names, latency
p50/p95 (warm: after one untimed recommendation). Needs a documentation knowledge base
(`spark kb build`) in $SPARK_HOME or --home for recall; without one recall is 0 and said so.
"""

from __future__ import annotations

import argparse
import ast
import gzip
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from ds1000_gold import question_text, setup_code

DATA = ROOT.parent / "shared" / "data" / "ds1000"
LIB_PREFIX = {"Pandas": "pandas", "Numpy": "numpy", "Matplotlib": "matplotlib",
              "Sklearn": "sklearn", "Scipy": "scipy", "Pytorch": "torch",
              "Tensorflow": "tensorflow"}
_CODE = re.compile(r"<code>\n?(.*?)</code>", re.DOTALL)


def load_problems(data: Path, limit: int | None, library: str | None) -> list[dict[str, Any]]:
    problems = [json.loads(line) for line in gzip.open(data / "problems.jsonl.gz", "rt")]
    if library:
        problems = [p for p in problems if p["library"].lower() == library.lower()]
    if limit:
        # spread over libraries: every k-th problem rather than the first N (all Pandas)
        step = max(1, len(problems) // limit)
        problems = problems[::step][:limit]
    return problems


def split_prompt(prompt: str) -> tuple[str, str]:
    """(question prose, the user's code) of a DS-1000 prompt. A Matplotlib prompt is code whose
    comments state the task: the comments are the question, the code is the code."""
    if "\nA:" not in prompt:
        return question_text(prompt), setup_code(prompt)
    head, _, tail = prompt.partition("\nA:\n")
    m = _CODE.search(tail)
    code = m.group(1) if m else ""
    question = head.replace("Problem:\n", "", 1).strip()
    return question, code


def gold_objects(code: str, reference: str) -> list[str]:
    """Documented names of the reference solution's calls (`pandas.DataFrame.iloc`-style)."""
    from spark_lsp.agent.intent import infer_intent
    from spark_lsp.kb.symbols import candidate_names

    text = code.rstrip("\n") + "\n" + reference
    first = code.rstrip("\n").count("\n") + 1
    intent = infer_intent(text, first, text.count("\n"))
    gold: list[str] = []
    for call in intent.calls:
        head = call.split(".")[0]
        if head not in LIB_PREFIX.values() or call.count(".") < 1:
            continue
        gold.append(call)
    # attribute accesses like df.iloc[...] are not calls: add `.name` members on known objects
    for m in re.finditer(r"\b([A-Za-z_]\w*)\.(iloc|loc|T|shape|values|columns|index|dt|str)\b",
                         reference):
        obj = next((o for o in intent.objects if o.name == m.group(1)), None)
        if obj is not None:
            gold.append(f"{obj.type}.{m.group(2)}")
    names = []
    for g in dict.fromkeys(gold):
        names.append(candidate_names(g)[-1] if len(candidate_names(g)) > 1 else g)
    return names[:6]


def _tail(name: str, n: int = 2) -> str:
    return ".".join(name.split(".")[-n:])


def found(gold: str, sources: list[str]) -> bool:
    from spark_lsp.kb.symbols import candidate_names

    wanted = set(candidate_names(gold)) | {gold}
    tails = {_tail(w) for w in wanted}
    return any(s in wanted or _tail(s) in tails for s in sources)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, int(round(q * (len(ordered) - 1)))))
    return ordered[k]


def machine() -> str:
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, {platform.system()} {platform.release()}")


# -- offline ---------------------------------------------------------------------------------

@dataclass
class OfflineRow:
    library: str
    recall: float | None
    has_example: bool
    parses: bool
    uses_names: bool
    seconds: float
    docs: int


def run_offline(problems: list[dict[str, Any]], agent: Any) -> list[OfflineRow]:
    rows = []
    if problems:  # warm: imports, the KB connection, the embedding model
        q, c = split_prompt(problems[0]["prompt"])
        agent.recommend_task(q[:3900] or "help", c)
    for p in problems:
        question, code = split_prompt(p["prompt"])
        started = time.perf_counter()
        rec = agent.recommend_task(question[:3900] or "help", code)
        seconds = time.perf_counter() - started
        sources = rec.source_objects()[:3]
        gold = gold_objects(code, p["reference_code"])
        recall = (sum(found(g, sources) for g in gold[:3]) / min(3, len(gold))) if gold else None
        after = rec.example.after
        try:
            ok = bool(after) and ast.parse(after) is not None
        except SyntaxError:
            ok = False
        rows.append(OfflineRow(p["library"], recall, bool(after), ok,
                               rec.example.uses_user_names, seconds, len(rec.sources["docs"])))
    return rows


def report_offline(rows: list[OfflineRow]) -> dict[str, Any]:
    def summary(sel: list[OfflineRow]) -> dict[str, Any]:
        recalls = [r.recall for r in sel if r.recall is not None]
        examples = [r for r in sel if r.has_example]
        times = [r.seconds * 1000 for r in sel]
        return {
            "problems": len(sel),
            "recall@3": round(statistics.mean(recalls), 3) if recalls else None,
            "with_gold": len(recalls),
            "examples": len(examples),
            "parse_%": round(100 * sum(r.parses for r in examples) / len(examples), 1)
            if examples else None,
            "user_names_%": round(100 * sum(r.uses_names for r in examples) / len(examples), 1)
            if examples else None,
            "p50_ms": round(percentile(times, 0.5), 1),
            "p95_ms": round(percentile(times, 0.95), 1),
            "with_docs_%": round(100 * sum(r.docs > 0 for r in sel) / len(sel), 1) if sel else 0,
        }
    by_lib: dict[str, list[OfflineRow]] = defaultdict(list)
    for r in rows:
        by_lib[r.library].append(r)
    return {"all": summary(rows), **{lib: summary(v) for lib, v in sorted(by_lib.items())}}


# -- with a model ----------------------------------------------------------------------------

INSTRUCTION = ("Write the missing code. Answer with only the code that goes after BEGIN "
               "SOLUTION, in one ```python block.")


def extract_code(response: str) -> str:
    """The last ```python block (or <code> block) of a response, else the text before
    END SOLUTION — DSCodeBench's extraction, simplified."""
    blocks = re.findall(r"```(?:python|py)?\n(.*?)```", response, re.DOTALL)
    if blocks:
        return blocks[-1]
    blocks = _CODE.findall(response)
    if blocks:
        return blocks[-1]
    return response.split("END SOLUTION")[0].replace("</code>", "")


def run_tests(problem: dict[str, Any], solution: str, timeout: float = 60.0) -> bool:
    program = problem["code_context"] + f"\ntest_execution({solution!r})\n"
    if "def test_string(" in problem["code_context"]:
        program += f"test_string({solution!r})\n"
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "run.py"
        script.write_text(program)
        env = {**os.environ, "MPLBACKEND": "Agg"}
        try:
            done = subprocess.run([sys.executable, str(script)], cwd=tmp, env=env,
                                  capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
    return done.returncode == 0


def ask(client: Any, model: str, prompt: str, timeout: float) -> str:
    try:
        response = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": prompt}], temperature=0,
            timeout=timeout)
        return response.choices[0].message.content or ""
    except Exception as exc:  # one failed request is a failed answer, not a crashed run
        print(f"  request failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return ""


def run_llm(problems: list[dict[str, Any]], agent: Any, base_url: str, model: str,
            key_env: str, timeout: float) -> dict[str, Any]:
    import openai

    from spark_lsp.agent import render_text

    key = os.environ.get(key_env, "") if key_env else ""
    client = openai.OpenAI(base_url=base_url, api_key=key or "not-needed", max_retries=1)
    per_lib: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    for p in problems:
        question, code = split_prompt(p["prompt"])
        rec = agent.recommend_task(question[:3900] or "help", code)
        plain = f"{p['prompt']}\n\n{INSTRUCTION}"
        helped = (f"{p['prompt']}\n\nSpark's recommendation (documentation of the installed "
                  f"library versions and team practices):\n{render_text(rec)}\n\n{INSTRUCTION}")
        without = run_tests(p, extract_code(ask(client, model, plain, timeout)))
        with_spark = run_tests(p, extract_code(ask(client, model, helped, timeout)))
        per_lib[p["library"]].append((without, with_spark))
    out = {}
    for lib, pairs in sorted(per_lib.items()):
        n = len(pairs)
        a = sum(x for x, _ in pairs) / n
        b = sum(y for _, y in pairs) / n
        out[lib] = {"problems": n, "pass@1_without": round(a, 3), "pass@1_with": round(b, 3),
                    "delta": round(b - a, 3)}
    pairs = [x for v in per_lib.values() for x in v]
    if pairs:
        a = sum(x for x, _ in pairs) / len(pairs)
        b = sum(y for _, y in pairs) / len(pairs)
        out["all"] = {"problems": len(pairs), "pass@1_without": round(a, 3),
                      "pass@1_with": round(b, 3), "delta": round(b - a, 3)}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--limit", type=int, default=None, help="problems, spread evenly")
    parser.add_argument("--library", help="only this DS-1000 library, e.g. Pandas")
    parser.add_argument("--home", type=Path, help="SPARK_HOME with the docs knowledge base")
    parser.add_argument("--mode", default="hybrid", choices=["bm25", "vector", "fuzzy", "hybrid"])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--llm", action="store_true", help="pass@1 without vs with Spark")
    parser.add_argument("--base-url", default=os.environ.get("OPENAI_BASE_URL", ""))
    parser.add_argument("--model", default=os.environ.get("SPARK_EVAL_MODEL", ""))
    parser.add_argument("--api-key-env", default="OPENAI_API_KEY")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    if args.home:
        os.environ["SPARK_HOME"] = str(args.home)

    from spark_lsp.agent import Agent
    from spark_lsp.config import Settings

    problems = load_problems(args.data, args.limit, args.library)
    agent = Agent(Settings(), docs_mode=args.mode, use_settings_llm=False)
    print(f"# eval_agent: {len(problems)} problems; {machine()}", file=sys.stderr)
    if args.llm:
        if not args.base_url or not args.model:
            parser.error("--llm needs --base-url and --model (or OPENAI_BASE_URL, "
                         "SPARK_EVAL_MODEL)")
        figures = {"llm": run_llm(problems, agent, args.base_url, args.model,
                                  args.api_key_env, args.timeout)}
    else:
        figures = {"offline": report_offline(run_offline(problems, agent))}
    figures["machine"] = machine()  # type: ignore[assignment]
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for section, table in figures.items():
            if not isinstance(table, dict):
                print(f"{section}: {table}")
                continue
            print(f"## {section}")
            for lib, row in table.items():
                print(f"{lib:12} " + "  ".join(f"{k}={v}" for k, v in row.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
