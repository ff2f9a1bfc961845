"""add / set / remove / archive: every byte outside the changed lines is kept; bad input changes nothing."""
from __future__ import annotations

import os
import stat
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.daemon import Daemon
from tests.helpers import invoke

# A watchlist as a person writes it: comments everywhere, aligned values, an indented sub-table,
# a list over several lines, a commented-out key, a comment block above a header.
HAND = """\
# My parcels. Keep this file tidy!
[monitor]
timezone = "UTC"        # I live in Lisbon, close enough
state_dir = "STATE"

[rules]
protection_warn = [
  "7d",   # a week ahead
  "2d",
]

# ---- AliExpress ----
[[orders]]                       # the hub
id = "A1"
shop = "AliExpress"
ordered_on = 2026-11-02
tracking = "LP00123456789012"    # given on the 5th
protection_ends = 2026-12-16     # extended once already
  [orders.dispute]
  opened_on = 2026-12-10          # after the seller stopped answering

# A gift for Léa: do not let it slip
[[orders]]
id = "B2"
ordered_on = 2026-11-05
promised_by = 2026-12-01
delivered_on = 2026-12-03
# refund_window = "15d"   (not sure yet)

[[orders]]
id = "C3"  # Temu
ordered_on = 2026-11-07

# end of the list
"""


def lines_of(text: str) -> list[str]:
    return text.split("\n")


@pytest.fixture
def watchlist(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(HAND.replace("STATE", str(tmp_path / "state")), encoding="utf-8")
    return path


# (name, command, numbers of HAND's lines that change or go, the line the new lines follow, the new lines,
#  a check of the parsed result)
EDITS = [
    ("set an existing date keeps its comment and column",
     ["set", "A1", "protection_ends=2026-12-23"], [18], 17, ["protection_ends = 2026-12-23     # extended once already"],
     lambda d: d["orders"][0]["protection_ends"].isoformat() == "2026-12-23"),
    ("new keys go after the order's last key, not after the next order's comment",
     ["set", "C3", "tracking=lp 0012 3456 7890 99", "promised_by=2026-12-20"], [], 32,
     ['tracking = "lp 0012 3456 7890 99"', "promised_by = 2026-12-20"],
     lambda d: d["orders"][2]["promised_by"].isoformat() == "2026-12-20"),
    ("a new key goes before a commented-out key below the order",
     ["set", "B2", "refund_window=15d"], [], 27, ['refund_window = "15d"'],
     lambda d: d["orders"][1]["refund_window"] == "15d"),
    ("a dotted key goes into the existing indented sub-table",
     ["set", "A1", "dispute.wait_until=2026-12-20"], [], 20, ["  wait_until = 2026-12-20"],
     lambda d: d["orders"][0]["dispute"]["wait_until"].isoformat() == "2026-12-20"),
    ("a dotted key creates the sub-table, indented like the other one, after the order's own keys",
     ["set", "C3", "dispute.opened_on=2026-12-01", "seller_contacted_on=2026-11-28"], [], 32,
     ["seller_contacted_on = 2026-11-28", "  [orders.dispute]", "  opened_on = 2026-12-01"],
     lambda d: d["orders"][2]["dispute"]["opened_on"].isoformat() == "2026-12-01"),
    ("an empty value removes the key's line",
     ["set", "B2", "delivered_on="], [27], 26, [], lambda d: "delivered_on" not in d["orders"][1]),
    ("a list given with commas, and a date-time, before the sub-table",
     ["set", "A1", "protection_warn=5d, 2d", "tracking_since=2026-11-05T18:30"], [], 18,
     ['protection_warn = ["5d", "2d"]', "tracking_since = 2026-11-05T18:30:00"],
     lambda d: d["orders"][0]["protection_warn"] == ["5d", "2d"]),
    ("archive adds archived = true",
     ["archive", "C3"], [], 32, ["archived = true"], lambda d: d["orders"][2]["archived"] is True),
    ("remove takes the comment block above the order and its commented-out key, not the neighbours' comments",
     ["remove", "B2"], list(range(22, 30)), 0, [], lambda d: [o["id"] for o in d["orders"]] == ["A1", "C3"]),
    ("remove takes the comment directly above the header, and the blank line after the order",
     ["remove", "A1"], list(range(12, 22)), 0, [], lambda d: [o["id"] for o in d["orders"]] == ["B2", "C3"]),
    ("remove the last order keeps the file's closing comment",
     ["remove", "C3"], list(range(30, 34)), 0, [], lambda d: [o["id"] for o in d["orders"]] == ["A1", "B2"]),
    ("add appends an entry after everything, the last comment kept",
     ["add", "D4", "--ordered-on", "2026-11-20", "--tracking", "DEMO-TRANSIT", "--shop", "Temu", "--item",
      'Lamp "XL"', "--promised-by", "2026-12-12", "--protection-ends", "2026-12-30", "--carrier", "demo"], [], 34,
     ["", "[[orders]]", 'id = "D4"', 'shop = "Temu"', 'item = "Lamp \\"XL\\""', "ordered_on = 2026-11-20",
      'tracking = "DEMO-TRANSIT"', 'carrier = "demo"', "promised_by = 2026-12-12", "protection_ends = 2026-12-30"],
     lambda d: d["orders"][3]["item"] == 'Lamp "XL"'),
]


@pytest.mark.parametrize(("name", "args", "gone", "after", "came", "check"), EDITS, ids=[e[0] for e in EDITS])
def test_edit_keeps_everything_else(watchlist: Path, name: str, args: list[str], gone: list[int], after: int,
                                    came: list[str], check) -> None:  # type: ignore[no-untyped-def]
    """The file is exactly the old one with the expected lines gone and the new ones in: every other line,
    comments included, is kept byte for byte."""
    old = watchlist.read_text(encoding="utf-8")
    result = invoke(watchlist, *args)
    assert result.exit_code == 0, result.output
    kept = [(i, line) for i, line in enumerate(lines_of(old), 1) if i not in gone]
    expected = [line for i, line in kept if i <= after] + came + [line for i, line in kept if i > after]
    new = watchlist.read_text(encoding="utf-8")
    assert lines_of(new) == expected
    assert check(tomllib.loads(new))
    assert (watchlist.parent / "config.toml.bak").read_text(encoding="utf-8") == old
    assert invoke(watchlist, "validate").exit_code == 0


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["set", "A1", "protection_ends=16/12/2026"], "orders[0].protection_ends: expected a date like 2026-12-16"),
        (["set", "A1", "protection_end=2026-12-16"], 'unknown key "protection_end" for an order; did you mean '
                                                     '"protection_ends"?'),
        (["set", "A1", "dispute.wait_until=2026-12-01"], "orders[0].dispute.wait_until: 2026-12-01 is before opened_on"),
        (["set", "A1", "tracking=LP/123"], "orders[0].tracking"),
        (["set", "A1", "archived=maybe"], "orders[0].archived: expected true or false"),
        (["set", "A1", "refund_window=two weeks"], "orders[0].refund_window: expected a duration"),
        (["set", "A1", "id=Z9"], "the id cannot be changed"),
        (["set", "A1", "tracking"], "expected KEY=VALUE"),
        (["set", "A1", "shop=x", "shop=y"], "shop: is given twice"),
        (["set", "A11", "shop=x"], 'no order with id "A11"; closest: "A1"'),
        (["set", "A1", "ordered_on="], "orders[0].ordered_on: required, but missing"),
        (["add", "B2", "--ordered-on", "2026-11-20"], '"B2" is already the id of orders[1]'),
        (["add", "E5", "--ordered-on", "yesterday"], "orders[3].ordered_on: expected a date"),
        (["add", "E5", "--ordered-on", "2026-11-20", "--carrier", "demo2"], 'unknown carrier "demo2"; did you mean "demo"?'),
        (["add", "E5"], "Missing option '--ordered-on'"),
        (["remove", "X"], 'no order with id "X"'),
        (["archive", "c3"], 'closest: "C3"'),
    ],
)
def test_bad_edit_changes_nothing(watchlist: Path, args: list[str], says: str) -> None:
    """Malformed input: exit 2, the problem named, the file and its directory untouched."""
    before = watchlist.read_bytes()
    result = invoke(watchlist, *args)
    assert result.exit_code == 2, result.output
    assert says in result.output
    assert watchlist.read_bytes() == before
    assert sorted(p.name for p in watchlist.parent.iterdir()) == ["config.toml"]


