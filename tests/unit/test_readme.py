"""The README documents every command, and starts with the two set-up commands."""

from pathlib import Path

import click

from spark_lsp.cli import cli

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def _commands(group: click.Group, prefix: str = "spark") -> list[str]:
    out = []
    for name, cmd in group.commands.items():
        if cmd.hidden:
            continue
        full = f"{prefix} {name}"
        if isinstance(cmd, click.Group):
            out += _commands(cmd, full)
        else:
            out.append(full)
    return out


def test_every_command_is_in_the_readme():
    missing = []
    for command in _commands(cli):
        *group, leaf = command.split()
        group_text = " ".join(group)
        # `spark traces list|export` documents several subcommands of one group at once
        if command not in README and not any(
            line for line in README.splitlines()
            if group_text in line and (f"{leaf}|" in line or f"|{leaf}" in line or f"\\|{leaf}" in line)
        ):
            missing.append(command)
    assert not missing, f"commands missing from README.md: {missing}"


def test_readme_starts_with_the_two_commands():
    block = README.split("```bash", 1)[1].split("```", 1)[0].strip().splitlines()
    assert len(block) == 2
    assert "spark check examples/" in block[0]
    assert block[1].strip() == "python -m pytest"
    ci = (Path(__file__).resolve().parents[2] / ".ci" / "run").read_text()
    assert "python -m pytest" in ci
