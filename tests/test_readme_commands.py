"""The README's two commands are what CI runs: command two verbatim as the last line of .ci/run, command one
verbatim by .ci/readme_command_one.py under Debian's python3 (PEP 668), and both keep to a venv."""
from __future__ import annotations

import importlib.util
import re
import subprocess
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


def _shell_lines() -> list[str]:
    """Every command line of the README's ```sh blocks, comments removed."""
    blocks = re.findall(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)
    return [line.split("  #")[0].strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_every_readme_pip_install_goes_into_a_venv() -> None:
    """No line of the README asks the system's python3 or pip to install (PEP 668 refuses it on Debian)."""
    installs = [line for line in _shell_lines() if "pip install" in line]
    assert installs, "the README has install lines"
    for line in installs:
        assert not re.search(r"(^|&& )(sudo )?(python3 -m pip|pip3?) install", line.split(". .venv/bin/activate")[0]), line


def test_the_desktop_venv_line_links_the_command_in_a_new_home(tmp_path: Path) -> None:
    """The user service's venv alternative, after its pip install, runs in a home with no ~/.local/bin yet and
    leaves `tracking-monitor` there."""
    [line] = [x for x in (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
              if "~/.local/share/tracking-monitor/bin/pip install ." in x]
    rest = line.split("~/.local/share/tracking-monitor/bin/pip install . && ", 1)[1]
    venv_exe = tmp_path / ".local/share/tracking-monitor/bin/tracking-monitor"
    venv_exe.parent.mkdir(parents=True)
    venv_exe.write_text("#!/bin/sh\n")
    done = subprocess.run(["bash", "-c", rest], env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / ".local/bin/tracking-monitor").resolve() == venv_exe
