"""The `spark` command: thin click commands over the library (no logic beyond parse and print)."""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import ParamSpec, TypeVar

import click

from spark_lsp import __version__

P = ParamSpec("P")
R = TypeVar("R")


def _codes(value: str | None) -> list[str] | None:
    if not value:
        return None
    return [c.strip().upper() for c in value.split(",") if c.strip()]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="spark")
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages to stderr.")
def cli(verbose: bool) -> None:
    """Spark: data-science practices, explained and fixed, in your editor and your terminal."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif"]), default="text",
              show_default=True)
@click.option("--fix", is_flag=True, help="Apply safe fixes in place.")
@click.option("--unsafe-fixes", is_flag=True, help="With --fix, apply unsafe fixes too.")
@click.option("--select", help="Comma-separated codes (or prefixes) to report.")
@click.option("--ignore", help="Comma-separated codes (or prefixes) not to report.")
@click.option("--explain/--no-explain", default=True, help="Explain each code after the list.")
def check(paths: tuple[Path, ...], fmt: str, fix: bool, unsafe_fixes: bool, select: str | None,
          ignore: str | None, explain: bool) -> None:
    """Check Python files for data-science pitfalls. Exit 0: clean, 1: findings, 2: error."""
    from spark_lsp import report
    from spark_lsp.check import check_paths, make_analyzer
    from spark_lsp.config import load_settings

    targets = list(paths) or [Path(".")]
    settings = load_settings(targets[0], {k: v for k, v in
                                         {"select": _codes(select), "ignore": _codes(ignore)}.items()
                                         if v is not None})
    analyzer, cards, problems = make_analyzer(settings)
    for p in problems:
        click.echo(f"warning: skipped card: {p}", err=True)
    result = check_paths(targets, settings, fix=fix, unsafe_fixes=unsafe_fixes, analyzer=analyzer)
    for msg in result.messages:
        click.echo(f"warning: {msg}", err=True)
    if fmt == "json":
        click.echo(report.to_json(result.findings))
    elif fmt == "sarif":
        click.echo(report.to_sarif(result.findings, cards))
    else:
        if result.findings:
            click.echo(report.to_text(result.findings, cards, explain=explain))
        fixable = sum(1 for f in result.findings if f.fix is not None and f.fix.automatic)
        summary = f"Found {len(result.findings)} finding(s) in {result.files} file(s)"
        if result.fixed:
            summary += f"; fixed {result.fixed}"
        if fixable and not fix:
            summary += f"; {fixable} fixable with --fix" + ("" if unsafe_fixes else
                                                           " (some need --unsafe-fixes)")
        click.echo(summary + ".", err=True)
    for err in result.errors:
        click.echo(f"error: {err}", err=True)
    if result.errors:
        sys.exit(2)
    sys.exit(1 if result.findings else 0)


@cli.command()
@click.option("--tcp", "tcp", metavar="HOST:PORT", help="Listen on TCP instead of stdio.")
def serve(tcp: str | None) -> None:
    """Run the language server (stdio by default)."""
    from spark_lsp.server import run

    host, port = None, None
    if tcp:
        host, _, port_s = tcp.rpartition(":")
        if not port_s.isdigit():
            raise click.UsageError("--tcp takes HOST:PORT, e.g. 127.0.0.1:2087")
        host, port = host or "127.0.0.1", int(port_s)
    run(host=host, port=port)


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text",
              show_default=True)
@click.argument("code", required=False)
def rules(fmt: str, code: str | None) -> None:
    """List the practice cards (or show one); `--format markdown` writes docs/rules.md."""
    from spark_lsp.analysis import load_default_cards
    from spark_lsp.rules_doc import rules_json, rules_markdown

    cards, problems = load_default_cards()
    for p in problems:
        click.echo(f"warning: skipped card: {p}", err=True)
    if code:
        cards = [c for c in cards if c.code == code.upper()]
        if not cards:
            click.echo(f"error: no card {code}", err=True)
            sys.exit(2)
    if fmt == "markdown":
        click.echo(rules_markdown(cards), nl=False)
    elif fmt == "json":
        click.echo(rules_json(cards))
    else:
        for c in cards:
            click.echo(f"{c.code}  {c.fix.applicability:<7}  {c.title}")
            if code:
                click.echo(f"\n{c.why}\n\n{c.url}")


# -- knowledge base and traces: thin commands over spark_lsp.kb (text layout: kb/display.py)

def _fail_on_kb_errors(func: Callable[P, R]) -> Callable[P, R]:
    """A KBError (busy, damaged, too new, …) or OSError becomes `error: …` on stderr, exit 2."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from spark_lsp.kb.db import KBError

        try:
            return func(*args, **kwargs)
        except BrokenPipeError:
            raise  # `spark traces export | head`: click exits quietly
        except (KBError, OSError) as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
    return wrapper


