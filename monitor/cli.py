"""The `tracking-monitor` command line. Exit codes: 0 ok, 2 bad config or usage, 1 anything else."""
from __future__ import annotations

import asyncio
import difflib
import json
import logging
import os
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from monitor import __version__
from monitor.config import App, load_app, privacy_url
from monitor.cycle import evaluate_all, order_histories, run_cycle
from monitor.errors import ConfigError, MonitorError
from monitor.messages import fmt_when
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
    if not verbose:
        # Apprise's complaints come back in each send's result and are logged once, naming the destination.
        apprise_log = logging.getLogger("apprise")
        apprise_log.propagate = False
        apprise_log.addHandler(logging.NullHandler())


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
        if dry_run:
            real, store = store, store.snapshot()
            real.close()
        notifier = None if dry_run else Notifier.for_app(app, store, out)
        result = asyncio.run(_cycle(app, store, holder[0], notifier))
    except MonitorError as exc:
        _fail(exc)
    if dry_run and not as_json:
        for f in [*result.new, *result.repeated]:
            print_alert(f.severity.value, f"(dry run) {f.title}", f"{f.message}\n\n{f.action}", out)
    if as_json:
        sent = [*result.new, *result.repeated]
        sys.stdout.write(json.dumps([f.as_json() for f in sent], ensure_ascii=False, indent=2) + "\n")


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


@cli.command("notify-test")
def notify_test(
    ctx: typer.Context,
    destination: Annotated[list[str] | None, typer.Option("--destination", "-d", help="Only this destination (by name); may be repeated.")] = None,
) -> None:
    """Send one test message to each destination; print each one's result; exit 1 if any failed."""
    app = _load(ctx.obj, _now)
    by_name = {d.name or d.id: d.id for d in app.destinations.values()}
    unknown = [n for n in destination or () if n not in by_name]
    for name in unknown:
        close = difflib.get_close_matches(name, list(by_name), n=1)
        hint = f'did you mean "{close[0]}"?' if close else f"expected one of: {', '.join(by_name)}"
        typer.echo(f'error: --destination "{name}": no such destination; {hint}', err=True)
    if unknown:
        raise typer.Exit(2)
    ids = [by_name[n] for n in destination] if destination else list(app.destinations)
    try:
        store = Store(":memory:")  # a test message goes around the outbox: it is neither queued nor retried
        results = asyncio.run(Notifier.for_app(app, store).test(ids))
    except MonitorError as exc:
        _fail(exc)
    width = max(len(d.name or d.id) for d, _ in results)
    for dest, error in results:
        where = privacy_url(dest.url) if dest.url else "printed above"
        typer.echo(f"{'ok' if error is None else 'FAILED':<8}{dest.name or dest.id:<{width}}  {where}"
                   + (f"\n        {error}" if error else ""))
    raise typer.Exit(1 if any(error for _, error in results) else 0)


@cli.command()
def outbox(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array instead of lines.")] = False,
) -> None:
    """Alerts not delivered yet: waiting, held by quiet hours, retrying (with the last error), or expired."""
    app = _load(ctx.obj, _now)
    try:
        store = Store.in_dir(app.state_dir)
        rows = Notifier.for_app(app, store).report(_now())
        store.close()
    except MonitorError as exc:
        _fail(exc)
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        typer.echo("outbox empty: every alert was delivered")
        return
    zone, lang = app.watchlist.monitor.zone, app.watchlist.monitor.language

    def local(value: object) -> str:
        return fmt_when(datetime.fromisoformat(str(value)).astimezone(zone), lang)

    for r in rows:
        then = {"waiting": "goes out at the next delivery", "retrying": "next try {}", "held": "quiet hours until {}",
                "expired": "gave up {}", "orphaned": "its destination is no longer in the watchlist"}[str(r["state"])]
        if "{}" in then:
            then = then.format(local(r["expired"] or r["next_attempt"]))
        attempts = f"{r['attempts']} attempt{'' if r['attempts'] == 1 else 's'}"
        typer.echo(f"{r['state']:<9}{str(r['severity']).upper():<8}{r['order'] or '-'}  {r['title']}\n"
                   f"         to {r['destination']}; queued {local(r['queued'])}, {attempts}; {then}"
                   + (f"\n         last error: {r['last_error']}" if r["last_error"] else ""))


def entry() -> None:
    """Console-script entry point: never a traceback for a known error."""
    try:
        cli()
    except KeyboardInterrupt:
        raise SystemExit(130) from None
