"""The README's two commands are what CI runs: command two verbatim as the last line of .ci/run, command one
verbatim by .ci/readme_command_one.py under Debian's python3 (PEP 668), and both keep to a venv."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("readme_command_one", ROOT / ".ci" / "readme_command_one.py")
assert spec and spec.loader
step = importlib.util.module_from_spec(spec)
spec.loader.exec_module(step)


def test_ci_runs_command_two_as_written() -> None:
    """.ci/run ends with README command two, character for character, after the command-one step."""
    lines = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")]
    assert lines[-1] == step.readme_command(2)
    assert lines[-2] == "python3 .ci/readme_command_one.py"


def test_both_commands_install_into_a_venv() -> None:
    """Neither command asks the system's python3 to pip install (PEP 668 refuses it); the first runs the example."""
    for n in (1, 2):
        line = step.readme_command(n)
        assert line.startswith("python3 -m venv .venv && . .venv/bin/activate && pip install ")
        assert not re.search(r"python3 -m pip install|sudo|--user|--break-system-packages", line)
    assert step.readme_command(1).endswith("tracking-monitor --config config.example.toml run")


def test_the_unit_runs_what_the_readme_installs() -> None:
    """The system unit's ExecStart is the venv the README's service section makes; a bad watchlist (exit 2) is
    not restarted forever."""
    readme = (ROOT / "README.md").read_text()
    unit = (ROOT / "systemd" / "tracking-monitor.service").read_text()
    exe = re.search(r"^ExecStart=(\S+)", unit, re.M)
    assert exe and exe.group(1) == "/opt/tracking-monitor/bin/tracking-monitor"
    assert "sudo python3 -m venv /opt/tracking-monitor && sudo /opt/tracking-monitor/bin/pip install ." in readme
    for path in ("tracking-monitor.service", "user/tracking-monitor.service"):
        assert re.search(r"^RestartPreventExitStatus=2$", (ROOT / "systemd" / path).read_text(), re.M), path


def test_license_is_the_one_pyproject_names() -> None:
    """pyproject says MIT; the LICENSE file is the MIT text."""
    assert 'license = { text = "MIT" }' in (ROOT / "pyproject.toml").read_text()
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")
