"""bench/commands.py still runs end to end, and judges its targets as bench/README.md says."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "commands.py"
_spec = importlib.util.spec_from_file_location("bench_commands", SCRIPT)
bench = importlib.util.module_from_spec(_spec)
sys.modules["bench_commands"] = bench  # dataclasses look their module up while the class is built
_spec.loader.exec_module(bench)


def test_every_command_is_timed_at_a_tiny_size(tmp_path: Path) -> None:
    """50 orders, one run each: every figure is measured, none failed, and the JSON says what was built."""
    figures_json = tmp_path / "figures.json"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--sizes", "50", "--repeat", "1", "--timeout", "120",
                           "--settle", "0", "--json", str(figures_json), "--no-targets"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "check, again (a cycle with no new events)" in proc.stdout  # the table
    out = json.loads(figures_json.read_text())
    (size,) = out["sizes"]
    assert size["orders"] == 50 and 0 < size["events"] <= 20 * size["tracked"] and size["events"] % 20 == 0
    figures = size["figures"]
    assert list(figures) == list(bench.LABELS)
    for name, fig in figures.items():
        assert fig["error"] == "" and not fig["timed_out"], (name, fig)
        assert fig["best"] > 0 and fig["peak_rss_mib"] > 10, (name, fig)
    assert figures["validate"]["ratio"] == 1.0
    assert figures["check_again"]["ratio"] > 0
    first, again = size["notified"]
    assert first > 0 and again == first  # the first check recorded its findings; the second had nothing new
    assert [t["state"] for t in out["targets"]] == ["SKIPPED"] * len(bench.TARGETS)


def _figures(**best: float | None) -> dict[str, object]:
    """Figures of one size: validate takes 1 s, the others what is given (None: timed out)."""
    figs = {}
    for name in bench.LABELS:
        value = best.get(name, 1.0)
        fig = bench.Figure(name, [], value, timed_out=value is None)
        fig.ratio = value if name != "idle_rss" and value is not None else None
        figs[name] = fig
    return figs


@pytest.mark.parametrize(("results", "expected"), [
    ({100_000: _figures(check_again=2.9, status=3.0, idle_rss=299.0), 500: _figures(idle_rss=59.0)},
     ["MET", "MET", "MET", "MET"]),
    ({100_000: _figures(check_again=3.1, status=None, idle_rss=300.0), 500: _figures(idle_rss=60.0)},
     ["NOT MET", "NOT MET", "NOT MET", "NOT MET"]),
    ({500: _figures(idle_rss=40.0)}, ["SKIPPED", "SKIPPED", "SKIPPED", "MET"]),
])
def test_targets(results: dict[int, dict[str, object]], expected: list[str]) -> None:
    """Within 3x validate is met at 3.0 and missed by a timeout; under 300 MiB is missed at 300; absent sizes skip."""
    assert [v.state for v in bench.verdicts(results)] == expected
