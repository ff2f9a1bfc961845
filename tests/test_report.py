"""`report`: the evidence for a delivered, a returned and an untracked order, in Markdown, HTML and JSON."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from carriers.model import EventKind, Shipment, Status, TrackingEvent
from monitor.report import canonical_sha256
from monitor.report_html import COLORS
from monitor.store import PollOutcome, Store
from tests.helpers import invoke
from tests.png import longest_vertical_run, read_png

ROOT = Path(__file__).resolve().parent.parent
NOW = "2026-11-21T10:00"
WATCHLIST = """\
[monitor]
timezone = "Europe/Paris"
language = "en"
state_dir = "STATE"

[[orders]]                      # delivered, two days late
id = "8181000000000010"
shop = "AliExpress"
item = "Watch strap <b>&</b>"
ordered_on = 2026-11-03
tracking = "DEMO-DELIVERED"
promised_by = 2026-11-17
refund_window = "15d"

[[orders]]
id = "TM-5530012"
shop = "Temu"
item = "Desk lamp"
ordered_on = 2026-10-30
tracking = "DEMO-RETURNED"
promised_by = 2026-11-15
protection_ends = 2026-12-15
seller_contacted_on = 2026-11-19

[[orders]]
id = "8181000000000001"
shop = "AliExpress"
item = "Phone case"
ordered_on = 2026-11-01
protection_ends = 2026-11-27
"""

# order id -> (stored events, alert kinds, a sentence of its English dispute text, one of its French one)
CASES = {
    "8181000000000010": (4, {"delivered"}, "The parcel was delivered on 19 Nov 2026.",
                         "Le colis a été livré le 19 nov. 2026."),
    "TM-5530012": (3, {"exception", "promised_passed"},
                   "shows that the parcel was returned to the sender on 18 Nov 2026 (\u201cReturned to sender: "
                   "address incomplete\u201d)", "renvoyé à l'expéditeur le 18 nov. 2026"),
    "8181000000000001": (0, {"tracking_missing", "protection_ending"},
                         "The seller has still not given a tracking number, 20 days after the order.",
                         "Le vendeur n'a toujours donné aucun numéro de suivi, 20 jours après la commande."),
}


@pytest.fixture
def watchlist(tmp_path: Path) -> Path:
    """The three orders, after one `check` stored their tracking and sent their alerts."""
    path = tmp_path / "config.toml"
    path.write_text(WATCHLIST.replace("STATE", str(tmp_path / "state")), encoding="utf-8")
    result = invoke(path, "check", "--record", "--now", NOW)
    assert result.exit_code == 0, result.output
    return path


def report(path: Path, order: str, fmt: str, *more: str) -> str:
    result = invoke(path, "report", order, "--format", fmt, "--now", NOW, *more)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("order", CASES)
def test_json_report(watchlist: Path, order: str) -> None:
    """The records hold every stored event with source and time and every alert sent; the SHA-256 is theirs."""
    n_events, kinds, _, _ = CASES[order]
    doc = json.loads(report(watchlist, order, "json"))
    records = doc["records"]
    assert records["order"]["id"] == order and len(records["events"]) == n_events
    assert all(e["source"] == "demo" and e["time"].endswith("+00:00") and e["recorded"] for e in records["events"])
    assert {a["kind"] for a in records["alerts"]} == kinds
    assert all(d["destination"] == "terminal" and d["sent_at"] for a in records["alerts"] for d in a["deliveries"])
    assert doc["sha256"] == canonical_sha256(records)
    assert doc["summary"]["days_since_order"] > 0 and CASES[order][2] in doc["dispute_text"]


@pytest.mark.parametrize("order", CASES)
def test_markdown_report(watchlist: Path, order: str) -> None:
    """Facts, every event, the alerts, the dispute text, the checklist and the SHA-256 of the JSON's records."""
    n_events, kinds, sentence, _ = CASES[order]
    text = report(watchlist, order, "md")
    sha = json.loads(report(watchlist, order, "json"))["sha256"]
    assert text.startswith(f"# Evidence report: order {order}\n")
    assert len(re.findall(r"^\| \d+ \| 2026-", text, re.M)) == n_events
    assert text.count("| terminal 2026-11-21 10:00 |") == len(kinds)
    assert sentence in text and "never \u201cclose\u201d" in text
    assert text.rstrip().endswith("REPORT.json") and f"`{sha}`" in text


