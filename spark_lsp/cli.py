"""The `spark` command: thin click commands over the library (no logic beyond parse and print)."""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, ParamSpec, TextIO, TypeVar

import click

from spark_lsp import __version__

if TYPE_CHECKING:
    from spark_lsp.config import Settings
    from spark_lsp.memory.keys import TrustedKeys

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
    """Recorded outcomes of suggestions (shown, accepted, rejected, corrected), code users
    rewrote themselves (organic) and feedback (wrong, outdated, helpful).

    Editors append traces to journal files in $SPARK_HOME/journal; `merge` moves them into the
    knowledge base (list and export merge first when they can).
    """


@traces.command("list")
@click.option("--limit", "-n", type=click.IntRange(min=0), default=20, show_default=True,
              help="How many of the newest traces to show (0: all).")
@click.option("--outcome", type=click.Choice(["shown", "accepted", "rejected", "corrected",
                                              "organic", "wrong", "outdated", "helpful"]),
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
    (shown|accepted|rejected|corrected|organic|wrong|outdated|helpful), code, client, file_hash,
    line, before, after, fingerprint, versions ({library: version}), user (pseudonymous),
    workspace (a hash), schema (format version). See docs/traces.md.
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


@traces.command("import")
@click.argument("source", type=click.File("rb"))
@click.option("--strict", is_flag=True, help="Import nothing if any line is bad.")
@click.option("--dry-run", is_flag=True, help="Check and count the lines; write nothing.")
@click.option("--wait", type=click.FloatRange(min=0), default=10.0, show_default=True,
              help="Seconds to wait for another process that holds the file.")
@_fail_on_kb_errors
def traces_import(source: BinaryIO, strict: bool, dry_run: bool, wait: float) -> None:
    """Import traces from a JSON Lines file in the `spark traces export` format (`-`: stdin).

    Traces already in the knowledge base (same id) are skipped, so importing twice adds nothing.
    Bad lines (not JSON, missing fields, a newer trace schema) are named on stderr and skipped;
    exit 1 if there were any, 2 with --strict (then nothing is imported).
    """
    from spark_lsp.kb.trace_import import import_traces

    report = import_traces(source, source=getattr(source, "name", "<input>"), strict=strict,
                           dry_run=dry_run, timeout=wait)
    for message in report.messages:
        click.echo(f"warning: {message}", err=True)
    click.echo(report.summary() + (" (dry run: nothing written)" if dry_run else ""))
    if report.bad:
        sys.exit(2 if strict else 1)


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

    try:
        report = build_docs(python=python, libraries=libraries, rebuild=rebuild,
                            timeout=timeout, progress=progress,
                            say=lambda message: click.echo(message, err=True))
    except KeyboardInterrupt:  # Ctrl-C or `kill`: the build cleaned up after itself
        click.echo("interrupted: nothing was changed, the previous knowledge base keeps "
                   "serving", err=True)
        sys.exit(130)
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
    if not hits and library:
        from spark_lsp.kb.docs_store import docs_stats
        from spark_lsp.kb.harvest import import_name

        documented = sorted(docs_stats().libraries)
        if documented and import_name(library) not in documented:
            click.echo(f"{library!r} is not documented in the knowledge base (documented: "
                       f"{', '.join(documented)}); `spark kb build --libraries "
                       f"{import_name(library)}` adds it", err=True)


# -- the retrieval agent: thin commands over spark_lsp.agent and spark_lsp.mcp

def _ask_target(target: str) -> tuple[Path, int] | None:
    """`FILE:LINE` (1-based line) when it names a file; None for a question."""
    head, sep, tail = target.rpartition(":")
    if sep and tail.strip().isdigit() and head and "\n" not in head:
        return Path(head), int(tail)
    return None


@cli.command()
@click.argument("target")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text",
              show_default=True)
def ask(target: str, fmt: str) -> None:
    """Ask Spark: `spark ask FILE:LINE` or `spark ask "how do I … in pandas"`."""
    from spark_lsp.agent import AgentInputError, default_agent, render_markdown, render_text

    located = _ask_target(target)
    try:
        if located is not None:
            path, line = located
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                click.echo(f"error: cannot read {path}: {exc}", err=True)
                sys.exit(2)
            count = len(text.splitlines()) or 1
            if not 1 <= line <= count:
                click.echo(f"error: {path} has {count} line(s); line {line} is outside it",
                           err=True)
                sys.exit(2)
            rec = default_agent(path.parent).recommend_at(text, line - 1, path=str(path))
        else:
            rec = default_agent(Path.cwd()).recommend_task(target)
    except AgentInputError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    if fmt == "json":
        click.echo(rec.to_json())
    elif fmt == "markdown":
        click.echo(render_markdown(rec), nl=False)
    else:
        click.echo(render_text(rec), nl=False)


