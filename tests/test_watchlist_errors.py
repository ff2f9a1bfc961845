"""A broken watchlist as a user meets it through `tracking-monitor validate`: exit 2, one line per mistake,
each naming file:line (and the field), saying what was expected, and never a traceback."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from monitor.cli import cli
from monitor.watchlist import load_watchlist

ORDER = '[[orders]]\nid = "A1"\nordered_on = 2026-11-10\n'  # lines 1-3; a case's own lines start at 4
DEST = '[[notify.destinations]]\nname = "phone"\n'  # lines 1-2
# Every message says what was wanted, in one of these ways.
SAYS_WHAT = ("expected", "did you mean", "belongs in")


@pytest.fixture(autouse=True)
def wl_isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No setting from the machine running the tests leaks into `validate`."""
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))
    for var in ("TRACKING_MONITOR_CONFIG", "TRACKING_MONITOR_NOTIFY_URLS", "TRACKING_MONITOR_SECRETS_DIR",
                "CREDENTIALS_DIRECTORY"):
        monkeypatch.delenv(var, raising=False)


def bad(case_id: str, content: str | bytes, where: str, field: str | None, *expect: str):  # type: ignore[no-untyped-def]
    """One malformed watchlist: `where` is "LINE" or "LINE:COL"; `field` is the field path, None for syntax errors."""
    return pytest.param(content, [(where, field, expect)], id=case_id)