@pytest.mark.parametrize("order", CASES)
def test_html_report(watchlist: Path, order: str) -> None:
    """One self-contained page: inline CSS and SVG, nothing fetched, user text escaped, print rules."""
    n_events, kinds, sentence, _ = CASES[order]
    page = report(watchlist, order, "html")
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page and "@media print" in page
    assert not re.search(r"<(?:link|script|img|iframe)\b|\bsrc=|url\(|@import", page)
    assert page.count("<svg") == 1 and page.count("<circle") == n_events + 2  # + the legend's two dots
    assert page.count("<tr><td class=\"t\">2026-11-21 10:00</td>") == len(kinds)
    assert sentence.replace("\u201c", "&#x27;").split("(")[0] in page
    assert "<b>&</b>" not in page and ("&lt;b&gt;&amp;&lt;/b&gt;" in page) == (order == "8181000000000010")


@pytest.mark.parametrize("order", CASES)
def test_french_report(watchlist: Path, order: str) -> None:
    """--language fr: the labels and the dispute text in French."""
    text = report(watchlist, order, "md", "--language", "fr")
    assert text.startswith(f"# Dossier de preuves : commande {order}") and CASES[order][3] in text


def test_hash_covers_the_records_and_only_them(watchlist: Path) -> None:
    """The same records give the same SHA-256 a week later; a changed fact gives another; the README's
    re-check command prints it from the JSON file."""
    first = json.loads(report(watchlist, "TM-5530012", "json"))
    later = json.loads(invoke(watchlist, "report", "TM-5530012", "-f", "json", "--now", "2026-11-28").stdout)
    assert later["sha256"] == first["sha256"] and later["generated_at"] != first["generated_at"]
    assert invoke(watchlist, "set", "TM-5530012", "protection_ends=2026-12-22").exit_code == 0
    changed = json.loads(report(watchlist, "TM-5530012", "json"))
    assert changed["sha256"] != first["sha256"]
    saved = watchlist.parent / "r.json"
    result = invoke(watchlist, "report", "TM-5530012", "--output", str(saved), "--now", NOW)
    assert result.exit_code == 0 and changed["sha256"] in result.stderr
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    command = next(line.strip() for line in readme.splitlines() if line.strip().startswith("python3 -c 'import hashlib"))
    recheck = subprocess.run(command.replace("REPORT.json", str(saved)), shell=True, capture_output=True, text=True)
    assert recheck.stdout.strip() == changed["sha256"], recheck.stderr


