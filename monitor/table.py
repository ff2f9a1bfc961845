"""`status` for the terminal it is shown on: a table from 100 columns, else two lines per order; the order, its
status in words and its most urgent need are never cut, the rest is shortened with "…"."""
from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from monitor.messages import STATUS_WORDS, counted, fmt_deadline, fmt_due
from monitor.textsafe import printable

SEVERITY_STYLE = {"urgent": "bold red", "warning": "yellow", "info": "cyan"}
FULL_FROM = 100  # columns: narrower terminals get the compact form
PIPED_WIDTH = 140  # output read by a program or a pager, with no COLUMNS: a wide page rather than 80 columns
# The least room each wrapping column gets, then who gets the room left, in turn (a share of what is left):
# the need first, so it takes fewer lines; the item (under the order id), then the needs' deadlines last.
_LEAST = {"order": 20, "needs": 28, "last": 12, "status": 12}  # a longer order id folds onto more lines
_GROWTH = (("needs", 0.6), ("status", 1.0), ("last", 0.5), ("needs", 1.0), ("last", 1.0), ("order", 1.0))
_ONE_LINE_EVENT = 24  # columns of last event worth having to show each order on one line

# The table's own words (headers, countdowns, notes); the statuses are messages.STATUS_WORDS.
TEXTS = {
    "en": {
        "order": "order", "item": "item", "status": "status", "last": "last event", "promised": "promised",
        "protection": "protection", "needs": "needs", "ok": "ok", "in": "in {n}d", "today": "today",
        "ago": "{n}d ago", "late": "{n}d late",
        "hidden": "{orders} not shown (--all shows them)", "archived": "archived", "closed": "archived (closed {when})",
        "need": "{severity}: {title}", "severity": {"urgent": "urgent", "warning": "warning", "info": "info"},
    },
    "fr": {
        "order": "commande", "item": "article", "status": "état", "last": "dernier suivi", "promised": "promise",
        "protection": "protection", "needs": "à faire", "ok": "rien", "in": "dans {n} j", "today": "aujourd'hui",
        "ago": "il y a {n} j", "late": "{n} j de retard", "hidden": "{orders} hors de la liste (--all pour tout voir)",
        "archived": "archivée", "closed": "archivée (délais clos le {when})",
        "need": "{severity} : {title}", "severity": {"urgent": "urgent", "warning": "attention", "info": "info"},
    },
}


def countdown(days: int | None, passed: str = "ago", lang: str = "en") -> str:
    """'in 3d', 'today', '2d ago' (or '2d late'); 'dans 3 j'…"""
    t = TEXTS[lang]
    if days is None:
        return "-"
    if days == 0:
        return t["today"]
    return t["in"].format(n=days) if days > 0 else t[passed].format(n=-days)


def deadline_style(days: int | None, moot: bool) -> str:
    """Red within 3 days or once passed while the parcel is not here, yellow within a week; dim when moot."""
    if days is None or moot:
        return "dim"
    if days <= 3:
        return "bold red"
    return "yellow" if days <= 7 else ""


def status_words(row: dict[str, Any], lang: str) -> str:
    """The row's status as the buyer reads it; archived rows say since when (a window closes at 00:00)."""
    t = TEXTS[lang]
    if row["archived"] == "by_user":
        return t["archived"]
    if row["archived"]:
        return t["closed"].format(when=fmt_deadline(datetime.fromisoformat(row["archived_since"]), lang))
    return STATUS_WORDS[lang].get(row["status"], row["status"])


def _state(row: dict[str, Any], lang: str, apart: str = "\n") -> Text:
    """The status in words and, when the parcel was handed over, the destination carrier's own number (the one its
    counter and hotline know): under the words in the table, after an arrow on one line."""
    words = Text(status_words(row, lang))
    if not (ho := row.get("handover")):
        return words
    return words + Text(apart) + _cell(ho["number"] if apart == "\n" else f"\u2192 {ho['number']}", "dim")


def _cell(text: str, style: str = "") -> Text:
    """Watchlist or carrier text as a cell: shown as written, never read as rich markup or terminal controls."""
    return Text(printable(text, newlines=False), style=style)