@cli.command("explain-error")
@click.argument("source", required=False, default="-", metavar="[FILE]")
@click.option("--code", "code_path", type=click.Path(dir_okay=False, path_type=Path),
              help="The file that raised it: locates the failing line and offers its fix.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text",
              show_default=True)
def explain_error(source: str, code_path: Path | None, fmt: str) -> None:
    """Explain a Python traceback or warning from FILE (stdin when absent or `-`).
    Exit 0: explained, 1: nothing specific found, 2: bad input."""
    from spark_lsp.agent import AgentInputError, default_agent
    from spark_lsp.agent.explain_error import explanation_markdown, explanation_text
    from spark_lsp.analysis.tracebacks import read_tail

    try:
        if source == "-":
            data, cut = read_tail(click.get_binary_stream("stdin"))
        else:
            with open(source, "rb") as stream:
                data, cut = read_tail(stream)
        code = code_path.read_bytes().decode("utf-8", errors="replace") if code_path else ""
    except OSError as exc:
        click.echo(f"error: cannot read {exc.filename or source}: {exc.strerror or exc}", err=True)
        sys.exit(2)
    if "\ufffd" in code:
        click.echo(f"warning: {code_path} is not valid UTF-8; undecodable bytes were replaced",
                   err=True)
    try:
        explanation = default_agent(code_path.parent if code_path else Path.cwd()).explain_error(
            data, code, str(code_path or ""), cut=cut)
    except AgentInputError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    if fmt == "json":
        click.echo(json.dumps(explanation.to_dict(), indent=2, ensure_ascii=False, default=str))
    elif fmt == "markdown":
        click.echo(explanation_markdown(explanation), nl=False)
    else:
        click.echo(explanation_text(explanation), nl=False)
    sys.exit(0 if explanation.explained else 1)


@cli.command("mcp")
def mcp_command() -> None:
    """Serve Spark's tools to coding agents over MCP (stdio)."""
    from spark_lsp.mcp import run_stdio

    run_stdio()


# -- team memory: thin commands over spark_lsp.memory (see docs/team-memory.md)

def _fail_on_memory_errors(func: Callable[P, R]) -> Callable[P, R]:
    """A refused memory file, a key or input problem, or a KB error: `error: …`, exit 2."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from spark_lsp.kb.db import KBError
        from spark_lsp.memory.format import MemoryFileError
        from spark_lsp.memory.keys import KeyProblem
        from spark_lsp.memory.store import MemoryInputError

        try:
            return func(*args, **kwargs)
        except MemoryFileError as exc:
            click.echo(f"error: {exc.args[0] if exc.args else exc} [{exc.problem}]", err=True)
            sys.exit(2)
        except (KeyProblem, MemoryInputError, KBError, OSError) as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
    return wrapper


def _team() -> tuple[Settings, TrustedKeys]:
    """(settings, trusted keys) of the current folder's configuration; key problems warned."""
    from spark_lsp.config import load_settings
    from spark_lsp.memory.keys import team_trusted_keys

    settings = load_settings(Path.cwd())
    trusted = team_trusted_keys(settings)
    for problem in trusted.problems:
        click.echo(f"warning: {problem}", err=True)
    return settings, trusted


@cli.group()
def memory() -> None:
    """Team memory: a signed file of the team's cards, outcomes and suppressions.

    Configure it in pyproject.toml under [tool.spark.memory]: path (the team file), inbox
    (where `sync` drops contributions), trusted_keys / trusted_keys_file (admin public keys).
    """


@memory.command("keygen")
@click.option("--force", is_flag=True, help="Replace an existing key.")
@_fail_on_memory_errors
def memory_keygen(force: bool) -> None:
    """Create a signing key in $SPARK_HOME/keys (mode 0600) and print its public key."""
    from spark_lsp.config import spark_home
    from spark_lsp.memory.keys import generate_key, key_id

    path, public = generate_key(spark_home(), force=force)
    click.echo(f"private key written to {path} (keep it there; never share it)", err=True)
    click.echo(f"key id {key_id(public)}; to trust it, add to [tool.spark.memory]:", err=True)
    click.echo(f'trusted_keys = ["{public}"]')