def test_dry_run_shows_the_diff_and_writes_nothing(watchlist: Path) -> None:
    """--dry-run prints the unified diff only."""
    before = watchlist.read_bytes()
    result = invoke(watchlist, "set", "A1", "protection_ends=2026-12-23", "--dry-run")
    assert result.exit_code == 0
    assert "-protection_ends = 2026-12-16     # extended once already" in result.output
    assert "+protection_ends = 2026-12-23     # extended once already" in result.output
    assert watchlist.read_bytes() == before and not (watchlist.parent / "config.toml.bak").exists()


def test_crlf_bom_mode_and_symlink_are_kept(tmp_path: Path) -> None:
    """A Windows-saved file stays CRLF with its BOM; the mode stays; a symlinked watchlist stays a symlink."""
    real = tmp_path / "dotfiles" / "watchlist.toml"
    real.parent.mkdir()
    real.write_bytes(b"\xef\xbb\xbf" + HAND.replace("STATE", str(tmp_path / "s")).replace("\n", "\r\n").encode())
    real.chmod(0o640)
    link = tmp_path / "config.toml"
    link.symlink_to(real)
    for args in (["set", "C3", "tracking=DEMO-TRANSIT"], ["add", "D4", "--ordered-on", "2026-11-20"],
                 ["remove", "B2"]):
        assert invoke(link, *args).exit_code == 0
    data = real.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and b"\n" not in data.replace(b"\r\n", b"")
    assert stat.S_IMODE(real.stat().st_mode) == 0o640 and link.is_symlink()
    assert [o["id"] for o in tomllib.loads(data.decode("utf-8-sig"))["orders"]] == ["A1", "C3", "D4"]
    assert (real.parent / "watchlist.toml.bak").exists()


async def test_daemon_picks_up_an_edit_even_of_the_same_size_and_time(watchlist: Path) -> None:
    """`set` saves by rename: the daemon sees the new file though its size and mtime equal the old one's."""
    daemon = Daemon(watchlist, lambda: datetime(2026, 11, 21, 10, tzinfo=UTC))
    try:
        before = watchlist.stat()
        assert invoke(watchlist, "set", "A1", "protection_ends=2026-12-23").exit_code == 0
        os.utime(watchlist, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert watchlist.stat().st_size == before.st_size
        await daemon.watch_file()
        assert daemon.app.watchlist.order("A1").protection_ends.isoformat() == "2026-12-23"
    finally:
        daemon.store.close()