CASES = [
    # --- TOML syntax: file:line:column, no field
    bad("unclosed-string", '[monitor]\nlanguage = "en\n', "2:15", None,
        "TOML syntax error", 'a quoted text is not closed: expected a closing "'),
    bad("unclosed-multiline-string", ORDER + 'item = """Phone case\n\nshop = "x"\n', "4", None,
        "TOML syntax error", "never closed", "expected its closing quote"),
    bad("missing-equals", '[monitor]\ntimezone "UTC"\n', "2:10", None, 'expected "=" after the key'),
    bad("duplicate-key", '[monitor]\nlanguage = "en"\nlanguage = "fr"\n', "3:16", None,
        '"language" is given twice', "expected each key only once"),
    bad("duplicate-table", '[monitor]\nlanguage = "en"\n[rules]\n[monitor]\n', "4:9", None,
        "the table [monitor] appears twice"),
    bad("bad-table-header", '[monitor\nlanguage = "en"\n', "1:9", None, 'expected "]" at its end, like [monitor]'),
    bad("bad-array-header", '[[orders]\nid = "A1"\n', "1:9", None, 'expected "]]"'),
    bad("invalid-date-literal", ORDER + "promised_by = 2026-13-45\n", "4:19", None,
        "invalid date 2026-13-45", "expected a date like 2026-12-16"),
    bad("impossible-date-literal", ORDER + "promised_by = 2026-02-30\n", "4:15", None, "invalid date"),
    bad("date-with-slashes-unquoted", '[[orders]]\nid = "A1"\nordered_on = 16/12/2026\n', "3:16", None,
        "invalid date 16/12/2026", "expected a date like 2026-12-16"),
    bad("bare-word", "[monitor]\nlanguage = en\n", "2:12", None, 'expected text in quotes, like language = "en"'),
    bad("unquoted-duration", '[rules]\nstalled_after = 7 days\n', "2:19", None,
        "expected the end of the line", "in quotes"),
    bad("backslash-in-path", '[monitor]\nstate_dir = "C:\\Users\\me"\n', "2:18", None, "backslash", "single quotes"),
    bad("unclosed-list-at-end", '[notify]\nurls = ["ntfy://ntfy.sh/a",\n', "2", None,
        "ends in the middle of a value", 'expected a closing "]"'),
    # --- what the file is made of
    bad("binary-garbage", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe\x00", "3", None,
        "binary data", "expected a TOML text file"),
    bad("not-utf8", '[[orders]]\nid = "A1"\nshop = "Caf\xe9"\n'.encode("latin-1"), "3:12", None,
        "not UTF-8 text (byte 0xe9)", "save the file as UTF-8"),
    bad("utf16", '[monitor]\nlanguage = "fr"\n'.encode("utf-16"), "1", None, "is UTF-16 text, expected UTF-8"),
    # --- orders: ids and required keys
    bad("empty-id", '[[orders]]\nid = "  "\nordered_on = 2026-11-10\n', "2", "orders[0].id",
        "must not be empty", "expected the marketplace's order number"),
    bad("missing-id", '[[orders]]\nordered_on = 2026-11-10\n', "1", "orders[0].id",
        "required, but missing", 'expected id = "..."'),
    bad("missing-ordered-on", ORDER + '[[orders]]\nid = "B2"\nshop = "Temu"\n', "4", "orders[1].ordered_on",
        "required, but missing", "expected ordered_on = 2026-12-16"),
    bad("duplicate-order-id", ORDER + '\n[[orders]]\nid = "A1"\nordered_on = 2026-11-12\n', "6", "orders[1].id",
        '"A1" is already the id of orders[0]', "expected each order's id only once"),
    bad("duplicate-id-int-and-text", '[[orders]]\nid = 8181\nordered_on = 2026-11-10\n'
        '[[orders]]\nid = "8181"\nordered_on = 2026-11-10\n', "5", "orders[1].id", '"8181" is already the id'),
    # --- unknown keys, with a suggestion
    bad("unknown-top-key", ORDER.replace("[[orders]]", "[[order]]"), "1", "order",
        "unknown table [[order]]", "did you mean [[orders]]?"),
    bad("unknown-top-table", '[monitr]\nlanguage = "en"\n', "1", "monitr",
        "unknown table [monitr]", "did you mean [monitor]?"),
    bad("unknown-monitor-key", '[monitor]\ntimezon = "Europe/Paris"\n', "2", "monitor.timezon",
        'unknown key "timezon"', 'did you mean "timezone"?'),
    bad("unknown-rules-key", '[rules]\nstaled_after = "7d"\n', "2", "rules.staled_after",
        'did you mean "stalled_after"?'),
    bad("unknown-order-key", ORDER + "promised_on = 2026-12-01\n", "4", "orders[0].promised_on",
        'unknown key "promised_on"', 'did you mean "promised_by"?'),
    bad("unknown-dispute-key", ORDER + "[orders.dispute]\nopened = 2026-11-20\n", "5", "orders[0].dispute.opened",
        'did you mean "opened_on"?'),
    bad("unknown-notify-key", '[notify]\nurl = ["ntfy://ntfy.sh/x"]\n', "2", "notify.url", 'did you mean "urls"?'),
    bad("order-key-below-dispute", ORDER + "[orders.dispute]\nopened_on = 2026-11-20\nprotection_ends = 2026-12-30\n",
        "6", "orders[0].dispute.protection_ends", "belongs in [[orders]]", "move it above that line"),
    bad("monitor-key-in-rules", '[rules]\ntimezone = "Europe/Paris"\n', "2", "rules.timezone", "belongs in [monitor]"),
    bad("unknown-key-with-newline", '"bad\\nkey" = 1\n', "1", "bad\\nkey", 'unknown key "bad\\nkey"', "expected one of"),
    bad("unknown-key-no-close-match", '[notify]\nzzz = 1\n', "2", "notify.zzz", "expected one of: urls"),
    # --- wrong types
    bad("id-as-table", '[[orders]]\nordered_on = 2026-11-10\n[orders.id]\nnumber = "A1"\n', "3", "orders[0].id",
        'expected the order number, like id = "8181000000000001"', "got a table"),
    bad("id-as-float", '[[orders]]\nid = 12.5\nordered_on = 2026-11-10\n', "2", "orders[0].id", "got 12.5"),
    bad("language-as-number", '[monitor]\nlanguage = 3\n', "2", "monitor.language", 'expected "en" or "fr", got 3'),
    bad("language-unknown", '[monitor]\nlanguage = "de"\n', "2", "monitor.language", 'expected "en" or "fr", got "de"'),
    bad("urls-not-a-list", '[notify]\nurls = "ntfy://ntfy.sh/topic"\n', "2", "notify.urls",
        'expected a list like ["ntfy://ntfy.sh/topic"]'),
    bad("orders-as-table", '[orders]\nid = "A1"\nordered_on = 2026-11-10\n', "1", "orders",
        "each starting with a [[orders]] line", "got a table"),
    bad("order-not-a-table", 'orders = ["A1"]\n', "1", "orders[0]", "expected a table like [[orders]]", 'got "A1"'),
    bad("monitor-not-a-table", 'monitor = "Europe/Paris"\n', "1", "monitor", "expected a table like [monitor]"),
    bad("dispute-not-a-table", ORDER + 'dispute = "open"\n', "4", "orders[0].dispute",
        "expected a table like [orders.dispute]"),
    bad("shop-as-number", ORDER + "shop = 42\n", "4", "orders[0].shop", "expected text in quotes, got 42"),
    bad("holiday-shift-not-bool", '[rules]\nholiday_shift = "sometimes"\n', "2", "rules.holiday_shift",
        "expected true or false"),
    bad("state-dir-number", '[monitor]\nstate_dir = 5\n', "2", "monitor.state_dir", "expected a folder path in quotes"),
    # --- durations
    bad("duration-bare-number-text", '[rules]\nstalled_after = "7"\n', "2", "rules.stalled_after",
        'expected a duration like "7d"', 'got "7"'),
    bad("duration-in-words", '[rules]\nstalled_after = "7 days"\n', "2", "rules.stalled_after", 'got "7 days"'),
    bad("duration-unquoted-int", '[rules]\nstalled_after = 7\n', "2", "rules.stalled_after", "in quotes, got 7"),
    bad("duration-negative", '[rules]\nstalled_after = "-3d"\n', "2", "rules.stalled_after", "cannot be negative"),
    bad("duration-bad-unit", '[rules]\npromised_grace = "7x"\n', "2", "rules.promised_grace", 'got "7x"'),
    bad("protection-warn-repeats", '[rules]\nprotection_warn = ["7d", "3d", "3d"]\n', "2", "rules.protection_warn",
        '"3d" is given twice', "expected each step only once"),
    bad("protection-warn-not-a-list", '[rules]\nprotection_warn = "3d"\n', "2", "rules.protection_warn",
        'expected a list like ["7d", "3d", "1d"]'),
    bad("protection-warn-bad-step", '[rules]\nprotection_warn = ["3d", "soon"]\n', "2", "rules.protection_warn[1]",
        'got "soon"'),
    bad("poll-interval-too-short", '[monitor]\npoll_interval = "1m"\n', "2", "monitor.poll_interval",
        'expected at least "5m"', 'got "1m"'),
    # --- [monitor] values
    bad("shift-dates-from-words", '[monitor]\nshift_dates_from = "yesterday"\n', "2", "monitor.shift_dates_from",
        "expected a date like 2026-12-16", 'got "yesterday"'),
    bad("timezone-typo", '[monitor]\ntimezone = "Europe/Pari"\n', "2", "monitor.timezone",
        'unknown time zone "Europe/Pari"', 'did you mean "Europe/Paris"?'),
    bad("timezone-nonsense", '[monitor]\ntimezone = "Mars/Olympus_Mons"\n', "2", "monitor.timezone",
        'expected an IANA name like "Europe/Paris"'),
    # --- dates
    bad("date-day-first", '[[orders]]\nid = "A1"\nordered_on = "16/12/2026"\n', "3", "orders[0].ordered_on",
        "expected a date like 2026-12-16", 'got "16/12/2026"'),
    bad("date-yesterday", ORDER + 'promised_by = "yesterday"\n', "4", "orders[0].promised_by",
        "expected a date like 2026-12-16", 'got "yesterday"'),
    bad("date-a-time-only", '[[orders]]\nid = "A1"\nordered_on = 10:30:00\n', "3", "orders[0].ordered_on",
        "got 10:30:00"),
    bad("promised-by-with-time", ORDER + "promised_by = 2026-12-01T18:00:00\n", "4", "orders[0].promised_by",
        "without a time", "got 2026-12-01T18:00:00"),
    bad("promised-before-order", ORDER + "promised_by = 2026-11-01\n", "4", "orders[0].promised_by",
        "2026-11-01 is before ordered_on 2026-11-10", "expected the order date or later"),
    bad("protection-before-order", ORDER + "protection_ends = 2026-11-09T23:00:00\n", "4", "orders[0].protection_ends",
        "2026-11-09 is before ordered_on 2026-11-10"),
    bad("delivered-before-order", ORDER + "delivered_on = 2025-11-12\n", "4", "orders[0].delivered_on",
        "is before ordered_on"),
    bad("tracking-since-before-order", ORDER + 'tracking = "DEMO-TRANSIT"\ntracking_since = 2026-10-01\n', "5",
        "orders[0].tracking_since", "is before ordered_on"),
    bad("dispute-wait-before-opened", ORDER + "[orders.dispute]\nopened_on = 2026-11-20\nwait_until = 2026-11-15\n",
        "6", "orders[0].dispute.wait_until", "2026-11-15 is before opened_on 2026-11-20", "expected the same day or later"),
    bad("dispute-inline-table", ORDER + "dispute = { opened_on = 2026-11-20, wait_until = 2026-11-19 }\n",
        "4", "orders[0].dispute.wait_until", "is before opened_on"),
    # --- carriers and tracking numbers
    bad("carrier-typo", ORDER + 'carrier = "dem"\n', "4", "orders[0].carrier",
        'unknown carrier "dem"', 'did you mean "demo"?'),
    bad("carrier-unknown", ORDER + 'carrier = "royalmail"\n', "4", "orders[0].carrier",
        'expected one of: "auto", ', '"demo"'),
    bad("carriers-table-unknown", '[carriers.xyz]\napi_key = "k"\n', "1", "carriers.xyz",
        'unknown carrier "xyz"', "expected one of the installed carriers: ", "demo"),
    bad("carriers-table-typo", '[carriers.demoo]\nenabled = false\n', "1", "carriers.demoo",
        "did you mean [carriers.demo]?"),
    bad("carrier-settings-unknown-key", '[carriers.demo]\nenabeld = false\n', "2", "carriers.demo.enabeld",
        'did you mean "enabled"?'),
    bad("carrier-settings-not-a-table", '[carriers]\ndemo = "on"\n', "2", "carriers.demo",
        "expected a table like [carriers.demo]"),
    bad("tracking-illegal-characters", ORDER + 'tracking = "LP#0012$34CN"\n', "4", "orders[0].tracking",
        "cannot have (# $)", "expected 4 to 40 letters, digits or dashes"),
    bad("tracking-too-short", ORDER + 'tracking = "AB1"\n', "4", "orders[0].tracking", "is 3 characters long"),
    bad("tracking-as-number", ORDER + "tracking = 123456789\n", "4", "orders[0].tracking", "expected text in quotes"),
    # --- notifications
    bad("notify-url-without-scheme", '[notify]\nurls = ["ntfy://ntfy.sh/ok", "ntfy.sh/topic"]\n', "2", "notify.urls[1]",
        'expected an Apprise URL like "ntfy://ntfy.sh/topic"', 'no "scheme://" part'),
    bad("notify-url-unknown-service", '[notify]\nurls = ["ntfyy://ntfy.sh/topic"]\n', "2", "notify.urls[0]",
        'expected a notification service Apprise knows, not "ntfyy://"', 'did you mean "ntfy://"?'),
    bad("notify-url-incomplete", '[notify]\nurls = ["mailto://"]\n', "2", "notify.urls[0]",
        'expected a complete "mailto://" URL'),
    bad("notify-key-of-a-destination", '[notify]\nmin_severity = "urgent"\n', "2", "notify.min_severity",
        "belongs in [[notify.destinations]]"),
    bad("quiet-hours-words", '[notify]\nquiet_hours = "10pm-8am"\n', "2", "notify.quiet_hours",
        'expected hours like "22:00-08:00"', 'got "10pm-8am"'),
    bad("quiet-hours-empty-stretch", '[notify]\nquiet_hours = "08:00-08:00"\n', "2", "notify.quiet_hours",
        "expected two different times", '"off"'),
    bad("expire-after-zero", '[notify]\nexpire_after = "0m"\n', "2", "notify.expire_after",
        "expected a duration longer than zero"),
    bad("repeat-urgent-words", '[notify]\nrepeat_urgent = "daily"\n', "2", "notify.repeat_urgent",
        'expected a duration like "7d"'),
    bad("destination-without-url", DEST, "1", "notify.destinations[0]",
        "required, but missing", 'expected url = "ntfy://…" or url_secret = "phone_url"'),
    bad("destination-url-and-secret", DEST + 'url = "ntfy://ntfy.sh/x"\nurl_secret = "phone_url"\n', "4",
        "notify.destinations[0].url_secret", "expected either url or url_secret, not both"),
    bad("destination-name-with-spaces", '[[notify.destinations]]\nname = "My phone"\nurl = "ntfy://ntfy.sh/x"\n', "2",
        "notify.destinations[0].name", "expected a short name of lowercase letters", 'got "My phone"'),
    bad("destination-named-terminal", '[[notify.destinations]]\nname = "terminal"\nurl = "ntfy://ntfy.sh/x"\n', "2",
        "notify.destinations[0].name", '"terminal" is reserved'),
    bad("destination-name-twice", DEST + 'url = "ntfy://ntfy.sh/x"\n' + DEST + 'url = "ntfy://ntfy.sh/y"\n', "5",
        "notify.destinations[1].name", '"phone" is already the name of destinations[0]'),
    bad("destination-severity-unknown", DEST + 'url = "ntfy://ntfy.sh/x"\nmin_severity = "high"\n', "4",
        "notify.destinations[0].min_severity", 'expected "info", "warning" or "urgent"'),
    bad("destination-key-typo", DEST + 'url = "ntfy://ntfy.sh/x"\nmin_severty = "urgent"\n', "4",
        "notify.destinations[0].min_severty", 'did you mean "min_severity"?'),
    bad("destination-tags-as-text", DEST + 'url = "ntfy://ntfy.sh/x"\ntags = "family"\n', "4",
        "notify.destinations[0].tags", 'expected a list like ["family"]'),
    bad("destination-secret-name", DEST + 'url_secret = "Phone URL"\n', "3", "notify.destinations[0].url_secret",
        'expected a secret name of lowercase letters, digits or _', 'got "Phone URL"'),
    bad("destination-secret-reserved", DEST + 'url_secret = "config"\n', "3", "notify.destinations[0].url_secret",
        "taken by a setting"),
    bad("order-tag-typo", DEST + 'url = "ntfy://ntfy.sh/x"\ntags = ["family"]\n' + ORDER + 'notify = ["famly"]\n', "8",
        "orders[0].notify[0]", 'no destination has the tag "famly"', 'did you mean "family"?'),
    bad("order-tag-without-tagged-destinations", ORDER + 'notify = ["family"]\n', "4", "orders[0].notify[0]",
        "expected the tags of a [[notify.destinations]] entry, and none has tags"),
    # --- per-order rule overrides
    bad("override-bad-duration", ORDER + 'stalled_after = "soon"\n', "4", "orders[0].stalled_after",
        'expected a duration like "7d"', 'got "soon"'),
    bad("override-repeated-step", ORDER + 'protection_warn = ["1d", "1d"]\n', "4", "orders[0].protection_warn",
        '"1d" is given twice'),
    bad("override-typo", ORDER + 'staled_after = "3d"\n', "4", "orders[0].staled_after",
        'did you mean "stalled_after"?'),
    bad("override-not-bool", ORDER + "holiday_shift = 2\n", "4", "orders[0].holiday_shift", "expected true or false"),
    # --- line numbers survive what comes before
    bad("line-after-multiline-string", ORDER + 'item = """Lamp\n[monitor]\nlanguage = "x"\n"""\n'
        'carrier = "dem"\n', "8", "orders[0].carrier", 'did you mean "demo"?'),
    bad("crlf-error-line", '# comment\r\n[monitor]\r\nlanguage = "es"\r\n', "3", "monitor.language",
        'expected "en" or "fr", got "es"'),
    bad("bom-error-line", '\ufeff[monitor]\ntimezone = "Paris"\n', "2", "monitor.timezone", 'unknown time zone "Paris"'),
    bad("second-order-dispute", ORDER + '\n[[orders]]\nid = "B2"\nordered_on = 2026-11-12\n[orders.dispute]\n'
        "opened_on = 2026-11-25\nwait_until = 2026-11-24\n", "10", "orders[1].dispute.wait_until", "is before opened_on"),
    # --- several mistakes: every one reported, one line each, in file order
    pytest.param(
        '[monitor]\nlanguage = "de"\ntimezone = "Europe/Pari"\n'  # 1-3
        '[rules]\nstalled_after = "7"\n'  # 4-5
        '[carriers.xyz]\n'  # 6
        '[[orders]]\nid = "A1"\nordered_on = 2026-11-10\npromised_by = 2026-11-01\n'  # 7-10
        '[[orders]]\nid = "B2"\n'  # 11-12
        '[[orders]]\nid = "A1"\nordered_on = 2026-11-10\ncarrier = "nosuchpost"\n',  # 13-16
        [("2", "monitor.language", ('got "de"',)),
         ("3", "monitor.timezone", ('did you mean "Europe/Paris"?',)),
         ("5", "rules.stalled_after", ('got "7"',)),
         ("6", "carriers.xyz", ('unknown carrier "xyz"',)),
         ("10", "orders[0].promised_by", ("is before ordered_on",)),
         ("11", "orders[1].ordered_on", ("required, but missing",)),
         ("14", "orders[2].id", ('"A1" is already the id of orders[0]',)),
         ("16", "orders[2].carrier", ('unknown carrier "nosuchpost"',))],
        id="several-problems"),
    # --- protection windows: the order's payments and estimate, and [windows.<name>] overrides
    bad("paid-with-unknown", ORDER + 'paid_with = ["PayPal", "cash"]\n', "4", "orders[0].paid_with[1]",
        'expected "paypal", "card" or "marketplace", got "cash"'),
    bad("paid-with-not-a-list", ORDER + 'paid_with = 3\n', "4", "orders[0].paid_with", '["paypal", "card"]'),
    bad("estimated-delivery-before-order", ORDER + 'estimated_delivery = 2026-11-01\n', "4",
        "orders[0].estimated_delivery", "is before ordered_on 2026-11-10"),
    bad("window-unknown", '[windows.papyal]\nlength = "90d"\n', "1", "windows.papyal",
        'unknown window "papyal"; did you mean [windows.paypal]?'),
    bad("window-bad-length", '[windows.paypal]\nlength = "six months"\n', "2", "windows.paypal.length",
        'expected a duration like "7d"'),
    bad("window-bad-anchor", '[windows.ebay_money_back]\ncounted_from = ["delivery", "arrival"]\n', "2",
        "windows.ebay_money_back.counted_from[1]", '"estimated_delivery"', 'got "arrival"'),
    bad("window-unknown-key", '[windows.paypal]\nlenght = "90d"\n', "2", "windows.paypal.lenght",
        'did you mean "length"?'),
]

