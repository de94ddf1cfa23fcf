"""The `spark` command: thin click commands over the library (no logic beyond parse and print)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from spark_lsp import __version__


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


def main() -> None:
    try:
        cli(standalone_mode=True)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
