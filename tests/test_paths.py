"""Where the commands find the watchlist, the state and the secrets: a user's XDG paths, the service's for root
and --system; `paths` says which and why; read-only commands go on without a secret they cannot read."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from monitor import paths
from monitor.cli import cli
from monitor.paths import SYSTEM_CREDENTIALS_DIR, read_secret_file, resolve

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config.example.toml"
NOW = "2026-11-21T10:00"
HOME = Path("/home/ana")
ETC = Path("/etc/tracking-monitor")

RESOLVE = [
    # (id, environment, euid, cli config, expected config, expected state)
    ("user", {}, 1000, None, HOME / ".config/tracking-monitor/config.toml", HOME / ".local/state/tracking-monitor"),
    ("user-xdg", {"XDG_CONFIG_HOME": "/x/c", "XDG_STATE_HOME": "/x/s"}, 1000, None,
     Path("/x/c/tracking-monitor/config.toml"), Path("/x/s/tracking-monitor")),
    ("root", {}, 0, None, ETC / "config.toml", Path("/var/lib/tracking-monitor")),
    ("system-flag", {"TRACKING_MONITOR_SYSTEM": "1"}, 1000, None, ETC / "config.toml", Path("/var/lib/tracking-monitor")),
    ("root-as-user", {"TRACKING_MONITOR_SYSTEM": "0"}, 0, None, HOME / ".config/tracking-monitor/config.toml",
     HOME / ".local/state/tracking-monitor"),
    ("service", {"CONFIGURATION_DIRECTORY": "/etc/tm", "STATE_DIRECTORY": "/var/lib/tm", "TRACKING_MONITOR_SYSTEM": "1"},
     61234, None, Path("/etc/tm/config.toml"), Path("/var/lib/tm")),
    ("cli-wins", {"TRACKING_MONITOR_CONFIG": "/env.toml"}, 0, Path("cli.toml"), Path("cli.toml"),
     Path("/var/lib/tracking-monitor")),
    ("env-config", {"TRACKING_MONITOR_CONFIG": "/env.toml"}, 1000, None, Path("/env.toml"),
     HOME / ".local/state/tracking-monitor"),
]


@pytest.mark.parametrize(("env", "euid", "cli_config", "config", "state"), [r[1:] for r in RESOLVE],
                         ids=[r[0] for r in RESOLVE])
def test_one_rule_for_every_command(env: dict[str, str], euid: int, cli_config: Path | None, config: Path,
                                    state: Path) -> None:
    """The watchlist and the state by who runs the command, with the command line and systemd's variables first."""
    found = resolve(cli_config, {"HOME": str(HOME), **env}, euid)
    assert (found.config.path, found.state.path) == (config, state)
    assert found.config.why and found.state.why and found.mode_why


@pytest.fixture
def user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A normal user's home: XDG paths under tmp_path, no secrets anywhere."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / ".config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / ".state"))
    for var in ("TRACKING_MONITOR_CONFIG", "TRACKING_MONITOR_NOTIFY_URLS", "TRACKING_MONITOR_SECRETS_DIR",
                "CREDENTIALS_DIRECTORY", "STATE_DIRECTORY", "CONFIGURATION_DIRECTORY", "TRACKING_MONITOR_PHONE_URL"):
        monkeypatch.delenv(var, raising=False)
    # The hint for a missing watchlist looks for the service's: this machine's /etc must not decide the test.
    monkeypatch.setattr(paths, "SYSTEM_CONFIG_DIR", tmp_path / "etc/tracking-monitor")
    return tmp_path


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args))