@cli.command("path")
def path_command() -> None:
    """Print the knowledge-base file: $SPARK_HOME/spark.duckdb."""
    from spark_lsp.config import kb_path

    click.echo(str(kb_path()))


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@_fail_on_kb_errors
def status(fmt: str) -> None:
    """Show what the knowledge base holds: file, schema version, size, cards by source and status,
    traces by outcome, journal lines waiting to be merged, installed library versions.

    Read-only: never creates or changes the file. Exit 2 if the file is damaged or from a newer
    Spark.
    """
    from spark_lsp.kb.display import status_text
    from spark_lsp.kb.store import kb_status

    st = kb_status()
    click.echo(json.dumps(st.to_dict(), indent=2) if fmt == "json" else status_text(st))


@cli.group()
def traces() -> None:
    """Recorded outcomes of suggestions (shown, accepted, rejected, corrected).

    Editors append traces to journal files in $SPARK_HOME/journal; `merge` moves them into the
    knowledge base (list and export merge first when they can).
    """


@traces.command("list")
@click.option("--limit", "-n", type=click.IntRange(min=0), default=20, show_default=True,
              help="How many of the newest traces to show (0: all).")
@click.option("--outcome", type=click.Choice(["shown", "accepted", "rejected", "corrected"]),
              help="Only traces with this outcome.")
@click.option("--code", help="Only traces of this card code, e.g. SPK001.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json: an array of trace objects (the export shape).")
@_fail_on_kb_errors
def traces_list(limit: int, outcome: str | None, code: str | None, fmt: str) -> None:
    """List the newest traces, merging pending journals first when the file is free."""
    from spark_lsp.kb.display import traces_text
    from spark_lsp.kb.store import list_traces

    listing = list_traces(limit=limit or None, outcome=outcome, code=code.upper() if code else None)
    for note in listing.notes + (listing.merge.all_messages() if listing.merge else []):
        click.echo(f"warning: {note}", err=True)
    if fmt == "json":
        click.echo(json.dumps([asdict(t) for t in listing.traces], indent=2, sort_keys=True))
    else:
        click.echo(traces_text(listing.traces), nl=False)
        click.echo(f"{len(listing.traces)} trace(s)", err=True)


