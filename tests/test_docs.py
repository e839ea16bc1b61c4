"""The README documents every command and every setting; this fails when one is added without it."""

from __future__ import annotations

import click

from monitor.cli import cli
from monitor.settings import SETTINGS
from tests.conftest import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")


def _command_paths(group: click.Group, prefix: str = "monitor"):
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            yield from _command_paths(command, path)
        else:
            yield path, command


def _row_for(path: str) -> str | None:
    """The README table row that documents a command (its first cell starts with the command)."""
    for line in README.splitlines():
        if line.startswith(f"| `{path}"):
            return line
    return None


def test_every_command_and_its_options_are_documented():
    missing = []
    for path, command in _command_paths(cli):
        row = _row_for(path)
        if row is None:
            missing.append(path)
            continue
        for param in command.params:
            if isinstance(param, click.Option) and not any(f"`{opt}" in row for opt in param.opts):
                missing.append(f"{path} {param.opts[0]}")
    assert missing == [], f"not in README.md: {missing}"


def test_every_setting_and_its_environment_variable_are_documented():
    missing = [s.name for s in SETTINGS if f"`{s.name}`" not in README or s.env_name not in README]
    assert missing == [], f"settings not in README.md: {missing}"


def test_the_quick_start_is_the_two_make_commands():
    assert "make run" in README and "make test" in README
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "\nrun:" in makefile and "\ntest:" in makefile
    assert "make test" in (REPO_ROOT / ".ci" / "run").read_text()
