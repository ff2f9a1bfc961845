"""Recall of `tracking-monitor import` per marketplace on the mail corpus (tests/fixtures/mail), and its false finds.

    python bench/import_recall.py          # a table; exit status 1 if any tracking number or order is false

For each marketplace: orders found of those the corpus holds, tracking numbers found, and dates (order date,
promised date, end of buyer protection) found right; false tracking numbers and false orders are counted apart.
"""
from __future__ import annotations

import json
import sys
from collections import Counter
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.inbox import read_source  # noqa: E402
from monitor.mailimport import Found, extract  # noqa: E402

CORPUS = ROOT / "tests" / "fixtures" / "mail"
TODAY = date(2026, 11, 23)  # the day pasted text is taken to be pasted, as in tests/test_mailimport.py
DATES = ("ordered_on", "promised_by", "protection_ends")


def found_in(name: str) -> list[Found]:
    """The orders extracted from one corpus file (a .txt file is pasted text)."""
    path = CORPUS / name
    mails = read_source("-", path.read_text(encoding="utf-8"), TODAY) if name.endswith(".txt") else read_source(str(path))
    return [order for mail in mails for order in extract(mail).orders]


def tally() -> dict[str, Counter[str]]:
    """Per marketplace: what the corpus holds and what extraction got right or wrong."""
    expected = json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))
    out: dict[str, Counter[str]] = {}
    for name, spec in sorted(expected.items()):
        c = out.setdefault(spec["marketplace"], Counter())
        got = {o.order_id: o for o in found_in(name)}
        c["false_orders"] += len(set(got) - set(spec["orders"]))
        for oid, facts in spec["orders"].items():
            c["orders"] += 1
            order = got.get(oid)
            c["orders_found"] += order is not None
            numbers = {t.number for t in order.tracking} if order else set()
            if facts.get("tracking"):
                c["tracking"] += 1
                c["tracking_found"] += facts["tracking"] in numbers
            c["false_tracking"] += len(numbers - {facts.get("tracking")})
            for key in DATES:
                if key in facts:
                    c["dates"] += 1
                    c["dates_found"] += order is not None and str(getattr(order, key)) == facts[key]
    return out


def share(found: int, total: int) -> str:
    """'3/4 (75%)', or '-' when there is nothing to find."""
    return f"{found}/{total} ({found / total:.0%})" if total else "-"


def main() -> int:
    """Print the table; 1 when anything false was found."""
    rows = tally()
    total: Counter[str] = sum(rows.values(), Counter())
    print(f"{'marketplace':<12}{'orders':>14}{'tracking numbers':>18}{'dates':>14}{'false numbers':>15}"
          f"{'false orders':>14}")
    for name, c in [*sorted(rows.items()), ("all", total)]:
        print(f"{name:<12}{share(c['orders_found'], c['orders']):>14}{share(c['tracking_found'], c['tracking']):>18}"
              f"{share(c['dates_found'], c['dates']):>14}{c['false_tracking']:>15}{c['false_orders']:>14}")
    return 1 if total["false_tracking"] or total["false_orders"] else 0


if __name__ == "__main__":
    sys.exit(main())
