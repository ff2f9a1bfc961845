#!/usr/bin/env python3
"""Runs the README's first command verbatim, as a newcomer would: in a fresh copy of the checkout, as a normal
user, with a `python3` that refuses `pip install` outside a venv (PEP 668, as Debian's does). It passes when the
daemon prints the example's urgent alert and stops cleanly on Ctrl-C."""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEBIAN_PYTHON = Path("/usr/bin/python3")
EXPECTED = "[URGENT]"  # the example's "Buyer protection ends in 3 days" and its kin: alerts reached the terminal
LIMIT = 900.0  # seconds for the venv, the install from the package registry and the first alerts


def readme_command(n: int) -> str:
    """The n-th line (1 or 2) of the README's first code block."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```sh\n(.*?)```", text, re.S)
    assert block, "README.md has no ```sh block"
    return block.group(1).strip().splitlines()[n - 1]


def refuses_pip(python: Path) -> str:
    """Why `python` refuses pip outside a venv, or exits: the check means nothing with a Python that allows it."""
    done = subprocess.run([str(python), "-m", "pip", "install", "--dry-run", "--no-deps", "six"],
                          capture_output=True, text=True, check=False)
    if "externally-managed-environment" not in done.stdout + done.stderr:
        sys.exit(f"{python} does not refuse `pip install` outside a venv (PEP 668); this check needs one that does "
                 "(Debian's python3 with its EXTERNALLY-MANAGED file)")
    return "error: externally-managed-environment"


def newcomer(home: Path) -> tuple[list[str], dict[str, str]]:
    """How to run a shell line as a normal user (nobody, when we are root) with Debian's python3 first on PATH."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8", "TERM": "dumb"}
    if os.geteuid() == 0:
        for path in (home.parent, *home.parent.rglob("*")):
            os.chown(path, 65534, 65534, follow_symlinks=False)
        # setpriv keeps our environment (runuser would reset HOME to nobody's /nonexistent).
        setpriv = shutil.which("setpriv") or "/usr/bin/setpriv"
        return [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-c"], env
    return ["sh", "-c"], env


def main() -> int:
    """Copy the checkout, run command one, wait for alerts, press Ctrl-C, check it stopped cleanly."""
    line = readme_command(1)
    why = refuses_pip(DEBIAN_PYTHON)
    print(f"{DEBIAN_PYTHON} outside a venv: {why}")
    with tempfile.TemporaryDirectory(prefix="readme-one-") as tmp:
        clone, home = Path(tmp) / "tracking-monitor", Path(tmp) / "home"
        home.mkdir()
        files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
        for name in filter(None, files.decode().split("\0")):
            if (ROOT / name).is_file():
                (clone / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / name, clone / name)
        prefix, env = newcomer(home)
        print(f"$ {line}", flush=True)
        proc = subprocess.Popen([*prefix, line], cwd=clone, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
        seen: list[str] = []
        errors: list[str] = []
        threading.Thread(target=lambda: errors.extend(proc.stderr or ()), daemon=True).start()
        deadline = time.monotonic() + LIMIT
        timer = threading.Timer(LIMIT, lambda: os.killpg(proc.pid, signal.SIGKILL))
        timer.start()
        for out in proc.stdout or ():
            seen.append(out)
            if EXPECTED in out:
                break
        timer.cancel()
        if not any(EXPECTED in s for s in seen):
            proc.kill()
            print("".join(seen[-30:]) + "".join(errors[-30:]), file=sys.stderr)
            return fail(f"no {EXPECTED} alert within {LIMIT:.0f} s" if time.monotonic() >= deadline
                        else f"the command ended (exit {proc.wait()}) before any {EXPECTED} alert")
        time.sleep(2)  # the rest of the first cycle's alerts
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C, as the README says
        try:
            code = proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            return fail("Ctrl-C did not stop the daemon within 60 s")
        log = "".join(errors)
        alerts = sum(s.startswith("[") for s in seen)
        # The shell around the daemon may die of the same SIGINT (-2); the daemon itself must say "stopped".
        if code not in (0, 130, -signal.SIGINT) or "stopped" not in log or "Traceback" in log:
            print(log[-4000:], file=sys.stderr)
            return fail(f"the daemon did not stop cleanly on Ctrl-C (exit {code})")
    print(f"ok: README command one ran verbatim; {alerts} alerts printed up to the first urgent one; "
          "stopped cleanly on Ctrl-C")
    return 0


def fail(message: str) -> int:
    """One line saying what went wrong."""
    print(f"README command one failed: {message}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