@memory.command("export")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--cards", "cards_dirs", multiple=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="A folder of team cards (YAML) to include; repeatable.")
@click.option("--learned/--no-learned", default=True, show_default=True,
              help="Include the knowledge base's learned cards.")
@click.option("--outcomes/--no-outcomes", default=True, show_default=True,
              help="Include the outcomes of this machine's traces.")
@click.option("--snippets", is_flag=True, help="Include redacted code windows with outcomes.")
@click.option("--suppress", multiple=True, metavar="CODE[=REASON]",
              help="Suppress a code for the whole team; repeatable.")
@click.option("--unsuppress", multiple=True, metavar="CODE", help="Lift a team suppression.")
@click.option("--drop", multiple=True, metavar="CODE", help="Delete a card (a tombstone).")
@click.option("--base", type=click.Path(dir_okay=False, path_type=Path),
              help="The memory this export continues (default: the last imported one).")
@_fail_on_memory_errors
def memory_export(path: Path, cards_dirs: tuple[Path, ...], learned: bool, outcomes: bool,
                  snippets: bool, suppress: tuple[str, ...], unsuppress: tuple[str, ...],
                  drop: tuple[str, ...], base: Path | None) -> None:
    """Write this machine's cards and experience as a memory file signed with your key.

    Secrets are redacted first; outcomes carry no code unless --snippets. Fold the file into
    the team memory with `spark memory merge PATH`.
    """
    from spark_lsp.config import spark_home
    from spark_lsp.memory.admin import export_memory
    from spark_lsp.memory.store import LocalSources

    _, trusted = _team()
    sources = LocalSources(
        cards_dirs=list(cards_dirs), learned=learned, outcomes=outcomes, snippets=snippets,
        suppress={s.partition("=")[0].strip().upper(): s.partition("=")[2].strip()
                  for s in suppress},
        unsuppress=[c.upper() for c in unsuppress], drop=[c.upper() for c in drop])
    report = export_memory(spark_home(), path, trusted, sources, base=base)
    for note in report.notes:
        click.echo(f"warning: {note}", err=True)
    counts = ", ".join(f"{n} {k}" for k, n in report.memory.counts().items())
    click.echo(f"exported {path}: {counts} (digest {report.digest[:16]})")


@memory.command("verify")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--contribution", is_flag=True,
              help="Also accept a contribution signed by its author (from `spark memory sync`).")
@_fail_on_memory_errors
def memory_verify(path: Path, contribution: bool) -> None:
    """Check a memory file: limits, structure, signature by a trusted admin key, every card,
    and a time limit per rule. Exit 0 when it can be used, 2 (with the reason) when not."""
    from spark_lsp.config import spark_home
    from spark_lsp.memory import rollback
    from spark_lsp.memory.verify import verify_file

    _, trusted = _team()
    verified = verify_file(path, trusted, allow_contribution=contribution)
    rollback.check(spark_home(), verified.file)  # older than the version accepted here
    click.echo(f"OK {verified.summary()}")


@memory.command("import")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--wait", type=click.FloatRange(min=0), default=10.0, show_default=True,
              help="Seconds to wait for another process that holds the knowledge base.")
@_fail_on_memory_errors
def memory_import(path: Path, wait: float) -> None:
    """Verify a team memory and load it into the knowledge base (cards with source 'memory',
    outcomes counted once per trace id, team suppressions). Editors pick up the team file by
    themselves; this is for the CLI, the agent and the learning loop."""
    from spark_lsp.config import spark_home
    from spark_lsp.memory.store import import_memory
    from spark_lsp.memory.verify import verify_file

    _, trusted = _team()
    verified = verify_file(path, trusted)
    report = import_memory(verified, spark_home(), timeout=wait)
    for note in report.notes:
        click.echo(f"warning: {note}", err=True)
    click.echo(f"imported {path}: {report.summary()}")


@memory.command("merge")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--into", "into", type=click.Path(dir_okay=False, path_type=Path),
              help="The team memory to merge into (default: [tool.spark.memory] path).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the result here instead of replacing the team memory.")
@click.option("--keep-inbox", is_flag=True,
              help="Leave merged and rejected inbox files where they are.")
