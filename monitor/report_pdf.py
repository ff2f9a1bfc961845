"""The evidence report as a PDF: its HTML page printed by a headless Chromium (or Chrome) found on PATH."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from monitor.errors import ToolMissing, WriteError

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
TIMEOUT = 120.0  # a cold start on a Raspberry Pi takes tens of seconds; past this it is stuck
NO_BROWSER = (f"--format pdf prints the report with Chromium, and none of {', '.join(BROWSERS)} is on PATH: install "
              "it (Debian, Ubuntu, Raspberry Pi OS: sudo apt install chromium), or use --format html and the "
              "browser's Print > Save as PDF")
# Print once and quit, touching nothing outside the fresh profile: no network, no updates, no first-run pages.
_FLAGS = ("--headless", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
          "--disable-component-update", "--disable-sync", "--no-pdf-header-footer")


def find_browser() -> str | None:
    """The first of BROWSERS on PATH."""
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


def print_pdf(html: str, timeout: float = TIMEOUT) -> bytes:
    """The PDF of an HTML page (A4, by its own print rules); ToolMissing without a browser, WriteError if it fails."""
    browser = find_browser()
    if browser is None:
        raise ToolMissing(NO_BROWSER)
    with tempfile.TemporaryDirectory(prefix="tracking-monitor-pdf-") as tmp:
        page, pdf = Path(tmp, "report.html"), Path(tmp, "report.pdf")
        page.write_text(html, encoding="utf-8")
        # Chromium's sandbox refuses to start as root; for anyone else it stays on.
        sandbox = ("--no-sandbox",) if os.geteuid() == 0 else ()
        args = [browser, *_FLAGS, *sandbox, f"--user-data-dir={Path(tmp, 'profile')}", f"--print-to-pdf={pdf}",
                page.as_uri()]
        try:
            proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                    start_new_session=True)  # its own group: a stuck browser goes with its helpers
        except OSError as exc:
            raise WriteError(f"{browser}: cannot start: {exc.strerror or exc}") from None
        try:
            _, err = proc.communicate(timeout=timeout)
        except BaseException as exc:  # stuck, or Ctrl-C (which its own group does not get): it goes too
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            if isinstance(exc, subprocess.TimeoutExpired):
                raise WriteError(f"{browser} did not print the PDF within {timeout:g} s; nothing was written") from None
            raise
        data = pdf.read_bytes() if pdf.exists() else b""
    if proc.returncode != 0 or not data.startswith(b"%PDF-"):  # a browser that failed may leave half a file
        lines = [line for line in err.decode("utf-8", "replace").splitlines() if line.strip()]
        why = f": {lines[-1][:200]}" if lines else ""
        raise WriteError(f"{browser} made no PDF (exit {proc.returncode}){why}; nothing was written")
    return data
