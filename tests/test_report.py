"""`report`: the evidence for a delivered, a returned and an untracked order, in Markdown, HTML and JSON; the
buyer's notes apart from it; the timeline; the format chosen by the output's extension."""
from __future__ import annotations

import html
import json
import os
import pty
import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from carriers.model import EventKind, Shipment, Status, TrackingEvent
from monitor.errors import WriteError
from monitor.report import EXTENSIONS, canonical_sha256
from monitor.report_html import COLORS, label_rows
from monitor.report_pdf import find_browser, print_pdf
from monitor.store import PollOutcome, Store
from tests.helpers import invoke
from tests.pdf_text import page_texts
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
    """The evidence on stdout."""
    return run_report(path, order, fmt, *more)[0]


def run_report(path: Path, order: str, fmt: str, *more: str) -> tuple[str, str]:
    """(the evidence on stdout, the buyer's notes on stderr)."""
    result = invoke(path, "report", order, "--format", fmt, "--now", NOW, *more)
    assert result.exit_code == 0, result.output
    return result.stdout, result.stderr


@pytest.mark.parametrize("order", CASES)
def test_json_report(watchlist: Path, order: str) -> None:
    """The records hold every stored event with source and time and every alert sent; the SHA-256 is theirs; the
    dispute text is the buyer's, on stderr, not in the JSON."""
    n_events, kinds, _, _ = CASES[order]
    out, notes = run_report(watchlist, order, "json")
    doc = json.loads(out)
    records = doc["records"]
    assert records["order"]["id"] == order and len(records["events"]) == n_events
    assert all(e["source"] == "demo" and e["time"].endswith("+00:00") and e["recorded"] for e in records["events"])
    assert {a["kind"] for a in records["alerts"]} == kinds
    assert all(d["destination"] == "terminal" and d["sent_at"] for a in records["alerts"] for d in a["deliveries"])
    assert doc["sha256"] == canonical_sha256(records)
    assert doc["summary"]["days_since_order"] > 0 and doc["format"] == "tracking-monitor-report/2"
    assert CASES[order][2] not in out and CASES[order][2] in notes and not {"dispute_text", "checklist"} & set(doc)


@pytest.mark.parametrize("order", CASES)
def test_markdown_report(watchlist: Path, order: str) -> None:
    """Facts, every event, the alerts (printed in the buyer's terminal: not said to be sent to anyone) and the
    SHA-256 of the JSON's records; the dispute text and the checklist are on stderr only."""
    n_events, kinds, sentence, _ = CASES[order]
    text, notes = run_report(watchlist, order, "md")
    sha = json.loads(report(watchlist, order, "json"))["sha256"]
    assert text.startswith(f"# Evidence report: order {order}\n")
    assert len(re.findall(r"^\| \d+ \| 2026-", text, re.M)) == n_events
    assert text.count("| printed in the buyer's terminal 2026-11-21 10:00 |") == len(kinds)
    assert "## Alerts tracking-monitor gave the buyer" in text and "never to the seller or the platform" in text
    assert sentence not in text and "close\u201d" not in text and "scam" not in text
    assert sentence in notes and "never \u201cclose\u201d" in notes and "not for the mediator" in notes
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
    assert html.escape(sentence.split("(")[0]) not in page and "scam" not in page
    assert "<b>&</b>" not in page and ("&lt;b&gt;&amp;&lt;/b&gt;" in page) == (order == "8181000000000010")