def _item(row: dict[str, Any]) -> str:
    return " · ".join(p for p in (row["shop"], row["item"]) if p)


def _label(row: dict[str, Any], width: int, console: Console) -> Text:
    """Shop and item in `width` columns: the item alone when both do not fit, shortened if it must be."""
    for text in (_item(row), row["item"] or row["shop"] or ""):
        if _cell(text).cell_len <= width:
            break
    return _clip(_cell(text, "dim"), width, 1, console) if text and width >= 4 else Text()


def _urgency(row: dict[str, Any]) -> str:
    top = row["top_finding"]
    return SEVERITY_STYLE.get(top["severity"], "") if top else ""


def _need(row: dict[str, Any], lang: str, now: datetime | None = None, room: int = 0) -> Text:
    """'urgent: Buyer protection ends in 3 days', and its deadline when one is ahead and fits in `room` columns."""
    top = row["top_finding"]
    if not top:
        return Text(TEXTS[lang]["ok"], style="green")
    title = top["title"].removesuffix(f" ({_item(row) or row['order']})")  # the item is shown beside it
    t = TEXTS[lang]
    text = _cell(t["need"].format(severity=t["severity"].get(top["severity"], top["severity"]), title=title),
                 _urgency(row))
    due = datetime.fromisoformat(top["due"]) if top.get("due") else None
    if due is not None and now is not None and due > now:
        with_due = text + Text(f" · {fmt_due(due.astimezone(now.tzinfo), lang)}", style=_urgency(row))
        if with_due.cell_len <= room:
            return with_due
    return text


def _protection_days(row: dict[str, Any]) -> int | None:
    """Days to the next protection window to close, typed or computed; else to the typed end that passed."""
    return nxt["days"] if (nxt := row.get("next_window")) else row["days_to_protection_end"]


def _clip(text: Text, width: int, lines: int, console: Console) -> Text:
    """At most `lines` lines of `width` columns, the last one ending in "…" when text is left over."""
    wrapped = list(text.wrap(console, width))
    for line in wrapped:
        line.rstrip()
    if len(wrapped) <= lines:
        return Text("\n").join(wrapped)
    last = Text(" ").join(wrapped[lines - 1:])
    last.truncate(width, overflow="ellipsis")
    return Text("\n").join([*wrapped[:lines - 1], last])


def _widest(texts: list[Text], least: int = 0) -> int:
    return max([least, *(t.cell_len for t in texts)])


