"""The evidence report as one self-contained HTML file: inline CSS, an inline SVG timeline, print-ready (A4)."""
from __future__ import annotations

from datetime import datetime, timedelta
from html import escape

from carriers.model import EXCEPTION_KINDS, EventKind
from monitor import __version__
from monitor.report import RECHECK, Report, deliveries
from monitor.rules import instant

# The timeline's colours; the page uses none of them elsewhere, so a screenshot can find the timeline by them.
COLORS = {
    "ordered": "#6b7280", "promised": "#e69f00", "protection": "#d6272b", "delivered": "#1a9850",
    "today": "#2563eb", "dispute": "#8e44ad", "event": "#1f5fbf",
}
_PROBLEM_KINDS = {k.value for k in EXCEPTION_KINDS}
_W, _LEFT, _RIGHT, _AXIS, _TOP, _BOTTOM = 760, 40, 720, 96, 34, 150

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
blockquote { margin: 0; padding: 10px 14px; border-left: 4px solid #999; background: #f7f7f7; white-space: pre-wrap; }
code, pre { font: 12px/1.4 ui-monospace, "DejaVu Sans Mono", monospace; }
pre { white-space: pre-wrap; word-break: break-all; background: #f7f7f7; padding: 8px; }
.sha { font-size: 13px; word-break: break-all; }
@page { size: A4; margin: 14mm; }
@media print {
  body { font-size: 10pt; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  main { max-width: none; padding: 0; }
  h2 { break-after: avoid; }
  tr, figure, blockquote, .integrity { break-inside: avoid; }
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
        f"<section><h2>{_e(t('h_alerts'))}</h2>\n{_alerts_table(r)}</section>\n",
        f"<section><h2>{_e(t('h_dispute'))}</h2>\n<blockquote>{_e(r.dispute_text())}</blockquote></section>\n",
        f"<section><h2>{_e(t('h_checklist'))}</h2>\n<ul>"
        + "".join(f"<li>{_e(item)}</li>" for item in r.checklist()) + "</ul></section>\n",
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


def _marks(r: Report) -> list[tuple[str, datetime, str]]:
    """(colour name, instant, label) of every date the order has, in time order."""
    o, z = r.order, r.zone
    marks = [("ordered", instant(o.ordered_on, z), r.t("legend_ordered"))]
    if o.promised_by:  # the promise covers the whole day: drawn at its end
        marks.append(("promised", instant(o.promised_by, z) + timedelta(days=1), r.t("legend_promised")))
    if o.protection_ends:
        marks.append(("protection", instant(o.protection_ends, z), r.t("legend_protection")))
    if r.delivered:
        marks.append(("delivered", r.delivered, r.t("legend_delivered")))
    if o.dispute:
        for day, label in ((o.dispute.opened_on, "legend_dispute"), (o.dispute.wait_until, "legend_wait")):
            if day:
                marks.append(("dispute", instant(day, z), r.t(label)))
    marks.append(("today", r.now, r.t("legend_today")))
    return sorted(marks, key=lambda m: m[1])


def timeline_svg(r: Report) -> str:
    """Events as dots on a time axis, with vertical lines at the order's dates and today."""
    marks = _marks(r)
    times = [m[1] for m in marks] + [e.time for e in r.events]
    lo, hi = min(times), max(times)
    span = max(hi - lo, timedelta(days=1))
    lo, hi = lo - span * 0.04, hi + span * 0.04

    def x(at: datetime) -> float:
        return _LEFT + (_RIGHT - _LEFT) * ((at - lo) / (hi - lo))

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} 230" role="img" '
           f'aria-label="{_e(r.t("h_timeline"))}" font-family="sans-serif" font-size="11">',
           f'<line x1="{_LEFT}" y1="{_AXIS}" x2="{_RIGHT}" y2="{_AXIS}" stroke="#9a9a9a" stroke-width="2"/>']
    out += _ticks(r, lo, hi, x)
    for name, at, _ in marks:
        dash = ' stroke-dasharray="8 4"' if name == "today" else ""
        out.append(f'<line x1="{x(at):.1f}" y1="{_TOP}" x2="{x(at):.1f}" y2="{_BOTTOM}" stroke="{COLORS[name]}" '
                   f'stroke-width="4"{dash}/>')
    for i, ev in enumerate(r.events, 1):
        colour = COLORS["protection"] if ev.kind in _PROBLEM_KINDS else (
            COLORS["delivered"] if ev.kind == EventKind.DELIVERED.value else COLORS["event"])
        cx = x(ev.time)
        out.append(f'<circle cx="{cx:.1f}" cy="{_AXIS}" r="7" fill="{colour}" stroke="#fff" stroke-width="1.5">'
                   f"<title>{_e(r.when(ev.time))} {_e(ev.description)}</title></circle>")
        out.append(f'<text x="{cx:.1f}" y="{_AXIS - 14 - 12 * (i % 2)}" text-anchor="middle">{i}</text>')
    out += _legend(r, marks)
    out.append("</svg>")
    return "".join(out)


def _ticks(r: Report, lo: datetime, hi: datetime, x) -> list[str]:  # type: ignore[no-untyped-def]
    """Day labels under the axis, about eight of them."""
    first, last = r.local(lo).date(), r.local(hi).date()
    step = max(1, ((last - first).days + 7) // 8)
    out, day = [], first + timedelta(days=1)
    while day <= last:
        at = x(instant(day, r.zone))
        out.append(f'<line x1="{at:.1f}" y1="{_AXIS - 4}" x2="{at:.1f}" y2="{_AXIS + 4}" stroke="#9a9a9a"/>'
                   f'<text x="{at:.1f}" y="{_BOTTOM + 16}" text-anchor="middle" fill="#444">{day:%m-%d}</text>')
        day += timedelta(days=step)
    return out


def _legend(r: Report, marks: list[tuple[str, datetime, str]]) -> list[str]:
    """One line per date mark with its day, and the two kinds of event dot."""
    entries = [(COLORS[n], f"{label} {r.local(at):%Y-%m-%d}", "line") for n, at, label in marks]
    entries += [(COLORS["event"], r.t("legend_event"), "dot"), (COLORS["protection"], r.t("legend_problem"), "dot")]
    out = []
    for i, (colour, label, shape) in enumerate(entries):
        lx, ly = _LEFT + (i % 4) * 172, 190 + (i // 4) * 18
        symbol = (f'<line x1="{lx}" y1="{ly - 9}" x2="{lx}" y2="{ly + 3}" stroke="{colour}" stroke-width="4"/>'
                  if shape == "line" else f'<circle cx="{lx}" cy="{ly - 3}" r="5" fill="{colour}"/>')
        out.append(f'{symbol}<text x="{lx + 10}" y="{ly + 1}">{_e(label)}</text>')
    return out
