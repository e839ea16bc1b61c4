"""The documentation stays true: the CLI reference is regenerated from `--help` and must match the file in the
repository, every command and option explains itself, and the README stays a short front door whose links work."""

from __future__ import annotations

import re

import click

from monitor.cli import cli
from monitor.reference import cli_reference
from monitor.settings import SETTINGS
from tests.conftest import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
REFERENCE = REPO_ROOT / "docs" / "cli.md"


def _command_paths(group: click.Group, prefix: str = "monitor"):
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        yield path, command
        if isinstance(command, click.Group):
            yield from _command_paths(command, path)


def test_the_cli_reference_is_generated_and_current():
    assert REFERENCE.read_text(encoding="utf-8") == cli_reference(), (
        "docs/cli.md is stale: run `make docs` (python -m monitor.reference > docs/cli.md)")


def test_every_command_and_option_explains_itself():
    reference = REFERENCE.read_text(encoding="utf-8")
    missing = []
    for path, command in _command_paths(cli):
        if f"## `{path}`" not in reference:
            missing.append(path)
        if not (command.help or "").strip():
            missing.append(f"{path}: no help text")
        for param in command.params:
            if isinstance(param, click.Option) and not (param.help or "").strip():
                missing.append(f"{path} {param.opts[0]}: no help text")
    assert missing == []


def test_every_setting_and_its_environment_variable_are_documented():
    reference = REFERENCE.read_text(encoding="utf-8")
    missing = [s.name for s in SETTINGS if f"`{s.name}`" not in reference or s.env_name not in reference]
    assert missing == [], f"settings not in docs/cli.md: {missing}"


def test_the_readme_is_a_short_front_door_with_working_links():
    assert "make run" in README and "make test" in README
    assert len(README.splitlines()) <= 250
    for target in re.findall(r"\]\((?!https?://|#)([^)#]+)", README):
        assert (REPO_ROOT / target).exists(), f"README links to {target}, which does not exist"
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "\nrun:" in makefile and "\ntest:" in makefile
    assert "make test" in (REPO_ROOT / ".ci" / "run").read_text()