@_fail_on_memory_errors
def memory_merge(path: Path, into: Path | None, output: Path | None, keep_inbox: bool) -> None:
    """Merge a memory file, a contribution, or a folder of them (the inbox) into the team
    memory, and sign the result with your key. Deterministic: outcomes count once per trace id,
    deletions are tombstones, a card edited on both sides keeps the newer admin-signed version
    and the other is recorded as a conflict."""
    from spark_lsp.config import spark_home
    from spark_lsp.memory.admin import merge_into

    settings, trusted = _team()
    target = into or (Path(settings.memory_path) if settings.memory_path else None)
    if target is None:
        click.echo("error: no team memory: pass --into FILE or set [tool.spark.memory] path",
                   err=True)
        sys.exit(2)
    report = merge_into(spark_home(), path, target, trusted, output=output,
                        file_inbox=not keep_inbox)
    for note in report.notes:
        click.echo(f"warning: {note}", err=True)
    for rejected, reason in report.rejected:
        click.echo(f"warning: {reason}", err=True)
    for c in report.conflicts:
        click.echo(f"conflict: {c.code} version {c.hash[:12]} ({c.updated}) lost to a concurrent "
                   "edit; recorded in the memory")
    if report.memory is None:
        click.echo("error: nothing to merge", err=True)
        sys.exit(2)
    counts = ", ".join(f"{n} {k}" for k, n in report.memory.counts().items())
    state = "written" if report.changed else "unchanged"
    click.echo(f"{report.target} {state}: merged {len(report.merged)} file(s); {counts}")
    if report.rejected:
        sys.exit(2)


