"""The `tracking-monitor` command line. Exit codes: 0 ok, 2 bad config or usage, 1 anything else."""
from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from carriers.base import load_registry
from carriers.detect import Candidate, Detection, detect, rank
from monitor import __version__
from monitor.config import App, config_path, load_app
from monitor.cycle import evaluate_all, order_histories, run_cycle
from monitor.errors import ConfigError, MonitorError
from monitor.notify import Notifier, print_alert
from monitor.rules import Finding, instant, most_urgent
from monitor.store import Store

cli = typer.Typer(
    add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
    help="Watch cross-border orders and get told before a buyer-protection deadline passes.",
)


@dataclass
class Opts:
    """Options shared by every command."""

    config: Path | None
    verbose: bool


_SYSLOG_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}


def _priority(record: logging.LogRecord) -> bool:
    record.priority = _SYSLOG_PRIORITY.get(record.levelno, 6)
    return True


def _setup_logging(verbose: bool) -> None:
    # Under systemd the journal stamps the time itself and reads "<N>" as the syslog priority.
    if os.environ.get("JOURNAL_STREAM"):
        fmt = "<%(priority)d>%(message)s"
    else:
        fmt = "%(asctime)s %(levelname)s %(message)s"
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format=fmt, stream=sys.stderr, force=True)
    for handler in logging.getLogger().handlers:
        handler.addFilter(_priority)
    for noisy in ("apscheduler", "httpx", "httpcore", "apprise"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _fail(exc: MonitorError) -> NoReturn:
    """Print a MonitorError as plain lines and exit with its code."""
    problems = exc.problems if isinstance(exc, ConfigError) else [str(exc)]
    for p in problems:
        typer.echo(f"error: {p}", err=True)
    raise typer.Exit(exc.exit_code)


def _load(opts: Opts, clock: Any) -> App:
    try:
        return load_app(opts.config, clock)
    except MonitorError as exc:
        _fail(exc)


def _now() -> datetime:
    return datetime.now(UTC)


def _parse_now(text: str | None, app: App) -> datetime:
    """--now as an aware instant; a bare date or naive time is in the watchlist's zone."""
    if text is None:
        return _now()
    try:
        value: date | datetime = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        typer.echo(f"error: --now: expected an ISO date or date-time like 2026-12-01T09:00, got {text!r}", err=True)
        raise typer.Exit(2) from None
    return instant(value, app.watchlist.monitor.zone).astimezone(UTC)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"tracking-monitor {__version__}")
        raise typer.Exit(0)