@traces.command("export")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of stdout (replaced only once complete).")
@_fail_on_kb_errors
def traces_export(output: Path | None) -> None:
    """Export every trace as JSON Lines, oldest first, after merging pending journals.

    One object a line with the fields of a trace: id, ts (seconds since the epoch), outcome
    (shown|accepted|rejected|corrected), code, client, file_hash, line, before, after,
    fingerprint, versions ({library: version}), user (pseudonymous), schema (format version).
    """
    import os
    import tempfile

    from spark_lsp.kb.store import export_traces

    if output is None:
        count = export_traces(sys.stdout)
        click.echo(f"exported {count} trace(s)", err=True)
        return
    fd, tmp = tempfile.mkstemp(prefix=f".{output.name}.", dir=output.resolve().parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            count = export_traces(fh)
        os.replace(tmp, output)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    click.echo(f"exported {count} trace(s) to {output}", err=True)


@traces.command("merge")
@click.option("--wait", type=click.FloatRange(min=0), default=10.0, show_default=True,
              help="Seconds to wait for another process that holds the file.")
@_fail_on_kb_errors
def traces_merge(wait: float) -> None:
    """Merge journal files into the knowledge base (creating or migrating it if needed).

    Each trace is stored once (deduplicated by id); lines that cannot be read are counted and
    kept in $SPARK_HOME/journal/rejected. Exit 2 if the file stays busy for --wait seconds.
    """
    from spark_lsp.kb.store import ensure_kb, merge_journals

    ensure_kb(timeout=wait)
    report = merge_journals(timeout=wait)
    for message in report.all_messages():
        click.echo(f"warning: {message}", err=True)
    click.echo(report.summary())


@cli.group()
def kb() -> None:
    """Maintain the knowledge-base file ($SPARK_HOME/spark.duckdb)."""


@kb.command("rebuild")
@click.option("--wait", type=click.FloatRange(min=0), default=10.0, show_default=True,
              help="Seconds to wait for another process that holds the file.")
@_fail_on_kb_errors
def kb_rebuild(wait: float) -> None:
    """Set the knowledge base aside (renamed spark.duckdb.old-<time>, never deleted) and build a
    new one from the seed cards, copying back every trace and learned card still readable.

    Use it when `spark status` reports a damaged file.
    """
    from spark_lsp.kb.rebuild import rebuild_kb

    report = rebuild_kb(timeout=wait)
    for note in report.notes:
        click.echo(f"warning: {note}", err=True)
    if report.old_path:
        click.echo(f"old file kept as {report.old_path}")
    click.echo(f"new knowledge base {report.kb.path}: schema {report.kb.schema_version}, "
               f"{report.traces_kept} trace(s) and {report.cards_kept} learned card(s) kept")


# -- documentation: thin commands over kb.docs_build / kb.search (text layout: kb/docs_display.py)

@kb.command("build")
@click.option("--python", "python", metavar="PATH",
              help="Interpreter (or virtualenv folder) whose libraries to document; default: "
                   "Spark's own.")
@click.option("--libraries", metavar="LIBS",
              help="Comma-separated import or package names; default: pandas, numpy, scipy, "
                   "sklearn, matplotlib, torch, tensorflow, keras, dask (missing ones skipped).")
@click.option("--rebuild", is_flag=True,
              help="Harvest every library again and drop documentation of versions this build "
                   "did not harvest (vectors still come from the cache).")
@click.option("--timeout", type=click.FloatRange(min=1), default=300.0, show_default=True,
              help="Seconds allowed to import and introspect one library.")
@click.option("--progress/--no-progress", default=True, show_default=True,
              help="Progress bar with ETA while embedding (on a terminal).")
@_fail_on_kb_errors
def kb_build(python: str | None, libraries: str | None, rebuild: bool, timeout: float,
             progress: bool) -> None:
    """Build the documentation knowledge base from the installed libraries.

    Each library is introspected in a subprocess of the interpreter (a library that fails to
    import or hangs is skipped with a note); every public object gives a snippet, and so does
    each meaningful docstring section. Snippets are embedded (cached by content, so a rebuild
    embeds only what changed) and indexed (full text + HNSW) in a new file that replaces the
    knowledge base atomically: an interrupted build leaves the old one serving.
    """
    from spark_lsp.kb.docs_build import build_docs
    from spark_lsp.kb.docs_display import build_text

    report = build_docs(python=python, libraries=libraries, rebuild=rebuild, timeout=timeout,
                        progress=progress, say=lambda message: click.echo(message, err=True))
    for r in report.libraries:
        if r.message:
            click.echo(f"warning: {r.message}", err=True)
    for note in report.notes:
        click.echo(f"warning: {note}", err=True)
    click.echo(build_text(report), nl=False)


@kb.command("stats")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@_fail_on_kb_errors
def kb_stats(fmt: str) -> None:
    """Documentation in the knowledge base: snippets, how many have vectors, and per library the
    version searched by default with its snippet count.

    JSON: {"snippets": N, "embedded": N, "libraries": {name: {"version": V, "snippets": n}}}
    ("versions": {V: n} is added when a library is documented in several versions).
    """
    from spark_lsp.kb.docs_display import stats_text
    from spark_lsp.kb.docs_store import docs_stats

    stats = docs_stats()
    if fmt == "json":
        data = stats.to_dict()
        for note in data.pop("notes", []):
            click.echo(f"warning: {note}", err=True)
        click.echo(json.dumps(data, indent=2, sort_keys=True))
    else:
        click.echo(stats_text(stats), nl=False)


@cli.command("search")
@click.argument("query")
@click.option("--library", "library", metavar="L", help="Only this library (e.g. pandas).")
@click.option("-k", "k", type=click.IntRange(min=1), default=10, show_default=True,
              help="How many objects to return.")
@click.option("--mode", type=click.Choice(["bm25", "vector", "fuzzy", "hybrid"]),
              default="hybrid", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True,
              help="json: an array of {object, library, version, kind, section, score, text}.")
@_fail_on_kb_errors
def search_command(query: str, library: str | None, k: int, mode: str, fmt: str) -> None:
    """Search the documentation of the installed library versions.

    Modes: bm25 (full text), vector (MiniLM cosine over HNSW), fuzzy (symbol names, typos
    welcome: `DataFrame.srot_values`), hybrid (reciprocal-rank fusion of the three). One hit per
    object, with its best-matching snippet.
    """
    from spark_lsp.kb.docs_display import hits_text
    from spark_lsp.kb.search import search

    hits = search(query, library=library, k=k, mode=mode)
    if fmt == "json":
        click.echo(json.dumps([h.to_json() for h in hits], indent=2, ensure_ascii=False))
    else:
        click.echo(hits_text(hits), nl=False)
        if not hits:
            click.echo("no results", err=True)


def main() -> None:
    try:
        cli(standalone_mode=True)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