def status_table(rows: list[dict[str, Any]], hidden: int, lang: str = "en", width: int = PIPED_WIDTH,
                 now: datetime | None = None) -> Table | None:
    """The rows of `status --json` as a table `width` columns wide at most: the need wraps, never cut; the item
    (under the order) and the last event are shortened when the room is short. None when it cannot fit."""
    t = TEXTS[lang]
    console = Console(width=width)  # only measures and wraps text
    orders = [_cell(r["order"]) for r in rows]
    states = [_state(r, lang) for r in rows]
    events = [_cell(f'{countdown(-r["last_event_age_days"], lang=lang)} · {r["last_event"]["description"]}')
              if r["last_event"] else Text("-") for r in rows]
    promised = [countdown(r["days_to_promised"], "late", lang) for r in rows]
    protection = [countdown(_protection_days(r), lang=lang) for r in rows]
    items = [_cell(_item(r)) for r in rows]
    ids_w, items_w = _widest(orders, len(t["order"])), _widest(items, len(t["item"]))
    lines = [line for s in states for line in s.split()]  # a handover number under its status
    wants = {"order": max(ids_w, items_w), "status": _widest(lines, len(t["status"])),
             "last": _widest(events, len(t["last"])), "needs": _widest([_need(r, lang) for r in rows], len(t["needs"])),
             "due": _widest([_need(r, lang, now, width) for r in rows], len(t["needs"]))}
    widths = {k: max(min(wants[k] if k != "order" else ids_w, least), len(t[k])) for k, least in _LEAST.items()}
    fixed = max(map(len, [t["promised"], *promised])) + max(map(len, [t["protection"], *protection])) + 5 * 2
    # Wide enough for each order on one line (the last event shortened): the item gets a column of its own.
    apart = fixed + ids_w + 2 + items_w + wants["status"] + min(wants["last"], _ONE_LINE_EVENT) + wants["needs"] <= width
    if apart:
        fixed += items_w + 2
        wants["order"] = ids_w
    extra = width - fixed - sum(widths.values())
    if extra < 0:
        return None  # not even the least widths fit: the compact form
    # An id longer than the order column's least (Temu's PO-… ids are 21 characters) gets its room before the rest:
    # folded onto two lines, it reads as two ids.
    grow = max(0, min(ids_w - widths["order"], extra))
    widths["order"] += grow
    extra -= grow
    for name, share in _GROWTH:
        grow = max(0, min(wants[name] - widths[name], int(extra * share)))
        widths[name] += grow
        extra -= grow
    if wants["due"] - widths["needs"] <= extra:  # room for each need with its deadline on one line
        widths["needs"] = max(widths["needs"], wants["due"])
    table = Table(box=box.SIMPLE_HEAD, header_style="bold", expand=False, show_edge=False, pad_edge=False,
                  padding=(0, 1, 0, 0), caption=t["hidden"].format(orders=counted(hidden, "archived order", lang))
                  if hidden else None, caption_justify="left")
    table.add_column(t["order"], width=widths["order"], overflow="fold")
    if apart:
        table.add_column(t["item"], no_wrap=True)
    table.add_column(t["status"], width=widths["status"])
    table.add_column(t["last"], width=widths["last"], no_wrap=True)
    table.add_column(t["promised"], justify="right", no_wrap=True)
    table.add_column(t["protection"], justify="right", no_wrap=True)
    table.add_column(t["needs"], width=widths["needs"])
    for i, r in enumerate(rows):
        moot = r["status"] == "delivered" or r["archived"] is not None  # the countdowns no longer matter
        orders[i].stylize(_urgency(r) or "green")
        label = _label(r, widths["order"], console)
        first = (orders[i], _cell(_item(r))) if apart else (Text("\n").join([orders[i], label]) if label else orders[i],)
        table.add_row(
            *first,
            states[i],
            _clip(events[i], widths["last"], 1 if apart else 2, console),
            Text(promised[i], style=deadline_style(r["days_to_promised"], moot)),
            Text(protection[i], style=deadline_style(_protection_days(r), moot)),
            _need(r, lang, now, widths["needs"]),
            style="dim" if r["archived"] else None,
        )
    return table


def status_lines(rows: list[dict[str, Any]], hidden: int, lang: str, width: int,
                 now: datetime | None = None) -> Group:
    """The compact form: the order, its status and its item on one line (the item shortened to fit), its most urgent
    need on the next (wrapped, never cut)."""
    t = TEXTS[lang]
    console = Console(width=width)
    out: list[RenderableType] = []
    ids_w = _widest([_cell(r["order"]) for r in rows])
    for r in rows:
        head = _cell(r["order"], _urgency(r) or "green")
        if ids_w <= width // 3:  # the statuses in line, unless an id is so long that it would waste the line
            head.pad_right(ids_w - head.cell_len)
        head += Text("  ") + _state(r, lang, " ")
        if label := _label(r, width - head.cell_len - 2, console):
            head += Text("  ") + label
        need = _need(r, lang, now, width - 2)
        if r["archived"]:
            head.stylize("dim")
            need.stylize("dim")
        out.append(Group(head, Padding(need, (0, 0, 0, 2), expand=False)))
    if hidden:
        out.append(Text(t["hidden"].format(orders=counted(hidden, "archived order", lang)), style="dim"))
    return Group(*out)


def print_status(rows: list[dict[str, Any]], hidden: int, lang: str = "en", now: datetime | None = None,
                 console: Console | None = None) -> None:
    """Print the table, or the compact form below FULL_FROM columns of the terminal (or of COLUMNS)."""
    console = console or Console()
    if not console.is_terminal and not os.environ.get("COLUMNS", "").isdigit():
        console = Console(width=PIPED_WIDTH, file=console.file)  # a pipe with no width given: a wide page
    width = console.width
    table = status_table(rows, hidden, lang, width, now) if width >= FULL_FROM else None
    console.print(status_lines(rows, hidden, lang, width, now) if table is None else table)