def test_a_desktop_user_needs_no_config_flag(user: Path) -> None:
    """The watchlist in ~/.config is found without -c; `paths` names it, the state and why."""
    missing = invoke("validate")
    assert missing.exit_code == 2
    assert f"{user / '.config/tracking-monitor/config.toml'}: no such file" in missing.stderr
    assert "copy config.example.toml there" in missing.stderr
    (user / ".config/tracking-monitor").mkdir(parents=True)
    shutil.copy(EXAMPLE, user / ".config/tracking-monitor/config.toml")
    assert invoke("validate").exit_code == 0
    shown = json.loads(invoke("paths", "--json").stdout)
    assert shown["mode"] == "user" and shown["config"]["exists"]
    assert shown["config"]["path"] == str(user / ".config/tracking-monitor/config.toml")
    assert shown["state"]["path"] == str(user / ".state/tracking-monitor/demo")  # the example is a demo
    assert "demo" in shown["state"]["why"] and shown["secrets"]["notify_urls"]["found"] is False
    lines = invoke("paths").stdout
    assert "mode     user" in lines and "state    " + str(user / ".state/tracking-monitor/demo") in lines


def test_a_user_beside_the_service_is_told_to_use_sudo(user: Path) -> None:
    """No watchlist of their own but the service's exists: the hint says how to reach the service's."""
    (user / "etc/tracking-monitor").mkdir(parents=True)
    shutil.copy(EXAMPLE, user / "etc/tracking-monitor/config.toml")
    missing = invoke("status")
    assert missing.exit_code == 2
    assert f"the service's watchlist is {user / 'etc/tracking-monitor/config.toml'}: run the command with sudo" \
        in missing.stderr


def test_the_demo_keeps_its_state_apart_and_says_why_a_second_run_is_quiet(user: Path, tmp_path: Path) -> None:
    """The example's state goes to demo/, a real watchlist's beside it; a second check says "nothing new", how many
    alerts went out and where the demo's state is."""
    first = invoke("-c", str(EXAMPLE), "check", "--record", "--now", NOW)
    assert first.exit_code == 0 and first.stdout.count("\n[") + first.stdout.startswith("[") == 17
    assert (user / ".state/tracking-monitor/demo/state.sqlite3").is_file()
    assert not (user / ".state/tracking-monitor/state.sqlite3").exists()
    again = invoke("-c", str(EXAMPLE), "check", "--record", "--now", NOW)
    assert again.exit_code == 0 and "[" not in again.stdout.split("`")[0]
    assert "nothing new: 17 alerts about these orders went out before" in again.stdout
    assert f"tracking-monitor -c {EXAMPLE} status" in again.stdout
    assert f"in {user / '.state/tracking-monitor/demo'}: remove that folder" in again.stdout
    real = tmp_path / "real.toml"
    real.write_text('[[orders]]\nid = "A"\nordered_on = 2026-11-01\nprotection_ends = 2026-11-23\n')
    invoke("-c", str(real), "check", "--record", "--now", NOW)
    assert (user / ".state/tracking-monitor/state.sqlite3").is_file()
    quiet = invoke("-c", str(real), "check", "--record", "--now", NOW).stdout
    assert "nothing new: 2 alerts about these orders went out before" in quiet and "remove that folder" not in quiet


def test_check_now_is_a_preview_unless_record(user: Path) -> None:
    """`check --now` next week shows what comes then and records nothing, so the real alert still comes on its day;
    a demo's dates stay at today's for it; --record records."""
    assert invoke("-c", str(EXAMPLE), "check").exit_code == 0  # today, for real
    week = (datetime.now(UTC) + timedelta(days=7)).date().isoformat()
    ahead = invoke("-c", str(EXAMPLE), "check", "--now", week)
    assert ahead.exit_code == 0
    assert "order 8181000000000006: Buyer protection has ended, parcel not delivered" in ahead.stdout
    assert "[URGENT] (preview at " in ahead.stdout
    assert invoke("-c", str(EXAMPLE), "check", "--now", week).stdout == ahead.stdout  # nothing was recorded
    assert "nothing new" in invoke("-c", str(EXAMPLE), "check").stdout
    recorded = invoke("-c", str(EXAMPLE), "check", "--record", "--now", NOW, "--json")
    assert recorded.exit_code == 0 and json.loads(recorded.stdout)  # the demo's dates move with --record
    usage = invoke("-c", str(EXAMPLE), "check", "--record")
    assert usage.exit_code == 2 and "--record goes with --now" in usage.stderr


SECRET_DEST = '[[notify.destinations]]\nname = "phone"\nurl_secret = "phone_url"\n\n'
ORDER = '[[orders]]\nid = "A"\nordered_on = 2026-11-01\nprotection_ends = 2026-11-23\n'


