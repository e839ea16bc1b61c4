"""The command-line and settings reference, generated from the commands' own `--help` and the settings table.

`python -m monitor.reference > docs/cli.md` (or `make docs`) rewrites docs/cli.md; tests/test_docs.py fails
when the file in the repository differs from what this produces, so the reference cannot go stale.
"""

from __future__ import annotations

import click

from monitor.settings import SETTINGS

HEADER = """# Command-line reference

Generated from the commands' `--help` by `make docs` (`python -m monitor.reference > docs/cli.md`); do not
edit by hand. Every command accepts the global options shown under `monitor`, given before the command name.
"""


def _commands(group: click.Group, path: str):
    yield path, group
    for name in sorted(group.commands):
        command = group.commands[name]
        sub_path = f"{path} {name}"
        if isinstance(command, click.Group):
            yield from _commands(command, sub_path)
        else:
            yield sub_path, command


# As the group declares them; click caches each command's help option once made, so the contexts built here
# must say the same or the text would depend on whether a command ran before in this process.
HELP_OPTION_NAMES = ["-h", "--help"]


def _help_text(command: click.Command, path: str) -> str:
    parent = None
    for part in path.split()[:-1]:
        parent = click.Context(click.Command(part), info_name=part, parent=parent,
                               help_option_names=HELP_OPTION_NAMES)
    ctx = click.Context(command, info_name=path.split()[-1], parent=parent, terminal_width=100,
                        max_content_width=100, help_option_names=HELP_OPTION_NAMES)
    return command.get_help(ctx)


def settings_reference() -> str:
    lines = ["## Settings", "",
             "Precedence: built-in defaults < settings file (`monitor.toml` or `--config FILE`) < `MONITOR_*` "
             "environment variables < `--set NAME=VALUE` flags. `monitor config` prints the effective values.", "",
             "| setting | environment variable | type | default | what it does |", "|---|---|---|---|---|"]
    for setting in SETTINGS:
        default = "(secret)" if setting.secret else f"`{setting.default}`" if setting.default not in (None, "") else ""
        help_text = setting.help.replace("|", "\\|")
        lines.append(f"| `{setting.name}` | `{setting.env_name}` | {setting.type} | {default} | {help_text} |")
    return "\n".join(lines) + "\n"


def cli_reference() -> str:
    from monitor.cli import cli

    parts = [HEADER]
    for path, command in _commands(cli, "monitor"):
        parts.append(f"## `{path}`\n\n```text\n{_help_text(command, path).rstrip()}\n```\n")
    parts.append(settings_reference())
    return "\n".join(parts)


if __name__ == "__main__":
    print(cli_reference(), end="")
