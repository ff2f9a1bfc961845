"""Every command's --help: flags show no type, and every option's help text reads as written (Typer's rich
markup once ate "[monitor]" out of "(default: [monitor].language)")."""
from __future__ import annotations

import re

import pytest
import typer
from typer.testing import CliRunner

from monitor.cli import cli

GROUP = typer.main.get_command(cli)
COMMANDS = [[], *([name] for name in GROUP.commands)]  # type: ignore[attr-defined]


def _help(args: list[str]) -> str:
    result = CliRunner().invoke(cli, [*args, "--help"], env={"COLUMNS": "220", "TERMINAL_WIDTH": "220"})
    assert result.exit_code == 0, result.output
    return result.output


def _flat(text: str) -> str:
    """Help text without the box drawing and line wrapping, so a sentence can be found whole."""
    return re.sub(r"\s+", " ", re.sub(r"[│╭╮╰╯─]", " ", text)).strip()


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: a[0] if a else "tracking-monitor")
def test_help_shows_no_bool_type_and_every_help_text_whole(args: list[str]) -> None:
    """No `<bool>` beside a flag; each option's and argument's help appears as written, brackets included."""
    text = _help(args)
    command = GROUP.commands[args[0]] if args else GROUP  # type: ignore[attr-defined]
    assert "<bool>" not in text
    assert not re.search(r"\(default: \.", text)  # a "[section]" eaten as markup leaves "(default: .key)"
    flat = _flat(text)
    for param in command.params:
        if getattr(param, "help", None):
            assert _flat(param.help) in flat, (param.name, param.help)


def test_report_help_names_its_defaults() -> None:
    """`report --help` says where the language comes from and which formats and extensions it knows."""
    flat = _flat(_help(["report"]))
    assert "(default: the watchlist's language)" in flat
    assert "md, html, json or pdf" in flat and ".pdf" in flat
