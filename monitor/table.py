"""`status` as a table: countdowns to the deadlines, colours by urgency, archived orders dimmed."""
from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from monitor.textsafe import printable

SEVERITY_STYLE = {"urgent": "bold red", "warning": "yellow", "info": "cyan"}


def countdown(days: int | None, passed: str = "ago") -> str:
    """'in 3d', 'today', '2d ago' (or '2d late')."""
    if days is None:
        return "-"
    if days == 0:
        return "today"
    return f"in {days}d" if days > 0 else f"{-days}d {passed}"


def deadline_style(days: int | None, moot: bool) -> str:
    """Red within 3 days or once passed while the parcel is not here, yellow within a week; dim when moot."""
    if days is None or moot:
        return "dim"
    if days <= 3:
        return "bold red"
    return "yellow" if days <= 7 else ""


def _archived(row: dict[str, Any]) -> str:
    if row["archived"] == "by_user":
        return "archived"
    return f"archived (closed {row['archived_since'][:10]})"


def _cell(text: str, style: str = "") -> Text:
    """Watchlist or carrier text as a cell: shown as written, never read as rich markup or terminal controls."""
    return Text(printable(text), style=style)


def status_table(rows: list[dict[str, Any]], hidden: int) -> Table:
    """The rows of `status --json` as a rich Table."""
    table = Table(box=box.SIMPLE_HEAD, header_style="bold", expand=False,
                  caption=f"{hidden} archived order{'s' if hidden != 1 else ''} not shown (--all shows them)"
                  if hidden else None, caption_justify="left")
    table.add_column("order", no_wrap=True)
    table.add_column("item", overflow="fold", max_width=24)
    table.add_column("status", no_wrap=True)
    table.add_column("last event", overflow="fold", max_width=26)
    table.add_column("promised", justify="right", no_wrap=True)
    table.add_column("protection", justify="right", no_wrap=True)
    table.add_column("needs", ratio=1)
    for r in rows:
        moot = r["status"] == "delivered" or r["archived"] is not None  # the countdowns no longer matter
        top = r["top_finding"]
        urgency = SEVERITY_STYLE.get(top["severity"], "") if top else ""
        last = r["last_event"]
        event = f'{last["description"]} ({countdown(-r["last_event_age_days"])})' if last else "-"
        promised = r["days_to_promised"]
        item = " · ".join(p for p in (r["shop"], r["item"]) if p)
        title = top["title"].removesuffix(f" ({item or r['order']})") if top else ""  # the item has its own column
        table.add_row(
            _cell(r["order"], urgency or "green"),
            _cell(item),
            _archived(r) if r["archived"] else r["status"],
            _cell(event),
            Text(countdown(promised, "late"), style=deadline_style(promised, moot)),
            Text(countdown(r["days_to_protection_end"]), style=deadline_style(r["days_to_protection_end"], moot)),
            _cell(f'{top["severity"]}: {title}', urgency) if top else Text("ok", style="green"),
            style="dim" if r["archived"] else None,
        )
    return table


def print_status(rows: list[dict[str, Any]], hidden: int, console: Console | None = None) -> None:
    """Print the table; piped output gets a wide page instead of wrapping at 80 columns."""
    console = console or Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 140), file=console.file)
    console.print(status_table(rows, hidden))