_LINE = re.compile(r"^error: (?P<path>.+?):(?P<where>\d+(?::\d+)?): (?P<rest>.*)$")


def _write(tmp_path: Path, content: str | bytes) -> Path:
    path = tmp_path / "watchlist.toml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def _validate(path: Path):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, ["--config", str(path), "validate"])


def _check_failure(exit_code: int, stdout: str, stderr: str, path: Path,
                   expected: list[tuple[str, str | None, tuple[str, ...]]]) -> None:
    """Exit 2, nothing on stdout, and on stderr exactly one well-formed line per expected problem."""
    assert "Traceback" not in stdout + stderr
    assert exit_code == 2, stdout + stderr
    assert stdout == ""
    lines = stderr.splitlines()
    assert len(lines) == len(expected), stderr
    for line, (where, field, expect) in zip(lines, expected, strict=True):
        m = _LINE.match(line)
        assert m, f"no file:line in {line!r}"
        assert m["path"] == str(path)
        assert m["where"] == where, line
        rest = m["rest"]
        if field is None:
            assert not rest.startswith(("orders", "monitor", "rules", "notify", "carriers")), line
        else:
            assert rest.startswith(f"{field}: "), line
        for text in expect:
            assert text in rest, f"{text!r} not in {line!r}"
        assert any(word in rest for word in SAYS_WHAT), f"does not say what was expected: {line!r}"
        assert "Input should" not in rest and "Value error" not in rest and "datetime." not in rest, line
        assert "\r" not in line


