"""The evidence report as one self-contained HTML file: inline CSS, an inline SVG timeline, print-ready (A4).
It holds the evidence only; the buyer's notes are never in it (see report.to_notes)."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from html import escape

from carriers.model import EXCEPTION_KINDS, EventKind
from monitor import __version__
from monitor.report import RECHECK, Report, deliveries
from monitor.rules import instant

# The timeline's colours; the page uses none of them elsewhere, so a screenshot can find the timeline by them.
COLORS = {
    "ordered": "#6b7280", "promised": "#e69f00", "protection": "#d6272b", "delivered": "#1a9850",
    "today": "#2563eb", "dispute": "#8e44ad", "wait": "#0f9b8e", "event": "#1f5fbf",
}
_PROBLEM_KINDS = {k.value for k in EXCEPTION_KINDS}
_W, _LEFT, _RIGHT = 760, 40, 720
# A date mark's label is two lines (what, then the day) above its line, behind a swatch of its colour; labels
# closer than _GAP go one row up.
_ROW, _LINE, _GAP, _SWATCH, _CHAR = 30, 12, 8, 9, 7.0  # _CHAR: a generous width of one character at font-size 11

_CSS = """
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #1b1b1b;
       background: #fff; margin: 0; }
main { max-width: 820px; margin: 0 auto; padding: 24px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 22px 0 8px; border-bottom: 1px solid #ccc; padding-bottom: 3px; }
.meta { color: #555; margin: 0; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 4px 8px; border-bottom: 1px solid #e3e3e3; }
th { background: #f4f4f4; font-weight: 600; }
table.facts th { width: 38%; background: none; font-weight: normal; color: #444; }
tr.problem td { background: #fff1ef; }
td.n, td.t { white-space: nowrap; font-variant-numeric: tabular-nums; }
figure { margin: 0; }
figure svg { width: 100%; height: auto; display: block; }
code, pre { font: 12px/1.4 ui-monospace, "DejaVu Sans Mono", monospace; }
pre { white-space: pre-wrap; word-break: break-all; background: #f7f7f7; padding: 8px; }
.sha { font-size: 13px; word-break: break-all; }
@page { size: A4; margin: 14mm; }
@media print {
  body { font-size: 10pt; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  main { max-width: none; padding: 0; }
  h2 { break-after: avoid; }
  tr, figure, .integrity { break-inside: avoid; }
  thead { display: table-header-group; }
}
"""


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def to_html(r: Report) -> str:
    """The report as an HTML page that needs nothing else: no scripts, fonts, images or links to fetch."""
    t = r.t
    facts = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in r.facts())
    parts = [
        f'<!DOCTYPE html>\n<html lang="{r.lang}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(t('title', id=r.order.id))}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n",
        f"<h1>{_e(t('title', id=r.order.id))}</h1>\n",
        f'<p class="meta">{_e(t("generated", when=r.when(r.now), version=__version__, zone=r.zone.key))}</p>\n',
        f"<section><h2>{_e(t('h_order'))}</h2>\n<table class=\"facts\">{facts}</table></section>\n",
        f"<section><h2>{_e(t('h_timeline'))}</h2>\n<figure>{timeline_svg(r)}</figure></section>\n",
        f"<section><h2>{_e(t('h_events'))}</h2>\n{_events_table(r)}</section>\n",
        f"<section><h2>{_e(t('h_alerts'))}</h2>\n<p>{_e(t('alerts_what'))}</p>\n{_alerts_table(r)}</section>\n",
        f'<section class="integrity"><h2>{_e(t("h_integrity"))}</h2>\n<p>{_e(t("hash_intro"))}</p>\n'
        f'<p class="sha"><code>{r.sha256}</code></p>\n<p>{_e(t("hash_how", id=r.order.id))}</p>\n'
        f"<pre>{_e(RECHECK)}</pre></section>\n",
        "</main>\n</body>\n</html>\n",
    ]
    return "".join(parts)


def _events_table(r: Report) -> str:
    if not r.events:
        return f"<p>{_e(r.t('no_events'))}</p>\n"
    head = "".join(f"<th>{_e(r.t(k))}</th>" for k in ("col_time", "col_event", "col_where", "col_source",
                                                       "col_recorded"))
    rows = []
    for i, ev in enumerate(r.events, 1):
        cls = ' class="problem"' if ev.kind in _PROBLEM_KINDS else ""
        code = f", {ev.code}" if ev.code else ""
        source = ev.source + (f" {ev.number}" if ev.number != r.order.tracking else "")
        rows.append(f'<tr{cls}><td class="n">{i}</td><td class="t">{_e(r.when(ev.time))}</td>'
                    f"<td>{_e(ev.description)} <small>({_e(r.event_name(ev.kind))}{_e(code)})</small></td>"
                    f"<td>{_e(ev.location)}</td><td>{_e(source)}</td><td class=\"t\">{_e(r.when(ev.recorded))}</td></tr>")
    return f"<table class=\"events\"><thead><tr><th>#</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>\n"


def _alerts_table(r: Report) -> str:
    if not r.alerts:
        return f"<p>{_e(r.t('no_alerts'))}</p>\n"
    head = "".join(f"<th>{_e(r.t(k))}</th>" for k in ("col_first", "col_alert", "col_sent"))
    rows = "".join(f'<tr><td class="t">{_e(r.when(a.first_at))}</td><td>{_e(a.severity.upper())}: '
                   f"{_e(a.title or a.kind)}</td><td>{_e(deliveries(r, a))}</td></tr>" for a in r.alerts)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>\n"


# ---------------------------------------------------------------- the timeline


def _marks(r: Report) -> list[tuple[str, datetime, str, str]]:
    """(colour name, instant, label, day as labelled) of every date the order has, in time order."""
    o, z = r.order, r.zone
    marks = [("ordered", instant(o.ordered_on, z), "legend_ordered", o.ordered_on)]
    if o.promised_by:  # the promise covers the whole day: drawn at its end, labelled with the day itself
        marks.append(("promised", instant(o.promised_by, z) + timedelta(days=1), "legend_promised", o.promised_by))
    if o.protection_ends:
        marks.append(("protection", instant(o.protection_ends, z), "legend_protection", o.protection_ends))
    if r.delivered:
        marks.append(("delivered", r.delivered, "legend_delivered", r.local(r.delivered)))
    if o.dispute:
        for name, day, label in (("dispute", o.dispute.opened_on, "legend_dispute"),
                                 ("wait", o.dispute.wait_until, "legend_wait")):
            if day:
                marks.append((name, instant(day, z), label, day))
    marks.append(("today", r.now, "legend_today", r.local(r.now)))
    return sorted(((name, at, r.t(label), f"{day:%Y-%m-%d}") for name, at, label, day in marks), key=lambda m: m[1])


def label_rows(lines: list[float], widths: list[float]) -> list[tuple[int, float]]:
    """(row, left edge) of each label, its swatch over its line at `lines` (in increasing order): kept inside the
    figure, and put in the lowest row where it is at least _GAP from every label already there."""
    ends: list[float] = []  # the right edge of the last label in each row
    out = []
    for line, width in zip(lines, widths, strict=True):
        left = min(max(line - 2.5, 2.0), _W - 2.0 - width)
        row = next((i for i, end in enumerate(ends) if left >= end + _GAP), len(ends))
        if row == len(ends):
            ends.append(0.0)
        ends[row] = left + width
        out.append((row, left))
    return out


def timeline_svg(r: Report) -> str:
    """Events as dots on a time axis, with a vertical line at each of the order's dates and today, each labelled
    with its day above the lines, labels never on top of each other."""
    marks = _marks(r)
    times = [at for _, at, _, _ in marks] + [e.time for e in r.events]
    lo, hi = min(times), max(times)
    span = max(hi - lo, timedelta(days=1))
    lo, hi = lo - span * 0.04, hi + span * 0.04

    def x(at: datetime) -> float:
        return _LEFT + (_RIGHT - _LEFT) * ((at - lo) / (hi - lo))

    widths = [_SWATCH + _CHAR * max(len(label), len(day)) for _, _, label, day in marks]
    placed = label_rows([x(at) for _, at, _, _ in marks], widths)
    rows = max(row for row, _ in placed) + 1
    top = rows * _ROW + 6  # every line starts under the labels: none crosses another's label
    axis = top + 60
    bottom, ticks_y = axis + 50, axis + 68
    legend_y = ticks_y + 26
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {legend_y + 12}" role="img" '
           f'aria-label="{_e(r.t("h_timeline"))}" font-family="sans-serif" font-size="11">',
           f'<line x1="{_LEFT}" y1="{axis}" x2="{_RIGHT}" y2="{axis}" stroke="#9a9a9a" stroke-width="2"/>']
    out += _ticks(r, lo, hi, x, axis, ticks_y)
    for (name, at, what, day), (row, left) in zip(marks, placed, strict=True):
        dash = ' stroke-dasharray="8 4"' if name == "today" else ""
        y = (rows - 1 - row) * _ROW + 14  # row 0 sits right above the lines
        out.append(f'<g class="mark" data-mark="{name}"><line x1="{x(at):.1f}" y1="{top}" x2="{x(at):.1f}" '
                   f'y2="{bottom}" stroke="{COLORS[name]}" stroke-width="4"{dash}/>'
                   f'<rect x="{left:.1f}" y="{y - 10}" width="5" height="{_LINE + 11}" fill="{COLORS[name]}"/>'
                   f'<text class="label" x="{left + _SWATCH:.1f}" y="{y}" fill="#1b1b1b"><tspan>{_e(what)}</tspan>'
                   f'<tspan x="{left + _SWATCH:.1f}" dy="{_LINE}">{day}</tspan></text></g>')
    for i, ev in enumerate(r.events, 1):
        colour = COLORS["protection"] if ev.kind in _PROBLEM_KINDS else (
            COLORS["delivered"] if ev.kind == EventKind.DELIVERED.value else COLORS["event"])
        cx = x(ev.time)
        out.append(f'<circle cx="{cx:.1f}" cy="{axis}" r="7" fill="{colour}" stroke="#fff" stroke-width="1.5">'
                   f"<title>{_e(r.when(ev.time))} {_e(ev.description)}</title></circle>")
        out.append(f'<text x="{cx:.1f}" y="{axis - 14 - 12 * (i % 2)}" text-anchor="middle">{i}</text>')
    out += _legend(r, legend_y)
    out.append("</svg>")
    return "".join(out)


def _ticks(r: Report, lo: datetime, hi: datetime, x: Callable[[datetime], float], axis: float, y: float) -> list[str]:
    """Day labels with their year under the axis, about seven of them."""
    first, last = r.local(lo).date(), r.local(hi).date()
    step = max(1, ((last - first).days + 6) // 7)
    out, day = [], first + timedelta(days=1)
    while day <= last:
        at = x(instant(day, r.zone))
        out.append(f'<line x1="{at:.1f}" y1="{axis - 4}" x2="{at:.1f}" y2="{axis + 4}" stroke="#9a9a9a"/>'
                   f'<text class="tick" x="{at:.1f}" y="{y}" text-anchor="middle" fill="#444">{day:%Y-%m-%d}</text>')
        day += timedelta(days=step)
    return out


def _legend(r: Report, y: float) -> list[str]:
    """The two kinds of event dot (each date mark is labelled at its line)."""
    out = []
    for i, (colour, label) in enumerate(((COLORS["event"], r.t("legend_event")),
                                         (COLORS["protection"], r.t("legend_problem")))):
        lx = _LEFT + i * 200
        out.append(f'<circle cx="{lx}" cy="{y - 4}" r="5" fill="{colour}"/>'
                   f'<text x="{lx + 10}" y="{y}">{_e(label)}</text>')
    return out