@pytest.mark.parametrize("order", CASES)
def test_french_report(watchlist: Path, order: str) -> None:
    """--language fr: the labels in French, and the buyer's notes (the dispute text) in French on stderr."""
    text, notes = run_report(watchlist, order, "md", "--language", "fr")
    assert text.startswith(f"# Dossier de preuves : commande {order}") and CASES[order][3] in notes
    assert "Pour vous, pas pour le médiateur" in notes and "arnaque" in notes and "arnaque" not in text


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
        (["report", "TM-5530012", "--format", "docx"], 2, "--format: expected one of md, html, json, pdf, got 'docx'"),
        (["report", "TM-5530012", "--language", "de"], 2, "--language: expected one of en, fr"),
    ],
)
def test_report_usage_errors(watchlist: Path, args: list[str], code: int, says: str) -> None:
    """An unknown order or format: exit 2 and what was expected."""
    result = invoke(watchlist, *args)
    assert result.exit_code == code and says in result.output


@pytest.mark.parametrize(("name", "starts"), [
    ("r.md", "# Evidence report"), ("r.MARKDOWN", "# Evidence report"), ("r.html", "<!DOCTYPE html>"),
    ("r.htm", "<!DOCTYPE html>"), ("r.json", "{"), ("r", "# Evidence report"),
])
def test_output_format_follows_the_extension(watchlist: Path, name: str, starts: str) -> None:
    """--output's extension (any case) picks the format when --format is not given; no extension: Markdown."""
    out = watchlist.parent / name
    result = invoke(watchlist, "report", "TM-5530012", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").startswith(starts) and f"{out}: " in result.stderr


@pytest.mark.parametrize("name", ["r.txt", "r.docx", "r.pdf.bak"])
def test_unknown_extension_is_refused(watchlist: Path, name: str) -> None:
    """An extension the report does not know: exit 2, one line naming it and the known ones, no file."""
    out = watchlist.parent / name
    result = invoke(watchlist, "report", "TM-5530012", "-o", str(out))
    assert result.exit_code == 2 and not out.exists()
    assert result.output.count("\n") == 1 and f"'{out.suffix}'" in result.output
    assert all(f".{ext}" in result.output for ext in EXTENSIONS)


def test_format_wins_over_the_extension(watchlist: Path) -> None:
    """--format json -o r.txt writes JSON into r.txt."""
    out = watchlist.parent / "r.txt"
    assert invoke(watchlist, "report", "TM-5530012", "-f", "json", "-o", str(out)).exit_code == 0
    assert json.loads(out.read_text(encoding="utf-8"))["records"]["order"]["id"] == "TM-5530012"


# ---------------------------------------------------------------- the buyer's notes: apart, fit for the order

ALIEXPRESS_AFTER = "AliExpress still takes a refund request for 15 days after completion"


def _one_order(tmp_path: Path, keys: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[monitor]\ntimezone = "Europe/Paris"\nstate_dir = "{tmp_path / "state"}"\n'
                    f'[[orders]]\nid = "O-1"\nordered_on = 2026-10-01\n{keys}', encoding="utf-8")
    return path


@pytest.mark.parametrize(("keys", "says", "never"), [
    pytest.param("protection_ends = 2026-12-01\n", ["open the dispute before then", "Open only one dispute"],
                 ["has been open since"], id="no-dispute"),
    pytest.param("protection_ends = 2026-12-01\n[orders.dispute]\nopened_on = 2026-11-18\nwait_until = 2026-11-22\n",
                 ["A dispute has been open since 18 Nov 2026: do not open another one",
                  "The mediator asked to wait until 22 Nov 2026"],
                 ["open the dispute before then", "Open only one dispute"], id="dispute-open"),
    pytest.param("[orders.dispute]\nopened_on = 2026-11-10\nwait_until = 2026-11-20\n",
                 ["The mediator's date (20 Nov 2026) has passed"], ["open the dispute before"],
                 id="mediator-date-passed"),
    pytest.param('shop = "AliExpress"\nprotection_ends = 2026-11-15\n',
                 ["Buyer protection ended on 15 Nov 2026", ALIEXPRESS_AFTER], ["open the dispute before"],
                 id="aliexpress-ended"),
    pytest.param('shop = " aliEXPRESS "\nprotection_ends = 2026-11-15\n', [ALIEXPRESS_AFTER], [], id="any-case"),
    pytest.param('shop = "Alibaba"\nprotection_ends = 2026-11-15\n', ["Buyer protection ended on 15 Nov 2026"],
                 ["AliExpress", "refund request"], id="alibaba-gets-no-aliexpress-rule"),
    pytest.param('shop = "Corner shop"\nprotection_ends = 2026-11-15\n', ["Buyer protection ended"],
                 ["AliExpress", "refund request"], id="unknown-shop-no-marketplace-rule"),
])
def test_notes_follow_the_order(tmp_path: Path, keys: str, says: list[str], never: list[str]) -> None:
    """The checklist says what fits the order: an open dispute is not told to open one; after protection ended
    only the order's own marketplace's rule is quoted. None of it is in the evidence."""
    path = _one_order(tmp_path, keys)
    for fmt in ("md", "html", "json"):
        evidence, notes = run_report(path, "O-1", fmt)
        assert all(s in notes for s in says) and not any(n in notes for n in never), notes
        assert not any(s in evidence for s in says) and "Before you send it" not in evidence


def test_notes_in_french(tmp_path: Path) -> None:
    """The notes of an open dispute and of AliExpress's rule, in French."""
    path = _one_order(tmp_path, 'shop = "AliExpress"\nprotection_ends = 2026-11-15\n')
    notes = run_report(path, "O-1", "md", "--language", "fr")[1]
    assert "AliExpress accepte encore une demande de remboursement pendant 15 jours" in notes
    path = _one_order(tmp_path, "[orders.dispute]\nopened_on = 2026-11-18\n")
    assert "Un litige est ouvert depuis le 18 nov. 2026" in run_report(path, "O-1", "md", "--language", "fr")[1]


# ---------------------------------------------------------------- the timeline's SVG

DISPUTE = """[monitor]
timezone = "Europe/Paris"
state_dir = "STATE"

[[orders]]
id = "D-1"
shop = "AliExpress"
ordered_on = 2025-12-20
promised_by = 2026-01-10
protection_ends = 2026-02-20
  [orders.dispute]
  opened_on = 2026-01-19
  wait_until = WAIT
"""


def _svg(tmp_path: Path, wait: str, now: str) -> str:
    path = tmp_path / "config.toml"
    path.write_text(DISPUTE.replace("STATE", str(tmp_path / "state")).replace("WAIT", wait), encoding="utf-8")
    result = invoke(path, "report", "D-1", "-f", "html", "--now", now)
    assert result.exit_code == 0, result.output
    return re.search(r"<svg.*</svg>", result.stdout, re.S).group(0)


def test_timeline_axis_has_years_and_distinct_marks(tmp_path: Path) -> None:
    """Across a new year, the axis labels carry the year; the dispute and the mediator's date have their own
    colours, and every date mark's colour differs from the others; each is labelled with its day (the promise,
    drawn at the end of its day, with that day)."""
    svg = _svg(tmp_path, "2026-01-21", "2026-01-21T10:00")
    ticks = re.findall(r'class="tick"[^>]*>([^<]+)<', svg)
    assert len(ticks) >= 4 and all(re.fullmatch(r"20\d\d-\d\d-\d\d", t) for t in ticks)
    assert {t[:4] for t in ticks} == {"2025", "2026"}
    strokes = dict(re.findall(r'data-mark="(\w+)"><line [^>]*stroke="(#\w+)"', svg))
    assert set(strokes) == {"ordered", "promised", "protection", "dispute", "wait", "today"}
    assert strokes["dispute"] != strokes["wait"] and len(set(strokes.values())) == len(strokes)
    days = dict(re.findall(r'data-mark="(\w+)">.*?<tspan[^>]*>[^<]+</tspan><tspan[^>]*>(20[\d-]+)</tspan>', svg))
    assert days == {"ordered": "2025-12-20", "promised": "2026-01-10", "dispute": "2026-01-19", "wait": "2026-01-21",
                    "today": "2026-01-21", "protection": "2026-02-20"}



@pytest.mark.parametrize("lines", [[300.0, 300.0], [300.0, 301.5, 303.0], [10.0, 11.0, 749.0, 750.0],
                                   [100.0, 200.0, 300.0, 400.0, 500.0, 600.0, 700.0]])
def test_labels_never_overlap(lines: list[float]) -> None:
    """Labels of marks a day (a few pixels) apart go in different rows; each stays inside the figure."""
    widths = [90.0] * len(lines)
    placed = label_rows(lines, widths)
    boxes = [(row, left, left + w) for (row, left), w in zip(placed, widths, strict=True)]
    assert all(0 <= left and right <= 760 for _, left, right in boxes)
    for i, (row, left, right) in enumerate(boxes):
        assert all(r != row or right <= l2 or r2 <= left for r, l2, r2 in boxes[i + 1:])


# ---------------------------------------------------------------- in a real browser

CHROMIUM = find_browser()
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


@pytest.mark.parametrize(("order", "lang", "title"), [("8181000000000010", "en", "Evidence report: order"),
                                                       ("TM-5530012", "fr", "Dossier de preuves : commande")])
def test_report_pdf(watchlist: Path, tmp_path: Path, chromium: str, order: str, lang: str, title: str) -> None:
    """-o r.pdf prints the HTML report to a real PDF of one to three A4 pages holding the order's evidence (its id,
    its SHA-256), and none of the buyer's notes."""
    pdf = tmp_path / "r.pdf"
    result = invoke(watchlist, "report", order, "-o", str(pdf), "--now", NOW, "--language", lang)
    assert result.exit_code == 0, result.output
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and 1 <= len(re.findall(rb"/Type\s*/Page\b(?!s)", data)) <= 3
    text = "".join(page_texts(data))
    sha = json.loads(report(watchlist, order, "json"))["sha256"]
    assert f"{title} {order}" in text and sha in text and "SHA-256" in text
    assert not any(advice in text for advice in ("scam", "arnaque", "Suggested dispute", "Texte de litige"))
    assert "Suggested dispute text" in result.stderr or "Texte de litige" in result.stderr


def test_pdf_goes_to_stdout_when_it_is_not_a_terminal(watchlist: Path, chromium: str) -> None:
    """--format pdf without --output writes the PDF's bytes to a pipe or a file."""
    result = invoke(watchlist, "report", "TM-5530012", "--format", "pdf", "--now", NOW)
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes.startswith(b"%PDF-") and result.stdout_bytes.rstrip().endswith(b"%%EOF")


def test_pdf_is_not_printed_on_a_terminal(watchlist: Path) -> None:
    """--format pdf with stdout on a terminal: exit 2 and what to do instead, before any work."""
    leader, follower = pty.openpty()
    try:
        done = subprocess.run([sys.executable, "-m", "monitor", "-c", str(watchlist), "report", "TM-5530012", "-f",
                               "pdf"], stdout=follower, stderr=subprocess.PIPE, text=True, timeout=60,
                              env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT)
    finally:
        os.close(follower)
        os.close(leader)
    assert done.returncode == 2
    assert done.stderr == ("error: --format pdf: a PDF is not printed on a terminal; give --output FILE.pdf or "
                           "redirect stdout\n")


def test_pdf_without_chromium(watchlist: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No Chromium on PATH: exit 2, one line saying how to get one or what to do instead, and no file."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    pdf = tmp_path / "r.pdf"
    result = invoke(watchlist, "report", "TM-5530012", "-o", str(pdf))
    assert result.exit_code == 2 and not pdf.exists()
    assert result.output.count("\n") == 1 and "sudo apt install chromium" in result.output
    assert "--format html" in result.output and "Save as PDF" in result.output


FAILING_BROWSER = """#!/bin/sh
for a in "$@"; do
  case "$a" in --print-to-pdf=*) printf '%%PDF-1.4 half a file' > "${a#--print-to-pdf=}" ;; esac
done
echo "Missing X server or no display" >&2
exit 3
"""


def test_failing_browser_leaves_the_previous_file(watchlist: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A browser that fails after writing half a PDF: exit 1 naming it and its last words; the file that was
    there is untouched and no temporary file is left beside it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "chromium").write_text(FAILING_BROWSER)
    (bin_dir / "chromium").chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    pdf = tmp_path / "out" / "r.pdf"
    pdf.parent.mkdir()
    pdf.write_bytes(b"the previous report")
    result = invoke(watchlist, "report", "TM-5530012", "-o", str(pdf))
    assert result.exit_code == 1 and pdf.read_bytes() == b"the previous report"
    assert [p.name for p in pdf.parent.iterdir()] == ["r.pdf"]
    assert f"error: {bin_dir / 'chromium'} made no PDF (exit 3): Missing X server or no display" in result.output


HANGING_BROWSER = """#!/bin/sh
echo $$ > "$HANGING_PID"
/bin/sleep 60 &
wait
"""


def _alive_in_group(pgid: int) -> list[int]:
    """The processes of a process group that are not dead (a zombie no reaper collected counts as dead)."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, _, group = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError):
            continue
        if int(group) == pgid and state != "Z":
            alive.append(int(stat.parent.name))
    return alive


def test_stuck_browser_is_ended_with_its_helpers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A browser that never finishes: after the timeout it and the processes it started are killed, and the
    error says so."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "chromium").write_text(HANGING_BROWSER)
    (bin_dir / "chromium").chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("HANGING_PID", str(tmp_path / "pid"))
    started = time.monotonic()
    with pytest.raises(WriteError, match=r"did not print the PDF within 0.5 s; nothing was written"):
        print_pdf("<p>x</p>", timeout=0.5)
    # A helper left alive would hold stderr open for its whole minute: the command would hang that long.
    assert time.monotonic() - started < 30 and _alive_in_group(int((tmp_path / "pid").read_text())) == []


_MEASURE = """<pre id="boxes"></pre><script>
document.getElementById("boxes").textContent = JSON.stringify(
  [...document.querySelectorAll("svg text.label, svg text.tick")].map(t => {
    const b = t.getBBox();
    return {kind: t.getAttribute("class"), mark: t.parentNode.getAttribute("data-mark"), text: t.textContent,
            x: b.x, y: b.y, w: b.width, h: b.height};
  }));
</script>"""


@pytest.mark.parametrize(("wait", "now"), [("2026-01-21", "2026-01-21T10:00"), ("2026-01-20", "2026-01-21T00:00"),
                                           ("2026-01-20", "2026-01-20T09:00")])
def test_timeline_labels_do_not_overlap_in_chromium(tmp_path: Path, chromium: str, wait: str, now: str) -> None:
    """Chromium measures every date label and axis label as drawn: today's and the mediator's (the same day or
    a day apart, also next to the dispute's) never overlap each other or any other."""
    page = tmp_path / "timeline.html"
    page.write_text(f"<!DOCTYPE html><html><body>{_svg(tmp_path, wait, now)}{_MEASURE}</body></html>",
                    encoding="utf-8")
    dom = subprocess.run([chromium, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page.as_uri()],
                         capture_output=True, timeout=120, check=True, text=True).stdout
    boxes = json.loads(html.unescape(re.search(r'<pre id="boxes">(.*?)</pre>', dom, re.S).group(1)))
    assert {b["mark"] for b in boxes if b["kind"] == "label"} == {"ordered", "promised", "dispute", "wait", "today",
                                                                  "protection"}
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            apart = (a["x"] + a["w"] <= b["x"] or b["x"] + b["w"] <= a["x"] or a["y"] + a["h"] <= b["y"]
                     or b["y"] + b["h"] <= a["y"])
            assert apart, (a, b)
