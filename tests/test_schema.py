"""`tracking-monitor schema`: the JSON Schema TOML editors use, generated from the models, shipped beside the
example (whose `#:schema` line names it), accepting every valid example and refusing a mistyped key."""
from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config.example.toml"
SHIPPED = ROOT / "tracking-monitor.schema.json"


def as_json(value: Any) -> Any:
    """A TOML document as taplo hands it to a JSON Schema: dates and times become ISO strings."""
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_json(v) for v in value]
    return value.isoformat() if isinstance(value, (date, datetime, time)) else value


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "monitor", "schema"], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_the_shipped_schema_is_what_the_command_prints(schema: dict[str, Any]) -> None:
    """The file the example points at is the generated one (regenerate: tracking-monitor schema > the file)."""
    assert EXAMPLE.read_text(encoding="utf-8").splitlines()[0] == f"#:schema ./{SHIPPED.name}"
    assert json.loads(SHIPPED.read_text(encoding="utf-8")) == schema


def errors(schema: dict[str, Any], text: str) -> list[str]:
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return [e.message for e in validator.iter_errors(as_json(tomllib.loads(text)))]


ORDER = '[[orders]]\nid = "A"\nordered_on = 2026-11-01\n'


@pytest.mark.parametrize(("text", "wrong"), [
    (EXAMPLE.read_text(encoding="utf-8"), None),
    (ORDER + 'protection_ends = 2026-12-03T00:00:00\nstalled_after = "1d12h"\n', None),
    ('[carriers.17track]\napi_key = "k"\n' + ORDER, None),
    ('[notify]\nquiet_hours = "22:00-08:00"\n' + ORDER, None),
    (ORDER + 'protection_end = 2026-12-03\n', "protection_end"),
    (ORDER + 'stalled_after = "ten days"\n', "ten days"),
    ('[monitor]\npoll_intervall = "6h"\n', "poll_intervall"),
    ('[carriers.17track]\napikey = "k"\n', "apikey"),
    ('[carriers.nosuch]\nenabled = true\n', "nosuch"),
    (ORDER + 'ordered_on = "soon"\n'.replace("ordered_on", "promised_by"), "soon"),
], ids=["example", "dates-and-durations", "carrier-table", "quiet-hours", "typo-key", "bad-duration",
        "typo-monitor-key", "typo-carrier-key", "unknown-carrier", "bad-date"])
def test_editors_see_what_validate_sees(schema: dict[str, Any], text: str, wrong: str | None) -> None:
    """Valid files pass the schema; a mistyped key or a malformed value is flagged, naming it."""
    found = errors(schema, text)
    if wrong is None:
        assert found == []
    else:
        assert found and any(wrong in e for e in found), found