@pytest.mark.parametrize(("content", "expected"), CASES)
def test_malformed_watchlist(tmp_path: Path, content: str | bytes,
                             expected: list[tuple[str, str | None, tuple[str, ...]]]) -> None:
    """Every malformed watchlist exits 2 with one clear line per mistake, located in the file."""
    path = _write(tmp_path, content)
    result = _validate(path)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    _check_failure(result.exit_code, result.stdout, result.stderr, path, expected)


def test_there_are_enough_cases() -> None:
    """The table keeps covering a wide range of mistakes."""
    assert len(CASES) >= 35


@pytest.mark.parametrize("make", [
    pytest.param(lambda tmp: tmp / "nowhere" / "config.toml", id="missing-file"),
    pytest.param(lambda tmp: tmp, id="a-directory"),
])
def test_unreadable_path(tmp_path: Path, make) -> None:  # type: ignore[no-untyped-def]
    """A path that is not a readable file: one line naming it and what to do, exit 2."""
    path = make(tmp_path)
    result = _validate(path)
    assert result.exit_code == 2 and "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: ")
    assert "no such file (give --config PATH" in lines[0] or "is a directory, expected a TOML file" in lines[0]


@pytest.mark.parametrize("secret_place", [
    pytest.param('[notify]\nurls = "mailtos://me:hunter2secret@gmail.com"\n', id="urls-as-text"),
    pytest.param('[notify]\nurls = ["me:hunter2secret@gmail.com"]\n', id="url-without-scheme"),
    pytest.param('[notify]\nurls = ["mailtoo://me:hunter2secret@gmail.com"]\n', id="url-unknown-service"),
    pytest.param('[carriers.demo]\nenabled = "hunter2secret"\n', id="carrier-setting"),
])
def test_error_never_echoes_a_secret(tmp_path: Path, secret_place: str) -> None:
    """Notification URLs and carrier settings can hold tokens: the error names the field, not the value."""
    result = _validate(_write(tmp_path, secret_place))
    assert result.exit_code == 2, result.output
    assert "hunter2secret" not in result.output
    assert re.search(r":2: (notify\.urls(\[0\])?|carriers\.demo\.enabled): .*expected", result.stderr), result.stderr


