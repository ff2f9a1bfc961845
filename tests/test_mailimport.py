"""Orders read from marketplace mails: the corpus in tests/fixtures/mail, the extractor's rules, and `import`."""
from __future__ import annotations

import json
import mailbox
import subprocess
import sys
import tomllib
from datetime import date
from email import message_from_bytes
from email import policy as email_policy
from pathlib import Path

import pytest
from typer.testing import CliRunner

from monitor.cli import cli
from monitor.inbox import read_source
from monitor.mailimport import Mail, dates_in, extract, from_text, html_text, tracking_numbers

MAIL = Path(__file__).parent / "fixtures" / "mail"
EXPECTED = json.loads((MAIL / "expected.json").read_text(encoding="utf-8"))
TODAY = date(2026, 11, 23)  # the day the pasted text is taken to be pasted


def mails_of(name: str) -> list[Mail]:
    """The mails of one corpus file; a .txt file is pasted text."""
    path = MAIL / name
    if name.endswith(".txt"):
        return list(read_source("-", path.read_text(encoding="utf-8"), TODAY))
    return list(read_source(str(path)))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_gives_what_each_mail_says_and_nothing_else(name: str) -> None:
    """Each mail gives its orders with the right dates, item and tracking number, and no number it does not hold."""
    want = EXPECTED[name]["orders"]
    found = {o.order_id: o for m in mails_of(name) for o in extract(m).orders}
    assert set(found) == set(want)
    for oid, facts in want.items():
        order = found[oid]
        assert order.shop == EXPECTED[name]["marketplace"]
        numbers = [t.number for t in order.tracking]
        expected = facts.get("tracking")
        assert numbers == ([] if expected is None else [expected])
        for key in ("ordered_on", "promised_by", "protection_ends"):
            if key in facts or key != "ordered_on":
                assert str(getattr(order, key) or None) == str(facts.get(key)), key
        assert order.item == facts.get("item", "")


@pytest.mark.parametrize("name", ["06_temu_wrong_check_fr.eml", "14_newsletter_amazon_fr.eml"])
def test_wrong_check_digit_is_skipped_with_its_reason(name: str) -> None:
    """LT876543217FR (check digit 6 expected) is never taken; the skip says which digit was expected."""
    skipped = {s.what: s.why for m in mails_of(name) for s in extract(m).skipped}
    assert "7 where 6 was expected" in skipped["LT876543217FR"]


@pytest.mark.parametrize("text", [
    # digit runs that pass a check digit by chance, without a tracking word: never taken
    "Order number: 8181000000000009\nCoupon 123456789012 and 3318810025 and 9400100000000000000006",
    "Order number: 8181000000000009\nStore no. 00340434161094042557, call 0800 123 456 78",
    # a tracking word, but the check digit is wrong
    "Order number: 8181000000000009\nTracking number: 1234567890",
    "Order number: 8181000000000009\nTracking number: 1Z999AA10123456785",
    # a tracking word and a right check digit, but the number is the order's own id
    "Order #112-1234567-1234567\nTracking: 1121234567",
    # prefixes without a check digit need the word too; a word in capitals is not a DEMO number
    "Order number: 8181000000000009\nLP00123456789012 DEMONSTRATION",
    "Order #112-1234567-1234567\nGift card TBA502887274000",
])
def test_random_digit_runs_are_never_taken(text: str) -> None:
    """Only a format with its check digit right and a tracking word beside it (or a distinctive one) is taken."""
    got = extract(from_text(text, TODAY))
    assert [t.number for o in got.orders for t in o.tracking] == []


@pytest.mark.parametrize(("text", "number"), [
    ("Tracking number: 3318810025", "3318810025"),  # DHL Express, mod 7 right, tracking word
    ("Numéro de suivi :\n9400 1000 0000 0000 0000 06", "9400100000000000000006"),  # grouped, word on the line above
    ("Follow it <https://t.17track.net/en#nums=RB123456785CN>", "RB123456785CN"),  # S10 in a link
    ("Ship: https://www.ups.com/track?tracknum=1Z999AA10123456784", "1Z999AA10123456784"),
    ("Shipped with Amazon Logistics. Tracking ID: TBA502887274000", "TBA502887274000"),  # no check digit: the word
])
def test_numbers_are_found_with_a_reason(text: str, number: str) -> None:
    """Found anywhere, links included, each with a confidence at or above the threshold and its reason."""
    found, _ = tracking_numbers(text, set())
    assert [t.number for t in found] == [number]
    assert found[0].confidence >= 0.6 and found[0].reason