@memory.command("diff")
@click.argument("a", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("b", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@_fail_on_memory_errors
def memory_diff(a: Path, b: Path, fmt: str) -> None:
    """What changes from memory A to memory B: cards, outcomes, suppressions, tombstones."""
    from spark_lsp.memory.format import read_memory
    from spark_lsp.memory.report import diff, diff_text

    _, trusted = _team()
    fa = read_memory(a, trusted, require_trusted=False)
    fb = read_memory(b, trusted, require_trusted=False)
    d = diff(fa.memory, fb.memory)
    click.echo(json.dumps(d.to_dict(), indent=2) if fmt == "json" else diff_text(d, fa, fb),
               nl=fmt == "json")


@memory.command("stats")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@_fail_on_memory_errors
def memory_stats(path: Path, fmt: str) -> None:
    """What a memory file holds: signer, cards (in use / awaiting review), outcomes per card,
    users, suppressions, tombstones, conflicts."""
    from spark_lsp.memory.format import read_memory
    from spark_lsp.memory.report import stats, stats_text

    _, trusted = _team()
    s = stats(read_memory(path, trusted, require_trusted=False), trusted)
    click.echo(json.dumps(s.to_dict(), indent=2) if fmt == "json" else stats_text(s),
               nl=fmt == "json")


@memory.command("sync")
@click.option("--inbox", type=click.Path(file_okay=False, path_type=Path),
              help="The admin's inbox folder (default: [tool.spark.memory] inbox, else inbox/ "
                   "beside the team memory).")
@click.option("--dry-run", is_flag=True, help="Print what would be shared; write nothing.")
@click.option("--snippets", is_flag=True, help="Also share redacted code windows.")
@_fail_on_memory_errors
def memory_sync(inbox: Path | None, dry_run: bool, snippets: bool) -> None:
    """Share this machine's learned experience with the team: print what will be shared, then
    write it, signed with your key, to the admin's inbox for the next `spark memory merge`."""
    from spark_lsp.config import spark_home
    from spark_lsp.memory.sync import default_inbox, plan_sync, write_sync

    settings, _ = _team()
    folder = inbox or default_inbox(settings.memory_path, settings.memory_inbox)
    if folder is None:
        click.echo("error: no inbox: pass --inbox DIR or set [tool.spark.memory] path or inbox",
                   err=True)
        sys.exit(2)
    plan = plan_sync(spark_home(), folder, snippets=snippets)
    if plan.created_key:
        click.echo(f"created your signing key ({plan.signer})", err=True)
    for note in plan.notes:
        click.echo(f"warning: {note}", err=True)
    click.echo(plan.describe())
    if dry_run:
        click.echo("dry run: nothing written")
        return
    click.echo(f"written {write_sync(plan, spark_home())}")


# -- the learning loop: thin commands over spark_lsp.learning (text layout: learning/display.py)

@cli.command("learn")
@click.option("--dry-run", is_flag=True, help="Show what would be learned; write nothing.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.option("--verbose", "verbose", is_flag=True, help="Also list clusters of one trace.")
@click.option("--wait", type=click.FloatRange(min=0), default=10.0, show_default=True,
              help="Seconds to wait for another process that holds the file.")
@_fail_on_kb_errors
def learn_command(dry_run: bool, fmt: str, verbose: bool, wait: float) -> None:
    """Curate the team's traces into candidate cards.

    Clusters the before/after pairs (organic rewrites, corrections) by edit shape, generalizes
    each cluster into an ast-grep pattern and rewrite, verifies it on every example, and keeps
    it only with enough support (traces, users), a high enough acceptance (Wilson bound), no
    duplicate card, and no security or leakage card firing on its rewrite. Candidates wait for
    `spark cards review`. Expires learned cards nobody confirms. One transaction.
    """
    from spark_lsp.agent.llm import LLMConfig
    from spark_lsp.config import load_settings
    from spark_lsp.learning import LearnConfig, learn
    from spark_lsp.learning.display import learn_text

    llm = LLMConfig.from_settings(load_settings(Path.cwd()).llm)  # [tool.spark.llm]
    report = learn(config=LearnConfig.load(workspace=Path.cwd()), dry_run=dry_run, timeout=wait,
                   llm=llm)
    for note in report.notes:
        click.echo(f"warning: {note}", err=True)
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(learn_text(report, verbose=verbose), nl=False)


@cli.group()
def cards() -> None:
    """The team's learned cards."""


@cards.command("review")
@click.option("--promote", "promote_code", metavar="CODE", help="Make a candidate live.")
@click.option("--drop", "drop_code", metavar="CODE",
              help="Retire a learned card (it is not proposed again).")
@click.option("--edit", "edit_code", metavar="CODE",
              help="Edit a learned card as YAML (in $EDITOR, or from --file).")
@click.option("--file", "edit_file", type=click.File("r"),
              help="With --edit: the new card (YAML or JSON) instead of an editor.")
@click.option("--restore", "restore_code", metavar="CODE",
              help="Show a demoted or hidden card again (older rejections stop counting).")
@click.option("--all", "show_all", is_flag=True, help="List retired cards too.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@_fail_on_kb_errors
def cards_review(promote_code: str | None, drop_code: str | None, edit_code: str | None,
                 edit_file: TextIO | None, restore_code: str | None, show_all: bool,
                 fmt: str) -> None:
    """List learned cards (candidates first) with their support, or promote, edit, drop or
    restore one. Exit 2 when the action cannot be done (no such card, an invalid edit)."""
    from spark_lsp.learning import review
    from spark_lsp.learning.display import review_text

    actions = [a for a in (promote_code, drop_code, edit_code, restore_code) if a]
    if len(actions) > 1:
        raise click.UsageError("give one of --promote, --drop, --edit, --restore")
    if promote_code:
        review.promote(promote_code)
        click.echo(f"{promote_code.upper()} promoted: editors use it from their next start")
    elif drop_code:
        review.drop(drop_code)
        click.echo(f"{drop_code.upper()} dropped (retired; kept in the knowledge base)")
    elif edit_code:
        current = {i.code: i for i in review.list_learned(include_retired=True)}
        item = current.get(edit_code.upper())
        if item is None:
            click.echo(f"error: no learned card {edit_code.upper()}", err=True)
            sys.exit(2)
        text = edit_file.read() if edit_file else click.edit(review.card_yaml(item.body),
                                                              extension=".yaml")
        if text is None:
            click.echo("not changed")
            return
        review.edit(edit_code, text)
        click.echo(f"{edit_code.upper()} updated")
    elif restore_code:
        review.restore(restore_code)
        click.echo(f"{restore_code.upper()} restored: only outcomes from now on count")
    else:
        items = review.list_learned(include_retired=show_all)
        if fmt == "json":
            click.echo(json.dumps([{k: v for k, v in asdict(i).items() if k != "body"}
                                   for i in items], indent=2, ensure_ascii=False))
        else:
            click.echo(review_text(items), nl=False)


def main() -> None:
    try:
        cli(standalone_mode=True)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