@pytest.mark.parametrize("content", [
    pytest.param("\ufeff" + ORDER + '[monitor]\ntimezone = "Europe/Paris"\n', id="utf8-bom"),
    pytest.param((ORDER + 'tracking = "DEMO-TRANSIT"\n[monitor]\nlanguage = "fr"\n').replace("\n", "\r\n"), id="crlf"),
    pytest.param('[[orders]]\nid = 8181000000000001\nordered_on = 2026-11-10\n', id="integer-id"),
    pytest.param(ORDER + "protection_ends = 2026-11-10T00:00:00\n[orders.dispute]\nopened_on = 2026-11-10\n"
                 "wait_until = 2026-11-10\n", id="same-day-dates"),
])
def test_valid_watchlist_passes(tmp_path: Path, content: str) -> None:
    """Harmless file quirks (BOM, Windows line ends, an unquoted order number) validate with exit 0."""
    path = _write(tmp_path, content)
    result = _validate(path)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"{path}: ok, 1 order"
    assert "error" not in result.stderr


def test_integer_id_is_the_same_text_id(tmp_path: Path) -> None:
    """An unquoted marketplace order number is kept exactly, as text."""
    wl = load_watchlist(_write(tmp_path, '[[orders]]\nid = 8181000000000001\nordered_on = 2026-11-10\n'), ["demo"])
    assert wl.orders[0].id == "8181000000000001"


SCRIPT = Path(sys.executable).parent / "tracking-monitor"


@pytest.mark.skipif(not SCRIPT.exists(), reason="console script not installed beside this Python")
@pytest.mark.parametrize(("content", "expected"), [
    pytest.param(b"\x7fELF\x02\x01\x01\x00\x00\x00garbage", [("1", None, ("binary data",))], id="binary"),
    pytest.param(ORDER + 'carrier = "dem"\nstalled_after = 7\n',
                 [("4", "orders[0].carrier", ('did you mean "demo"?',)),
                  ("5", "orders[0].stalled_after", ("in quotes",))], id="validation"),
])
def test_real_console_script(tmp_path: Path, content: str | bytes,
                             expected: list[tuple[str, str | None, tuple[str, ...]]]) -> None:
    """The installed `tracking-monitor` command behaves the same: exit 2, plain lines, no traceback."""
    path = _write(tmp_path, content)
    proc = subprocess.run([str(SCRIPT), "--config", str(path), "validate"], capture_output=True, text=True,
                          timeout=60, env=dict(os.environ))  # the autouse fixture already cleaned it
    _check_failure(proc.returncode, proc.stdout, proc.stderr, path, expected)