def test_events_the_carrier_dropped_stay_in_the_report(tmp_path: Path) -> None:
    """An event a carrier stops showing is still in the report, with when it was recorded."""
    path = tmp_path / "config.toml"
    path.write_text(f'[monitor]\ntimezone = "UTC"\nstate_dir = "{tmp_path}"\n[[orders]]\nid = "X1"\n'
                    'ordered_on = 2026-11-01\ntracking = "LP00123456789012"\ncarrier = "demo"\n')
    t0 = datetime(2026, 11, 3, 8, tzinfo=UTC)
    first = TrackingEvent(t0, EventKind.INFO_RECEIVED, "Label created", "Shenzhen", "A1", "demo")
    second = TrackingEvent(t0 + timedelta(days=2), EventKind.EXPORTED, "Left China", "Shenzhen", "B2", "demo")
    store = Store.in_dir(tmp_path)
    for events, at in (((first,), t0 + timedelta(hours=1)), ((second,), t0 + timedelta(days=3))):
        shipment = Shipment("LP00123456789012", "demo", Status.IN_TRANSIT, events)
        outcome = PollOutcome({"LP00123456789012": shipment}, {"LP00123456789012": at + timedelta(hours=6)})
        store.record_poll("demo", outcome, at)
    store.close()
    events = json.loads(report(path, "X1", "json"))["records"]["events"]
    assert [(e["description"], e["recorded"]) for e in events] == [
        ("Label created", "2026-11-03T09:00:00+00:00"), ("Left China", "2026-11-06T08:00:00+00:00")]


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["report", "TM-553001"], 2, 'no order with id "TM-553001"; closest: "TM-5530012"'),
        (["report", "TM-5530012", "--format", "pdf"], 2, "--format: expected one of md, html, json"),
        (["report", "TM-5530012", "--language", "de"], 2, "--language: expected one of en, fr"),
    ],
)
def test_report_usage_errors(watchlist: Path, args: list[str], code: int, says: str) -> None:
    """An unknown order or format: exit 2 and what was expected."""
    result = invoke(watchlist, *args)
    assert result.exit_code == code and says in result.output


def test_output_format_follows_the_extension(watchlist: Path) -> None:
    """--output r.html writes HTML without --format."""
    out = watchlist.parent / "r.html"
    assert invoke(watchlist, "report", "TM-5530012", "-o", str(out)).exit_code == 0
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


# ---------------------------------------------------------------- in a real browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
         "--force-device-scale-factor=1"]


@pytest.fixture
def chromium() -> str:
    if CHROMIUM is None:
        # CI installs Debian's chromium (see .ci/run), so there a missing browser is a failure, not a skip.
        if os.environ.get("CI"):
            pytest.fail("chromium is missing; .ci/run should have installed it", pytrace=False)
        pytest.skip("chromium is not installed")
    return CHROMIUM


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _screenshot(browser: str, page: Path, tmp_path: Path) -> list[bytes]:
    png = page.with_suffix(".png")
    subprocess.run([browser, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={png}",
                    "--window-size=820,1000", page.as_uri()], capture_output=True, timeout=120, check=True)
    return read_png(png)[2]


def test_timeline_renders_in_chromium(watchlist: Path, tmp_path: Path, chromium: str) -> None:
    """Headless Chromium draws the timeline: the promised and protection lines, the event dots; the same page
    without its SVG shows none of them."""
    page = tmp_path / "report.html"
    page.write_text(report(watchlist, "TM-5530012", "html"), encoding="utf-8")
    rows = _screenshot(chromium, page, tmp_path)
    for name in ("promised", "protection", "ordered"):
        assert longest_vertical_run(rows, _rgb(COLORS[name])) >= 80, name  # a line across the timeline
    assert longest_vertical_run(rows, _rgb(COLORS["event"])) >= 8  # a dot
    bare = tmp_path / "bare.html"
    bare.write_text(re.sub(r"<svg.*?</svg>", "", page.read_text(encoding="utf-8"), flags=re.S), encoding="utf-8")
    rows = _screenshot(chromium, bare, tmp_path)
    assert all(longest_vertical_run(rows, _rgb(COLORS[n])) == 0 for n in ("promised", "protection", "event"))


def test_prints_to_a_short_pdf(watchlist: Path, tmp_path: Path, chromium: str) -> None:
    """Printing the page (the @media print rules, A4) gives a PDF of one to three pages."""
    page, pdf = tmp_path / "report.html", tmp_path / "report.pdf"
    page.write_text(report(watchlist, "8181000000000010", "html"), encoding="utf-8")
    subprocess.run([chromium, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--no-pdf-header-footer",
                    f"--print-to-pdf={pdf}", page.as_uri()], capture_output=True, timeout=120, check=True)
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and 1 <= len(re.findall(rb"/Type\s*/Page\b(?!s)", data)) <= 3
