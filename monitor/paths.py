"""The one place that decides where the watchlist, the state and the secrets are, for every command.

A normal user gets the XDG paths; root, `--system` (which sets $TRACKING_MONITOR_SYSTEM) and the service get the
service's paths, so `sudo tracking-monitor status` reads what the running service writes.
"""
from __future__ import annotations

import atexit
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

APP = "tracking-monitor"
SYSTEM_CONFIG_DIR = Path("/etc") / APP
SYSTEM_STATE_DIR = Path("/var/lib") / APP
# Where README's service section puts the files that the unit's LoadCredential(Encrypted)= lines name.
SYSTEM_CREDENTIALS_DIR = SYSTEM_CONFIG_DIR / "credentials"
SYSTEM_ENV = "TRACKING_MONITOR_SYSTEM"
DEMO_STATE = "demo"  # a demo watchlist's state lives apart, in this subdirectory of the default state directory


@dataclass(frozen=True)
class Place:
    """A path and why it was chosen."""

    path: Path | None
    why: str


@dataclass(frozen=True)
class Paths:
    """Where this command finds its files, each with its reason."""

    system: bool
    mode_why: str
    config: Place
    state: Place
    secrets: Place

    def state_for(self, state_dir: Path | None, demo: bool) -> Place:
        """The state directory for a loaded watchlist: its own `state_dir`, else the default (a demo's apart)."""
        if state_dir is not None:
            return Place(state_dir, "[monitor].state_dir in the watchlist")
        assert self.state.path is not None
        if demo:
            return Place(self.state.path / DEMO_STATE, f"{self.state.why}, in {DEMO_STATE}/: the watchlist is a demo "
                                                       "(shift_dates_from), kept apart from a real one")
        return self.state


def system_mode(env: Mapping[str, str], euid: int) -> tuple[bool, str]:
    """Whether the service's paths apply, and why."""
    chosen = env.get(SYSTEM_ENV, "").strip().lower()
    if chosen in ("1", "yes", "true"):
        return True, "--system (or $TRACKING_MONITOR_SYSTEM=1)"
    if chosen in ("0", "no", "false"):
        return False, "$TRACKING_MONITOR_SYSTEM=0: the XDG paths, even for root"
    if euid == 0:
        return True, "running as root: the service's paths"
    return False, "a normal user: the XDG paths"


def resolve(cli_config: Path | None = None, env: Mapping[str, str] | None = None, euid: int | None = None) -> Paths:
    """The paths for this process: the command line first, then the environment, then the mode's defaults."""
    env = os.environ if env is None else env
    system, mode_why = system_mode(env, os.geteuid() if euid is None else euid)
    home = Path(env.get("HOME") or os.path.expanduser("~"))
    return Paths(system, mode_why, _config(cli_config, env, system, home), _state(env, system, home),
                 _secrets(env, system))


def _config(cli: Path | None, env: Mapping[str, str], system: bool, home: Path) -> Place:
    if cli is not None:
        return Place(cli, "--config")
    if found := env.get("TRACKING_MONITOR_CONFIG"):
        return Place(Path(found), "$TRACKING_MONITOR_CONFIG")
    if system:
        if found := env.get("CONFIGURATION_DIRECTORY"):
            return Place(Path(found.split(":")[0]) / "config.toml", "$CONFIGURATION_DIRECTORY (systemd)")
        return Place(SYSTEM_CONFIG_DIR / "config.toml", "the service's watchlist")
    base = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
    return Place(base / APP / "config.toml", "the user's watchlist ($XDG_CONFIG_HOME or ~/.config)")


def _state(env: Mapping[str, str], system: bool, home: Path) -> Place:
    if found := env.get("STATE_DIRECTORY"):
        return Place(Path(found.split(":")[0]), "$STATE_DIRECTORY (systemd)")
    if system:
        return Place(SYSTEM_STATE_DIR, "the service's state directory")
    base = Path(env.get("XDG_STATE_HOME") or home / ".local" / "state")
    return Place(base / APP, "the user's state directory ($XDG_STATE_HOME or ~/.local/state)")


def _secrets(env: Mapping[str, str], system: bool) -> Place:
    for name in ("TRACKING_MONITOR_SECRETS_DIR", "CREDENTIALS_DIRECTORY"):
        if (found := env.get(name)) and Path(found).is_dir():
            return Place(Path(found), f"${name}")
    if system and SYSTEM_CREDENTIALS_DIR.is_dir():
        return Place(SYSTEM_CREDENTIALS_DIR, "where the unit's LoadCredential= lines read them")
    return Place(None, "none: only TRACKING_MONITOR_<NAME> variables")


def missing_config_hint(paths: Paths) -> str:
    """What to do when the watchlist is not where this command looked."""
    if not paths.system and (SYSTEM_CONFIG_DIR / "config.toml").is_file():
        return (f"the service's watchlist is {SYSTEM_CONFIG_DIR / 'config.toml'}: run the command with sudo "
                "or --system, or give --config PATH")
    here = paths.config.path
    return f"copy config.example.toml there (mkdir -p {here.parent if here else '…'}), or give --config PATH"


def read_secret_file(folder: Path, name: str) -> tuple[str | None, str]:
    """A secret from `folder`: the plain file `name`, else `name.cred` decrypted by systemd-creds; with why not."""
    plain, sealed = folder / name, folder / f"{name}.cred"
    try:
        if plain.is_file():
            return plain.read_text(encoding="utf-8").strip() or None, f"{plain} is empty"
        if not sealed.is_file():
            return None, f"no file {name} in {folder}"
    except OSError as exc:
        return None, f"cannot read {plain}: {exc.strerror or exc}"
    try:  # an encrypted credential: only root, on the machine that sealed it, can open it
        done = subprocess.run(["systemd-creds", "decrypt", f"--name={name}", str(sealed), "-"],
                              capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"{sealed} is encrypted and systemd-creds could not open it ({exc})"
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["failed"])[-1]
        return None, f"{sealed} is encrypted and systemd-creds could not open it: {reason}"
    return done.stdout.strip() or None, f"{sealed} is empty"


def hand_back(directory: Path) -> None:
    """Root working in another user's state directory (the service's): the files it creates there go to that
    user when the process ends, or the service could no longer write its own state."""
    try:
        owner = directory.stat()
    except OSError:
        return
    if os.geteuid() != 0 or owner.st_uid == 0:
        return

    def give() -> None:
        for path in (directory, *directory.rglob("*")):
            try:
                if path.lstat().st_uid == 0:
                    os.chown(path, owner.st_uid, owner.st_gid, follow_symlinks=False)
            except OSError:  # gone meanwhile, or not ours to change: nothing more to do for it
                pass

    atexit.register(give)