@cli.callback()
def main(
    ctx: typer.Context,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Watchlist file (else $TRACKING_MONITOR_CONFIG, else /etc/tracking-monitor/config.toml).")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
    version: Annotated[bool, typer.Option("--version", is_eager=True, callback=_print_version,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Watch cross-border orders and get told before a buyer-protection deadline passes."""
    _setup_logging(verbose)
    ctx.obj = Opts(config, verbose)


@cli.command()
def validate(ctx: typer.Context) -> None:
    """Check the watchlist; print one line per problem (file:line or field) and exit 2 if any."""
    app = _load(ctx.obj, _now)
    skipped = [f"{o.id}: not polled: {app.why_no_source(o)}" for o in app.watchlist.orders
               if o.tracking and app.source(o) is None]
    for line in skipped:
        typer.echo(f"note: {line}", err=True)
    typer.echo(f"{app.path}: ok, {len(app.watchlist.orders)} orders")


@cli.command()
def check(
    ctx: typer.Context,
    now: Annotated[str | None, typer.Option(help="Evaluate as if at this instant (ISO date or date-time).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Send and record nothing; show what would be sent.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print only a JSON array of the findings sent.")] = False,
) -> None:
    """Run one full cycle (poll what is due, evaluate, notify) and exit."""
    holder: list[datetime] = [_now()]
    app = _load(ctx.obj, lambda: holder[0])
    holder[0] = _parse_now(now, app)
    out = sys.stderr if as_json else sys.stdout
    try:
        store = Store.in_dir(app.state_dir)
        if not dry_run:
            store.clear_auth_failures()  # each check is a fresh start: a key fixed since is asked again
        if dry_run:
            real, store = store, store.snapshot()
            real.close()
        m = app.watchlist.monitor
        notifier = None if dry_run else Notifier(store, app.destinations, m.language, m.zone, out)
        result = asyncio.run(_cycle(app, store, holder[0], notifier))
    except MonitorError as exc:
        _fail(exc)
    if dry_run and not as_json:
        for f in result.new:
            print_alert(f.severity.value, f"(dry run) {f.title}", f"{f.message}\n\n{f.action}", out)
    if as_json:
        sys.stdout.write(json.dumps([f.as_json() for f in result.new], ensure_ascii=False, indent=2) + "\n")


async def _cycle(app: App, store: Store, now: datetime, notifier: Notifier | None):  # type: ignore[no-untyped-def]
    try:
        return await run_cycle(app, store, now, notifier)
    finally:
        await app.aclose()
        store.close()


@cli.command()
def status(
    ctx: typer.Context,
    now: Annotated[str | None, typer.Option(help="Evaluate as if at this instant.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array instead of lines.")] = False,
) -> None:
    """One line per order: carrier, tracking status, last event, days to the deadlines, most urgent finding."""
    app = _load(ctx.obj, _now)
    at = _parse_now(now, app)
    try:
        store = Store.in_dir(app.state_dir)
        histories = order_histories(app, store)
        findings = evaluate_all(app, store, at, histories)
        store.close()
    except MonitorError as exc:
        _fail(exc)
    rows = [_status_row(app, o, histories[o.id], findings, at) for o in app.watchlist.orders]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rows:
        typer.echo(_status_line(r, app.watchlist.monitor.language))


def _status_row(app: App, order: Any, hist: Any, findings: list[Finding], at: datetime) -> dict[str, Any]:
    zone = app.watchlist.monitor.zone
    today = at.astimezone(zone).date()
    last = hist.events[-1] if hist.events else None
    top = most_urgent([f for f in findings if f.order_id == order.id])
    if order.delivered_on:
        state = "delivered"
    elif hist.failing_since is not None:
        state = "failing"
    elif hist.status is not None:
        state = hist.status.value
    elif order.tracking:
        state = "not polled" if app.source(order) is None else "pending"
    else:
        state = "no tracking"
    prot = instant(order.protection_ends, zone).date() if order.protection_ends else None
    return {
        "order": order.id,
        "shop": order.shop,
        "item": order.item,
        "carrier": hist.carrier or None,
        "tracking": order.tracking,
        "status": state,
        "last_event": {"time": last.time.isoformat(), "description": last.description,
                       "location": last.location} if last else None,
        "last_event_age_days": (today - last.time.astimezone(zone).date()).days if last else None,
        "days_to_promised": (order.promised_by - today).days if order.promised_by else None,
        "days_to_protection_end": (prot - today).days if prot else None,
        "top_finding": {"kind": top.kind.value, "severity": top.severity.value, "title": top.title} if top else None,
    }


def _status_line(r: dict[str, Any], lang: str) -> str:
    def days(n: int | None, label: str) -> str:
        return f"{label} {n:+d}d" if n is not None else f"{label} -"

    last = r["last_event"]
    event = f'"{last["description"][:40]}" {r["last_event_age_days"]}d ago' if last else "no events"
    top = f'{r["top_finding"]["severity"].upper()}: {r["top_finding"]["title"]}' if r["top_finding"] else "ok"
    return "  ".join([
        f'{r["order"]:<18}', f'{r["carrier"] or "-":<9}', f'{r["status"]:<16}', f"{event:<52}",
        days(r["days_to_promised"], "promised"), days(r["days_to_protection_end"], "protection"), top,
    ])


@cli.command()
def run(ctx: typer.Context) -> None:
    """Run the daemon: poll on poll_interval, evaluate, notify; SIGTERM or Ctrl-C stop it cleanly."""
    from monitor.daemon import Daemon

    try:
        daemon = Daemon(ctx.obj.config, _now)
        asyncio.run(daemon.serve())
    except MonitorError as exc:
        _fail(exc)


@cli.command("detect")
def detect_command(
    ctx: typer.Context,
    number: Annotated[str, typer.Argument(help="The tracking number (spaces and case do not matter).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON object instead of lines.")] = False,
) -> None:
    """Which carriers can track NUMBER, in the order they would be asked, and why; says when a check digit is wrong."""
    found = detect(number)
    path = config_path(ctx.obj.config)
    app = _load(ctx.obj, _now) if path.exists() else None
    if app is not None:
        asyncio.run(app.aclose())
    usable = app.carriers if app else {}
    installed = load_registry()

    def status(carrier: str) -> str:
        if carrier in usable:
            return "usable"
        if carrier not in installed:
            return "not installed"
        if app is None:
            return "installed"
        why = app.skipped.get(carrier)
        return "would be asked if configured" + (f" ({why})" if why else "")

    ranked = [(c, status(c.carrier)) for c in rank(found.candidates, usable)]
    if as_json:
        typer.echo(json.dumps({
            "number": found.number,
            "formats": [{"format": m.format, "note": m.note or None,
                         "check": {"found": m.check.found, "expected": m.check.expected, "ok": m.check.ok}
                         if m.check else None} for m in found.matches],
            "problems": list(found.problems),
            "config": str(path) if app else None,
            "candidates": [{"carrier": c.carrier, "score": c.score, "reason": c.reason, "status": st,
                            "usable": c.carrier in usable} for c, st in ranked],
        }, ensure_ascii=False, indent=2))
    elif ranked:
        _print_detection(found, ranked, path, app is not None)
    else:
        for p in found.problems:
            typer.echo(f"error: {p}", err=True)
    if not ranked:
        raise typer.Exit(2)


def _print_detection(found: Detection, ranked: list[tuple[Candidate, str]], path: Path, has_config: bool) -> None:
    typer.echo(found.number)
    for m in found.matches:
        typer.echo(f"format: {m.summary()}")
    if not found.matches:
        typer.echo("format: none that tracking-monitor knows")
    for p in found.problems:
        typer.echo(f"problem: {p}")
    typer.echo(f"config: {path}" if has_config else f"config: none found at {path}: ranking by format only")
    for i, (c, st) in enumerate(ranked, 1):
        typer.echo(f"{i:2}. {c.carrier:<10} {c.score:.2f}  {st}")
        typer.echo(f"    {c.reason}")
    if asked := [c.carrier for c, st in ranked if st == "usable"]:
        typer.echo(f"would ask: {', then '.join(asked)}")
    elif has_config:
        typer.echo("no usable carrier in this config can track it: configure one above")


def entry() -> None:
    """Console-script entry point: never a traceback for a known error."""
    try:
        cli()
    except KeyboardInterrupt:
        raise SystemExit(130) from None
