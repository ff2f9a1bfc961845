"""Every carrier fixture names the documented source its shape was written from (tests/fixtures/SOURCES.md)."""
from __future__ import annotations

import re
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
ROW = re.compile(r"^\| ([\w-]+/[\w-]+\.json) \| ([^|]+) \| ([^|]+) \|$")


def _rows() -> dict[str, str]:
    text = (FIXTURES / "SOURCES.md").read_text(encoding="utf-8")
    return {m[1]: m[3].strip() for line in text.splitlines() if (m := ROW.match(line))}


def test_every_fixture_names_its_source_and_every_source_its_fixture() -> None:
    """A fixture added without its source, or a row left behind by a removed fixture, fails here."""
    files = {p.relative_to(FIXTURES).as_posix() for p in FIXTURES.glob("*/*.json") if p.parent.name != "mail"}
    rows = _rows()
    assert sorted(files - rows.keys()) == [], "fixtures with no row in tests/fixtures/SOURCES.md"
    assert sorted(rows.keys() - files) == [], "rows in tests/fixtures/SOURCES.md with no fixture"
    assert all(len(source) > 10 for source in rows.values())