def test_html_keeps_link_targets_and_drops_styles() -> None:
    """Tracking links carry the number; a style sheet is not text."""
    text = html_text('<style>p{x:1}</style><p>Hello&nbsp;<a href="https://t.example/?n=LP1">track</a></p>')
    assert text == "Hello track <https://t.example/?n=LP1>"


@pytest.mark.parametrize(("text", "ref", "want"), [
    ("Dec 12 - Dec 20", date(2026, 11, 20), [date(2026, 12, 12), date(2026, 12, 20)]),
    ("Jan 5", date(2026, 12, 28), [date(2027, 1, 5)]),  # no year: the first such day not long before the mail
    ("12 déc. 2026", None, [date(2026, 12, 12)]),
    ("1er janvier 2027", None, [date(2027, 1, 1)]),
    ("21/11/2026", None, [date(2026, 11, 21)]),  # day first, as European mails write it
    ("2026-11-21", None, [date(2026, 11, 21)]),
    ("Tuesday, November 24", date(2026, 11, 19), [date(2026, 11, 24)]),
    ("31/02/2026", None, []),
])
def test_dates_in_english_and_french(text: str, ref: date | None, want: list[date]) -> None:
    """Dates in the shapes marketplaces write them."""
    assert dates_in(text, ref) == want


def test_forwarded_as_attachment_reads_the_attached_sender() -> None:
    """A mail forwarded as an attachment is the marketplace's: its sender and date are the attached mail's."""
    mail = mails_of("08_ebay_attached.eml")[0]
    assert "reply.ebay.com" in mail.domains and mail.sent == date(2026, 11, 24)
    assert mail.source == "mail <fwd-att-08@example.org>"


# ---------------------------------------------------------------- the command


WATCHLIST = """\
# my orders
[monitor]
timezone = "UTC"
state_dir = "STATE"

[[orders]]
id = "8181000000000002"  # the lamp
ordered_on = 2026-11-21
promised_by = 2026-12-30  # the seller promised more
"""


@pytest.fixture
def watchlist(tmp_path: Path) -> Path:
    """A watchlist with one hand-typed order and a comment on each of its lines."""
    path = tmp_path / "config.toml"
    path.write_text(WATCHLIST.replace("STATE", str(tmp_path / "state")), encoding="utf-8")
    return path


