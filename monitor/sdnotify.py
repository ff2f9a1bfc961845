"""systemd's notify protocol: one datagram to $NOTIFY_SOCKET per state change (READY=1, WATCHDOG=1, …)."""
from __future__ import annotations

import logging
import os
import socket
import time

log = logging.getLogger("tracking_monitor")


class Notifier:
    """Sends sd_notify messages; does nothing when not started by systemd (no $NOTIFY_SOCKET)."""

    def __init__(self, address: str | None = None) -> None:
        address = address if address is not None else os.environ.get("NOTIFY_SOCKET", "")
        # A leading "@" names a socket in the abstract namespace.
        self.address = "\0" + address[1:] if address.startswith("@") else address
        self.sock: socket.socket | None = None
        if self.address:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    @property
    def enabled(self) -> bool:
        """True under systemd."""
        return self.sock is not None

    def send(self, *fields: str) -> None:
        """One datagram with the given KEY=VALUE lines; a failure is logged, never raised."""
        if self.sock is None:
            return
        try:
            self.sock.sendto("\n".join(fields).encode(), self.address)
        except OSError as exc:
            log.debug("sd_notify %s failed: %s", fields, exc)

    def ready(self, status: str = "") -> None:
        """READY=1, with a STATUS= line when given."""
        self.send("READY=1", *([f"STATUS={status}"] if status else []))

    def reloading(self) -> None:
        """RELOADING=1; MONOTONIC_USEC lets newer systemd tell this reload from an older one."""
        self.send("RELOADING=1", f"MONOTONIC_USEC={time.monotonic_ns() // 1000}")

    def stopping(self) -> None:
        """STOPPING=1."""
        self.send("STOPPING=1")

    def status(self, text: str) -> None:
        """STATUS=: the line `systemctl status` shows."""
        self.send(f"STATUS={text}")

    def watchdog(self) -> None:
        """WATCHDOG=1: the service is alive."""
        self.send("WATCHDOG=1")

    def close(self) -> None:
        """Close the socket."""
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def watchdog_interval() -> float | None:
    """Half of WatchdogSec (from $WATCHDOG_USEC) when the watchdog is meant for this process, else None."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return int(usec) / 1_000_000 / 2
    except ValueError:
        return None