@pytest.mark.parametrize(("args", "code"), [
    (("validate",), 0), (("status",), 0), (("report", "A"), 0), (("outbox",), 0), (("detect", "LP00123456789012"), 0),
    (("paths",), 0), (("check", "--now", NOW), 0), (("check", "--now", NOW, "--dry-run"), 0),
    (("check",), 2), (("check", "--record", "--now", NOW), 2), (("notify-test",), 2),
], ids=lambda v: " ".join(v) if isinstance(v, tuple) else str(v))
def test_a_secret_that_cannot_be_read_stops_only_commands_that_send(user: Path, args: tuple[str, ...],
                                                                    code: int) -> None:
    """Read-only commands warn once, naming the file:line and the secret, and go on; sending ones exit 2."""
    cfg = user / "w.toml"
    cfg.write_text(SECRET_DEST + ORDER)
    result = invoke("-c", str(cfg), *args)
    assert result.exit_code == code, result.output
    assert f'{cfg}:3: notify.destinations[0].url_secret: no secret "phone_url"' in result.stderr
    if code == 0 and args[0] != "paths":
        assert "this command goes on without destination 'phone'" in result.stderr


def test_secrets_from_files_plain_and_encrypted(tmp_path: Path) -> None:
    """A credential file is read as it is; a `.cred` one is opened with systemd-creds (sealed here with a null key,
    as a machine without a TPM allows); a missing one says where it was looked for."""
    (tmp_path / "plain").write_text("ntfy://ntfy.sh/plain\n")
    assert read_secret_file(tmp_path, "plain")[0] == "ntfy://ntfy.sh/plain"
    assert read_secret_file(tmp_path, "nope") == (None, f"no file nope in {tmp_path}")
    if not shutil.which("systemd-creds"):
        if os.environ.get("CI"):
            pytest.fail("systemd-creds is missing; .ci/run installs systemd", pytrace=False)
        pytest.skip("systemd-creds is not installed")
    subprocess.run(["systemd-creds", "encrypt", "--with-key=tpm2-absent", "--name=sealed", "-",
                    str(tmp_path / "sealed.cred")], input="ntfy://ntfy.sh/sealed\n", text=True, check=True,
                   capture_output=True)
    assert read_secret_file(tmp_path, "sealed")[0] == "ntfy://ntfy.sh/sealed"
    (tmp_path / "broken.cred").write_bytes(b"not a credential")
    value, why = read_secret_file(tmp_path, "broken")
    assert value is None and "is encrypted and systemd-creds could not open it" in why


def test_system_mode_reads_the_units_credentials_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    """With --system, secrets come from /etc/tracking-monitor/credentials when there is no $CREDENTIALS_DIRECTORY."""
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.delenv("TRACKING_MONITOR_SECRETS_DIR", raising=False)
    monkeypatch.setattr(Path, "is_dir", lambda self: self == SYSTEM_CREDENTIALS_DIR)
    assert resolve(None, {"TRACKING_MONITOR_SYSTEM": "1"}, 1000).secrets.path == SYSTEM_CREDENTIALS_DIR
    assert resolve(None, {}, 1000).secrets.path is None


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can hand files to another user")
def test_root_beside_the_service_leaves_the_state_to_its_owner(tmp_path: Path) -> None:
    """Files root creates in a state directory owned by the service's user end up owned by that user."""
    state = tmp_path / "state"
    state.mkdir()
    os.chown(state, 65534, 65534)
    cfg = tmp_path / "w.toml"
    cfg.write_text(f'[monitor]\nstate_dir = "{state}"\n\n' + ORDER)
    done = subprocess.run([sys.executable, "-m", "monitor", "-c", str(cfg), "status"], capture_output=True, text=True,
                          env={**os.environ, "TRACKING_MONITOR_SYSTEM": "1"})
    assert done.returncode == 0, done.stderr
    made = list(state.rglob("*"))
    assert made and all(p.lstat().st_uid == 65534 for p in made), [(p.name, p.lstat().st_uid) for p in made]