def run(path: Path, *args: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
    """`tracking-monitor --config PATH import ARGS…`."""
    return CliRunner().invoke(cli, ["--config", str(path), "import", *args], input=stdin)


def orders(path: Path) -> dict[str, dict[str, object]]:
    """The watchlist's orders by id."""
    return {o["id"]: o for o in tomllib.loads(path.read_text(encoding="utf-8"))["orders"]}


def test_order_mail_then_shipping_mail(watchlist: Path) -> None:
    """The order mail makes the order with its source; the shipping mail adds its number; the comments stay."""
    first = run(watchlist, str(MAIL / "01_aliexpress_order_en.eml"), "--json")
    assert first.exit_code == 0, first.output
    out = json.loads(first.stdout)
    assert [i["order"] for i in out["imported"]] == ["8181000000000001"]
    order = orders(watchlist)["8181000000000001"]
    assert order["source"] == "mail <ae-order-0001@notice.aliexpress.com>"
    assert order["shop"] == "AliExpress" and order["protection_ends"] == date(2027, 2, 3) and "tracking" not in order
    second = json.loads(run(watchlist, str(MAIL / "02_aliexpress_shipped_en.eml"), "--json").stdout)
    assert second["updated"] == [{"order": "8181000000000001", "shop": "AliExpress", "tracking": "LP00123456789012",
                                  "source": "mail <ae-ship-0001@notice.aliexpress.com>",
                                  "changes": ["tracking = LP00123456789012"]}]
    assert orders(watchlist)["8181000000000001"]["tracking"] == "LP00123456789012"
    text = watchlist.read_text(encoding="utf-8")
    assert "# my orders" in text and "# the lamp" in text and "# the seller promised more" in text
    assert (watchlist.parent / "config.toml.bak").exists()


def test_the_same_mails_twice_change_nothing(watchlist: Path) -> None:
    """A second import of the whole corpus leaves the file byte for byte as the first left it."""
    names = [str(MAIL / n) for n in sorted(EXPECTED) if n.endswith(".eml")]
    assert run(watchlist, *names).exit_code == 0
    before = watchlist.read_bytes()
    again = run(watchlist, *names, "--json")
    assert again.exit_code == 0 and watchlist.read_bytes() == before
    out = json.loads(again.stdout)
    assert out["imported"] == out["updated"] == []
    assert any(s["why"] == "already in the watchlist: nothing new" for s in out["skipped"])


def test_a_value_in_the_file_is_never_overwritten(watchlist: Path) -> None:
    """The mail's promised date differs from the hand-typed one: reported as a conflict, the file keeps its own."""
    out = json.loads(run(watchlist, str(MAIL / "03_aliexpress_fr_plain.eml"), "--json").stdout)
    conflict = next(s for s in out["skipped"] if s["why"].startswith("conflict"))
    assert conflict["order"] == "8181000000000002" and "promised_by = 2026-12-30" in conflict["why"]
    order = orders(watchlist)["8181000000000002"]
    assert order["promised_by"] == date(2026, 12, 30)
    assert order["tracking"] == "RB123456785CN" and order["protection_ends"] == date(2027, 1, 20)
    assert "source" not in order  # typed by hand: the import only added to it


def test_whole_corpus_imports_no_false_number(watchlist: Path) -> None:
    """Every tracking number written into the watchlist is one the corpus says the mail holds."""
    names = [str(MAIL / n) for n in sorted(EXPECTED) if n.endswith(".eml")]
    assert run(watchlist, *names).exit_code == 0
    allowed = {f.get("tracking") for e in EXPECTED.values() for f in e["orders"].values()}
    written = {o.get("tracking") for o in orders(watchlist).values()} - {None}
    assert written and written <= allowed
    assert "LT876543217FR" not in watchlist.read_text(encoding="utf-8")


def test_dry_run_writes_nothing_and_shows_the_diff(watchlist: Path) -> None:
    """--dry-run prints the lines it would add and leaves the file alone."""
    before = watchlist.read_bytes()
    result = run(watchlist, str(MAIL / "05_temu_order_en.eml"), "--dry-run")
    assert result.exit_code == 0, result.output
    assert '+id = "PO-211-01234567890123456"' in result.stdout and "(dry run: nothing written)" in result.stdout
    assert watchlist.read_bytes() == before


def test_mbox_maildir_and_pasted_text(watchlist: Path, tmp_path: Path) -> None:
    """The same mails from an mbox file, a Maildir folder, and text on standard input."""
    box = mailbox.mbox(tmp_path / "orders.mbox")
    maildir = mailbox.Maildir(tmp_path / "Maildir")
    for name in ("07_ebay_shipped_en.eml", "09_amazon_shipped_en.eml"):
        msg = message_from_bytes((MAIL / name).read_bytes(), policy=email_policy.compat32)
        (box if name.startswith("07") else maildir).add(msg)
    box.flush()
    pasted = (MAIL / "15_pasted_aliexpress.txt").read_text(encoding="utf-8")
    result = run(watchlist, str(tmp_path / "orders.mbox"), str(tmp_path / "Maildir"), "-", "--json", stdin=pasted)
    assert result.exit_code == 0, result.output
    got = {i["order"]: i["source"] for i in json.loads(result.stdout)["imported"]}
    assert got == {"12-34567-89012": "mail <ebay-ship-77@ebay.com>", "112-1234567-1234567": "mail <amzn-112-1234567@amazon.com>",
                   "8181000000000004": "pasted text"}
    assert orders(watchlist)["8181000000000004"]["tracking"] == "LB483029178CN"


@pytest.mark.parametrize(("source", "message"), [
    ("nowhere.eml", "no such file or folder"),
    (".", "a folder but not a Maildir"),
])
def test_unreadable_source_is_one_line(watchlist: Path, source: str, message: str) -> None:
    """A source that is not mail: one `error:` line naming it, and the watchlist untouched."""
    before = watchlist.read_bytes()
    result = run(watchlist, source)
    assert result.exit_code == 1 and message in result.stderr and len(result.stderr.splitlines()) == 1
    assert watchlist.read_bytes() == before


def test_source_key_is_validated(tmp_path: Path) -> None:
    """`source` is an order key: text without control characters."""
    path = tmp_path / "config.toml"
    path.write_text('[[orders]]\nid = "1"\nordered_on = 2026-11-01\nsource = "mail \\u0007<x>"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(path), "validate"])
    assert result.exit_code == 2 and "orders[0].source: has the control or invisible character U+0007" in result.stderr


def test_bench_prints_the_recall_and_finds_nothing_false() -> None:
    """bench/import_recall.py runs on the corpus, prints a row per marketplace, and exits 0: nothing false."""
    proc = subprocess.run([sys.executable, str(Path(__file__).parent.parent / "bench" / "import_recall.py")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = {line.split()[0]: line.split() for line in proc.stdout.splitlines()[1:]}
    assert set(rows) == {"AliExpress", "Alibaba", "Amazon", "Temu", "eBay", "all"}
    assert rows["all"][-2:] == ["0", "0"]  # no false tracking number, no false order


@pytest.mark.parametrize(("text", "want"), [
    ("Order ID: PO-211-09876543210987654\nOrder time: Nov 20, 2026 10:32", "2026-11-20"),  # Temu's order page
    ("Order number: 8181000000000009\nOrder placed on: Nov 19, 2026", "2026-11-19"),
    ("Order number: 12-34567-89012\nPurchased on Nov 18, 2026", "2026-11-18"),  # eBay's
    ("N° de commande : PO-211-09876543210987654\nHeure de la commande : 17 nov. 2026", "2026-11-17"),
    ("N° de commande : 8181000000000009\nDate de la commande : 16/11/2026", "2026-11-16"),
])
def test_pasted_order_pages_give_their_order_date(text: str, want: str) -> None:
    """A copied order page has no mail date: its own "Order time" line (or alike, EN and FR) gives the order date."""
    (order,) = extract(from_text(text, TODAY)).orders
    assert str(order.ordered_on) == want


@pytest.mark.parametrize(("line", "want"), [
    ("Buyer protection: 60 days", date(2027, 1, 19)),  # from the order date
    ("Protection acheteur : 60 jours", date(2027, 1, 19)),
    ("Buyer Protection ends in 40 days", date(2027, 1, 1)),  # from the mail's date
    ("Protection acheteur expire dans 40 jours", date(2027, 1, 1)),
    ("12 days left of your purchase protection", date(2026, 12, 4)),
    ("Buyer protection ends on Jan 20, 2027", date(2027, 1, 20)),
    ("Protection acheteur jusqu'au 20 janv. 2027", date(2027, 1, 20)),
    ("Buyer protection is a promise we keep", None),
])
def test_protection_countdowns_in_english_and_french(line: str, want: date | None) -> None:
    """A countdown counts from the order date or from the mail's date, as its words say; a date is taken as it is."""
    text = f"Order number: 8181000000000009\nOrder date: 2026-11-20\n{line}"
    (order,) = extract(Mail(text, ("notice.aliexpress.com",), date(2026, 11, 22))).orders
    assert order.protection_ends == want


@pytest.mark.parametrize(("table", "message"), [
    ('host = "h"\nuser = "u"\npassword_secret = "p"\ncheck_every = "30s"', 'import.imap.check_every: expected at least "1m"'),
    ('host = "h"\nuser = "u"\npassword_secret = "p"\nport = 70000', "import.imap.port: expected a port from 1 to 65535"),
    ('host = "h"\nuser = "u"\npassword_secret = "Mail Password"', "import.imap.password_secret: expected a secret name"),
    ('host = "h"\nuser = "u"\npassword = "hunter2"', 'import.imap.password: unknown key "password"'),
])
def test_imap_settings_are_validated(tmp_path: Path, table: str, message: str) -> None:
    """[import.imap] mistakes are one line naming the key; a password written in the file is refused unread."""
    path = tmp_path / "config.toml"
    path.write_text(f"[import.imap]\n{table}\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(path), "validate"])
    assert result.exit_code == 2 and message in result.stderr and "hunter2" not in result.stderr


@pytest.mark.parametrize(("password", "warned"), [(None, True), ("hunter2", False)])
def test_validate_warns_of_a_missing_mail_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    password: str | None, warned: bool) -> None:
    """A mailbox without its password secret is no load error (the daemon runs on), but `validate` names the secret
    and its line, and `paths` lists it among the secrets; never its value."""
    for var in ("TRACKING_MONITOR_SECRETS_DIR", "CREDENTIALS_DIRECTORY", "TRACKING_MONITOR_SHOP_MAIL"):
        monkeypatch.delenv(var, raising=False)
    if password:
        monkeypatch.setenv("TRACKING_MONITOR_SHOP_MAIL", password)
    path = tmp_path / "config.toml"
    path.write_text(f'[monitor]\nstate_dir = "{tmp_path / "state"}"\n\n[import.imap]\nhost = "h"\nuser = "u"\n'
                    'password_secret = "shop_mail"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(path), "validate"])
    assert result.exit_code == 0, result.output
    warning = f'warning: {path}:7: import.imap.password_secret: no secret "shop_mail": expected the variable ' \
              "TRACKING_MONITOR_SHOP_MAIL"
    assert (warning in result.stderr) == warned and "hunter2" not in result.output
    listed = CliRunner().invoke(cli, ["--config", str(path), "paths"])
    assert "shop_mail" in listed.stdout and "hunter2" not in listed.output


def test_an_older_state_file_gets_the_mail_tables(tmp_path: Path) -> None:
    """A state written before [import.imap] existed is given its tables in place, its rows kept."""
    from datetime import UTC, datetime

    from monitor.store import Store

    path = tmp_path / "state.sqlite3"
    store = Store(path)
    store.note_numbers([("A", "LP00123456789012")], datetime(2026, 11, 1, tzinfo=UTC))
    store.db.execute("DROP TABLE mail_read")
    store.db.execute("DROP TABLE mail_failing")
    store.close()
    store = Store(path)
    try:
        store.mail_read("me@host:993", {"INBOX": (7, 42)}, datetime(2026, 11, 2, tzinfo=UTC))
        assert store.mail_marks("me@host:993") == {"INBOX": (7, 42)}
        assert store.numbers_of("A")[0][0] == "LP00123456789012"
    finally:
        store.close()


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_mail_failing_is_said_in_both_languages(lang: str) -> None:
    """The alert names the mailbox, the error and the secret to check, in English and French."""
    from monitor.messages import render

    title, message, action = render("mail_failing", lang, account="me@host:993", error="refused", secret="mail_pw",
                                    every="15m")
    assert "me@host:993" in title and "refused" in message and "mail_pw" in action and "15m" in action


def test_pasted_text_without_an_order_date_is_skipped(watchlist: Path) -> None:
    """Today is not taken for the order date: the order is listed as skipped with the command that adds it."""
    before = watchlist.read_bytes()
    out = json.loads(run(watchlist, "-", "--json", stdin="Order ID: 8181000000000005\nTracking number RB123456785CN\n").stdout)
    assert out["imported"] == [] and watchlist.read_bytes() == before
    (skip,) = [s for s in out["skipped"] if s["order"] == "8181000000000005"]
    assert skip["tracking"] == "RB123456785CN" and "add 8181000000000005 --ordered-on" in skip["why"]
