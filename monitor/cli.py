"""The `tracking-monitor` command line. Exit codes: 0 ok, 2 bad config or usage, 1 anything else."""
from __future__ import annotations

import asyncio
import difflib
import json
import logging
import os
import sqlite3
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn
from zoneinfo import ZoneInfo

import typer
from typer.core import TyperCommand, TyperGroup

from carriers.base import load_registry
from carriers.detect import Candidate, Detection, detect, rank
from monitor import __version__
from monitor.config import App, config_path, load_app, privacy_url, secret_names, secret_origin
from monitor.cycle import evaluate_all, nothing_new, order_histories, run_cycle
from monitor.edit import Editor, parse_assignments, write_atomic
from monitor.errors import ConfigError, MonitorError, UnknownOrder
from monitor.lifecycle import archived, tracking_state
from monitor.messages import LANGUAGES, counted, fmt_deadline, fmt_when, fragment
from monitor.notify import Notifier, print_alert
from monitor.paths import SYSTEM_ENV, hand_back, missing_config_hint, resolve
from monitor.rules import Finding, delivered_at, instant, most_urgent, order_windows
from monitor.store import Store, state_failure, state_file
from monitor.textsafe import printable
from monitor.watchlist import WINDOW_HINT, in_window


class _FlagsTakeNoValue:
    """Typer prints a `<bool>` type beside every flag (--help too), as if it took a value: a flag shows none."""

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)  # type: ignore[misc]
        for param in params:
            if getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = ""
        return params


class _Command(_FlagsTakeNoValue, TyperCommand):
    """A command whose flags show no type in --help."""


class _Group(_FlagsTakeNoValue, TyperGroup):
    """The command group, whose flags show no type in --help."""


class _Typer(typer.Typer):
    """Every command of this CLI is a _Command."""

    def command(self, *args: Any, cls: Any = None, **kwargs: Any) -> Any:
        """typer.Typer.command, with _Command as the default class."""
        return super().command(*args, cls=cls or _Command, **kwargs)


cli = _Typer(
    cls=_Group, add_completion=True, no_args_is_help=True, pretty_exceptions_enable=False,
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


class _SafeFormatter(logging.Formatter):
    """Log lines quote carrier texts and watchlist values: never with a terminal escape sequence in them."""

    def format(self, record: logging.LogRecord) -> str:
        return printable(super().format(record))


def _setup_logging(verbose: bool) -> None:
    # Under systemd the journal stamps the time itself and reads "<N>" as the syslog priority.
    if os.environ.get("JOURNAL_STREAM"):
        fmt = "<%(priority)d>%(message)s"
    else:
        fmt = "%(asctime)s %(levelname)s %(message)s"
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format=fmt, stream=sys.stderr, force=True)
    for handler in logging.getLogger().handlers:
        handler.addFilter(_priority)
        # The machine's local time, with its offset: alerts speak the watchlist's zone, which may differ.
        handler.setFormatter(_SafeFormatter(fmt, datefmt="%Y-%m-%d %H:%M:%S%z"))
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


@contextmanager
def _state_errors(app: App) -> Iterator[None]:
    """A MonitorError, and any error of the state database (damaged, locked…), as one `error:` line and exit 1."""
    try:
        yield
    except MonitorError as exc:
        _fail(exc)
    except sqlite3.Error as exc:
        _fail(state_failure(str(state_file(app.state_dir)), exc))


def _store(app: App) -> Store:
    """The app's state; what root creates in the service's state directory is handed back to its owner."""
    hand_back(app.state_dir)
    return Store.in_dir(app.state_dir)


def _load(opts: Opts, clock: Any, *, sending: bool = False) -> App:
    """The app; only a command that sends (`sending`) fails on a destination whose secret it cannot read."""
    try:
        return load_app(opts.config, clock, sending=sending)
    except MonitorError as exc:
        _fail(exc)


def _usage(message: str) -> NoReturn:
    """A wrong option value: one line, exit 2."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _now() -> datetime:
    return datetime.now(UTC)


def _load_at(opts: Opts, now: str | None, *, sending: bool = False, shift: bool = True) -> tuple[App, datetime]:
    """The app and the instant to evaluate at (--now, read in the watchlist's zone); its clock gives that instant.
    A demo watchlist's dates follow the day evaluated (`shift`), else they stay at today's."""
    holder = [_now()]
    app = _load(opts, lambda: holder[0], sending=sending)
    holder[0] = _parse_now(now, app)
    return app.on_day(holder[0]) if shift else app, holder[0]


def _parse_now(text: str | None, app: App) -> datetime:
    """--now as an aware instant; a bare date or naive time is in the watchlist's zone."""
    if text is None:
        return _now()
    try:
        value: date | datetime = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        _usage(f"--now: expected an ISO date or date-time like 2026-12-01T09:00, got {text!r}")
    if not in_window(value):  # the watchlist's dates are in this window too; far outside it, instants overflow
        _usage(f"--now: expected {WINDOW_HINT}, got {text!r}")
    return instant(value, app.watchlist.monitor.zone).astimezone(UTC)


def _order_ids(ctx: typer.Context, incomplete: str) -> list[str]:
    """Shell completion of an order id: the ids in the watchlist the command would read (unchecked, quick)."""
    import tomllib

    root = ctx.find_root().params
    if root.get("system"):
        os.environ[SYSTEM_ENV] = "1"
    try:
        data = tomllib.loads(config_path(root.get("config")).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    orders = data.get("orders")
    ids = [str(o.get("id", "")) for o in orders if isinstance(o, dict)] if isinstance(orders, list) else []
    return [i for i in ids if i.startswith(incomplete)]


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"tracking-monitor {__version__}")
        raise typer.Exit(0)


@cli.callback()
def main(
    ctx: typer.Context,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Watchlist file (else $TRACKING_MONITOR_CONFIG, else ~/.config/tracking-monitor/config.toml, or /etc/tracking-monitor/config.toml for root and --system); `paths` shows which.")] = None,
    system: Annotated[bool, typer.Option("--system", help="Use the service's watchlist, state and secrets "
                                                          "(/etc/tracking-monitor, /var/lib/tracking-monitor), as root does.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
    version: Annotated[bool, typer.Option("--version", is_eager=True, callback=_print_version,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Watch cross-border orders and get told before a buyer-protection deadline passes."""
    _setup_logging(verbose)
    if system:  # through the environment, so that every part (and a child process) resolves the same paths
        os.environ[SYSTEM_ENV] = "1"
    ctx.obj = Opts(config, verbose)


@cli.command()
def validate(ctx: typer.Context) -> None:
    """Check the watchlist; print one line per problem (file:line or field) and exit 2 if any."""
    app = _load(ctx.obj, _now)
    skipped = [f"{o.id}: no source can track {o.tracking}: {app.why_no_source(o)}" for o in app.watchlist.orders
               if o.tracking and app.source(o) is None]
    for line in skipped:
        typer.echo(f"note: {line}", err=True)
    from monitor.inbox import password_warning

    if mailbox := password_warning(app.path, app.watchlist.import_.imap):
        typer.echo(f"warning: {mailbox}", err=True)
    typer.echo(f"{app.path}: ok, {counted(len(app.watchlist.orders), 'order')}")


@cli.command()
def check(
    ctx: typer.Context,
    now: Annotated[str | None, typer.Option(help="Preview as if at this instant (ISO date or date-time): records "
                                                 "and sends nothing unless --record.")] = None,
    record: Annotated[bool, typer.Option("--record", help="With --now: send and record as a real check would.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Send and record nothing; show what would be sent.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print only a JSON array of the findings sent.")] = False,
) -> None:
    """Run one full cycle (poll what is due, evaluate, notify) and exit."""
    if record and (dry_run or now is None):
        _usage("--record goes with --now, and not with --dry-run")
    # A look at another day is a preview: recording it would mark next week's alerts as sent today.
    ahead = now is not None and not (record or dry_run)
    preview = dry_run or ahead
    # A look ahead keeps a demo's dates at today's, and asks no carrier: it shows what comes if nothing moves.
    app, at = _load_at(ctx.obj, now, sending=not preview, shift=not ahead)
    out = sys.stderr if as_json else sys.stdout
    with _state_errors(app):
        store = _store(app)
        if preview:
            real, store = store, store.snapshot()
            real.close()
        else:
            store.clear_auth_failures()  # each check is a fresh start: a key fixed since is asked again
        notifier = None if preview else Notifier.for_app(app, store, out)
        try:
            result = asyncio.run(_cycle(app, store, at, notifier, polling=not ahead))
            quiet = "" if result.new or result.repeated else nothing_new(app, store)
        finally:
            store.close()
    sent = [*result.new, *result.repeated]
    if as_json:
        _json_array(f.as_json() for f in sent)
        return
    lang, zone = app.watchlist.monitor.language, app.watchlist.monitor.zone
    for f in sent if preview else ():
        print_alert(f.severity.value, fragment("preview_alert", lang, label=_preview_label(dry_run, at, zone, lang),
                                               order=f.order_id, title=f.title), f"{f.message}\n\n{f.action}", out)
    if quiet:
        typer.echo(f"({_preview_label(dry_run, at, zone, 'en')}) {quiet}" if preview else quiet)


def _preview_label(dry_run: bool, at: datetime, zone: ZoneInfo, lang: str) -> str:
    """'dry run', or 'preview at 8 Dec 2026' for a look ahead, in `lang`."""
    return fragment("preview_dry", lang) if dry_run else fragment("preview_at", lang,
                                                                   when=fmt_when(at.astimezone(zone), lang))


async def _cycle(app: App, store: Store, now: datetime, notifier: Notifier | None,  # type: ignore[no-untyped-def]
                 polling: bool = True):
    try:
        return await run_cycle(app, store, now, notifier, polling)
    finally:
        await app.aclose()


def _json_array(items: Iterable[Any]) -> None:
    """Print a JSON array with one item per line, as it is encoded."""
    # json.dumps(indent=...) runs the pure-Python encoder: 20 s of 44 for `status --json` on 100,000 orders, and the
    # whole text in memory. One compact item per line uses the C encoder, streams, and still greps and diffs by item.
    out, sep = sys.stdout, "[\n"
    for item in items:
        out.write(sep + json.dumps(item, ensure_ascii=False))
        sep = ",\n"
    out.write("[]\n" if sep == "[\n" else "\n]\n")


@cli.command()
def status(
    ctx: typer.Context,
    now: Annotated[str | None, typer.Option(help="Evaluate as if at this instant.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array instead of a table.")] = False,
    show_all: Annotated[bool, typer.Option("--all", help="Include archived orders.")] = False,
) -> None:
    """The orders: status, last event, countdowns to the deadlines, the most urgent need; fits the terminal."""
    app, at = _load_at(ctx.obj, now)
    with _state_errors(app):
        store = _store(app)
        histories = order_histories(app, store, at)
        findings = evaluate_all(app, store, at, histories)
        store.close()
    by_order: dict[str, list[Finding]] = {}
    for f in findings:
        by_order.setdefault(f.order_id, []).append(f)
    rows = [_status_row(app, o, histories[o.id], by_order.get(o.id, []), at) for o in app.watchlist.orders]
    shown = rows if show_all else [r for r in rows if r["archived"] is None]
    if as_json:
        _json_array(shown)
        return
    m = app.watchlist.monitor
    from monitor.table import print_status  # rich: loaded by the commands that draw, not by the daemon

    print_status(shown, len(rows) - len(shown), m.language, at.astimezone(m.zone))


def _status_row(app: App, order: Any, hist: Any, findings: list[Finding], at: datetime) -> dict[str, Any]:
    """One order's row; `findings` are that order's."""
    zone = app.watchlist.monitor.zone
    today = at.astimezone(zone).date()
    last = hist.last_event(at)
    top = most_urgent(findings)
    state = tracking_state(order, hist, app.source(order) is not None)
    prot = instant(order.protection_ends, zone).date() if order.protection_ends else None
    shelved = archived(order, hist, at, zone, app.windows)
    received = delivered_at(order, hist, zone)
    windows = order_windows(order, received if received is not None and received <= at else None, zone, app.windows,
                            app.watchlist.monitor.language)
    nearest = min((w for w in windows if w.ends is not None and w.ends > at), key=lambda w: w.ends, default=None)
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
        "top_finding": {"kind": top.kind.value, "severity": top.severity.value, "title": top.title,
                        "due": top.due.astimezone(zone).isoformat() if top.due else None} if top else None,
        "handover": {"carrier": ho.carrier or None, "number": ho.number} if (ho := hist.handover) else None,
        "archived": None if shelved is None else "by_user" if shelved.by_user else "windows_closed",
        "archived_since": shelved.since.astimezone(zone).isoformat() if shelved and shelved.since else None,
        "windows": [w.as_json() for w in windows],
        # The window that closes first among those still open, typed or computed: the table's protection column.
        "next_window": None if nearest is None or nearest.ends is None else {
            "window": nearest.name, "title": nearest.title, "ends": nearest.ends.astimezone(zone).isoformat(),
            "days": (nearest.ends.astimezone(zone).date() - today).days},
    }


@cli.command()
def run(ctx: typer.Context) -> None:
    """Run the daemon: poll on poll_interval, evaluate, notify; SIGTERM or Ctrl-C stop it cleanly."""
    from monitor.daemon import Daemon

    try:
        daemon = Daemon(ctx.obj.config, _now)
        status = asyncio.run(daemon.serve())
    except MonitorError as exc:
        _fail(exc)
    raise typer.Exit(status)  # 1: it stopped on a damaged state, so that systemd restarts it


@cli.command("paths")
def paths_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON object instead of lines.")] = False,
) -> None:
    """Which watchlist, state directory and secrets the commands use here, and why (never a secret's value)."""
    found = resolve(ctx.obj.config)
    config = found.config.path
    assert config is not None
    app, problem = None, ""
    if config.is_file():
        try:
            app = load_app(ctx.obj.config, _now, sending=False)
            asyncio.run(app.aclose())
        except MonitorError as exc:
            problem = str(exc.problems[0] if isinstance(exc, ConfigError) else exc)
    else:
        problem = f"no watchlist there: {missing_config_hint(found)}"
    state = app.state_place if app else found.state
    secrets = {name: secret_origin(name) for name in secret_names(app.watchlist if app else None)}
    if as_json:
        typer.echo(json.dumps({
            "mode": "system" if found.system else "user", "mode_why": found.mode_why,
            "config": {"path": str(config), "why": found.config.why, "exists": config.is_file(),
                       "problem": problem or None},
            "state": {"path": str(state.path), "why": state.why},
            "secrets_dir": {"path": str(found.secrets.path) if found.secrets.path else None, "why": found.secrets.why},
            "secrets": {name: {"found": ok, "from": where} for name, (ok, where) in secrets.items()},
        }, ensure_ascii=False, indent=2))
        return
    typer.echo(f"mode     {'system' if found.system else 'user'}: {found.mode_why}")
    typer.echo(f"config   {config}  ({found.config.why})" + (f"\n         {problem}" if problem else ""))
    typer.echo(f"state    {state.path}  ({state.why})")
    typer.echo(f"secrets  {found.secrets.path or '-'}  ({found.secrets.why})")
    width = max(map(len, secrets))
    for name, (ok, where) in secrets.items():
        typer.echo(f"  {name:<{width}}  {'found in ' if ok else ''}{where}")
    typer.echo("A secret NAME is read from $TRACKING_MONITOR_<NAME>, else from the file NAME (or NAME.cred, "
               "opened with systemd-creds) in the secrets directory.")


@cli.command("schema")
def schema_command() -> None:
    """Print the watchlist's JSON Schema, for TOML editors (taplo, Even Better TOML) to complete and check keys."""
    from monitor.schema import watchlist_schema

    typer.echo(json.dumps(watchlist_schema(load_registry()), ensure_ascii=False, indent=2))


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


# ---------------------------------------------------------------- the dispute kit: report and watchlist edits


@cli.command()
def report(
    ctx: typer.Context,
    order_id: Annotated[str, typer.Argument(help="The order's id, as in the watchlist.", autocompletion=_order_ids)],
    fmt: Annotated[str | None, typer.Option("--format", "-f", help="md, html, json or pdf (default: from --output's "
                                                                      "extension, else md).")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file (.md, .html, .json or "
                                                                        ".pdf), not stdout.")] = None,
    language: Annotated[str | None, typer.Option(help="en or fr (default: the watchlist's language).")] = None,
    now: Annotated[str | None, typer.Option(help="Make the report as if at this instant.")] = None,
) -> None:
    """An evidence report for a dispute (facts, every stored tracking event, a SHA-256); your notes go to stderr."""
    from monitor.report import EXTENSIONS, FORMATS, build, to_markdown, to_notes
    from monitor.report_html import to_html
    from monitor.report_pdf import print_pdf

    if fmt is None and output is not None and output.suffix:
        fmt = EXTENSIONS.get(output.suffix.lower().lstrip("."))
        if fmt is None:
            _usage(f"--output {output.name}: unknown extension {output.suffix!r}; expected one of "
                   f"{', '.join('.' + e for e in EXTENSIONS)}, or give --format")
    fmt = (fmt or "md").lower()
    if fmt not in FORMATS:
        _usage(f"--format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    if fmt == "pdf" and output is None and sys.stdout.isatty():
        _usage("--format pdf: a PDF is not printed on a terminal; give --output FILE.pdf or redirect stdout")
    app, at = _load_at(ctx.obj, now)
    lang = language or app.watchlist.monitor.language
    if lang not in LANGUAGES:
        _usage(f"--language: expected one of {', '.join(LANGUAGES)}, got {lang!r}")
    order = app.watchlist.order(order_id)
    with _state_errors(app):
        if order is None:
            raise UnknownOrder(app.path, order_id, [o.id for o in app.watchlist.orders])
        store = _store(app)
        try:
            hist = order_histories(app, store, at, [order])[order.id]  # the same route to a carrier as the daemon's
            numbers = store.numbers_of(order.id)
            wanted = list(dict.fromkeys([n for n, _ in numbers] + ([order.tracking] if order.tracking else [])
                                        + ([hist.handover.number] if hist.handover else [])))
            events, alerts = store.events_of(wanted), store.alerts_of(order.id)
        finally:
            store.close()
        r = build(order, hist, numbers, events, alerts, carrier=hist.carrier, polled=app.source(order) is not None,
                  zone=app.watchlist.monitor.zone, now=at, lang=lang, windows=app.windows)
        render = {"md": to_markdown, "html": to_html, "json": _json_report}
        data = print_pdf(to_html(r)) if fmt == "pdf" else render[fmt](r).encode("utf-8")
        if output is None:
            sys.stdout.flush()
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        else:
            write_atomic(output, data)
            typer.echo(f"{output}: {fmt} report of order {order.id}, SHA-256 {r.sha256}", err=True)
    # The buyer's own notes never go into the evidence: they follow it on stderr.
    typer.echo("\n" + to_notes(r), err=True, nl=False)


def _json_report(r: Any) -> str:
    return json.dumps(r.as_json(), ensure_ascii=False, indent=2) + "\n"


def _edit(ctx: typer.Context, change: Callable[[Editor], None], dry_run: bool) -> None:
    """Plan a change of the watchlist, check it, keep a backup and write it; or show the diff on a dry run."""
    path = config_path(ctx.obj.config)
    try:
        with Editor.open(path, load_registry()) as editor:
            change(editor)
            result = editor.commit(dry_run)
    except MonitorError as exc:
        _fail(exc)
    for line in result.changes:
        typer.echo(line)
    if result.backup is None:
        typer.echo(result.diff, nl=False)
        typer.echo("(dry run: nothing written)")
    elif result.changes:
        typer.echo(f"saved {path} (the previous version is in {result.backup.name}); "
                   "a running tracking-monitor picks it up within seconds")
    else:
        typer.echo(f"{path}: nothing to change")


_DRY_RUN = typer.Option("--dry-run", help="Show the change as a diff; write nothing.")


@cli.command()
def add(
    ctx: typer.Context,
    order_id: Annotated[str, typer.Argument(help="The marketplace's order number.")],
    ordered_on: Annotated[str, typer.Option("--ordered-on", help="Date of the order, like 2026-11-20.")],
    tracking: Annotated[str | None, typer.Option(help="Tracking number.")] = None,
    carrier: Annotated[str | None, typer.Option(help='Carrier id (default "auto").')] = None,
    promised_by: Annotated[str | None, typer.Option("--promised-by", help="The seller's delivery promise.")] = None,
    protection_ends: Annotated[str | None, typer.Option("--protection-ends", help="End of buyer protection.")] = None,
    shop: Annotated[str | None, typer.Option(help="Shop or marketplace.")] = None,
    item: Annotated[str | None, typer.Option(help="What was ordered.")] = None,
    dry_run: Annotated[bool, _DRY_RUN] = False,
) -> None:
    """Add an order at the end of the watchlist."""
    fields = {"ordered_on": ordered_on, "tracking": tracking, "carrier": carrier, "promised_by": promised_by,
              "protection_ends": protection_ends, "shop": shop, "item": item}
    _edit(ctx, lambda e: e.add(order_id, {k: v for k, v in fields.items() if v is not None}), dry_run)


@cli.command("set")
def set_(
    ctx: typer.Context,
    order_id: Annotated[str, typer.Argument(help="The order's id.", autocompletion=_order_ids)],
    assignments: Annotated[list[str], typer.Argument(metavar="KEY=VALUE...", help="e.g. protection_ends=2026-12-23 "
                                                     "tracking=LP00123456789012 dispute.opened_on=2026-12-10; "
                                                     "KEY= removes the key.")],
    dry_run: Annotated[bool, _DRY_RUN] = False,
) -> None:
    """Set keys of one order (dates, durations like 15d, lists like 7d,3d,1d); the rest of the file is kept."""
    try:
        values = parse_assignments(assignments)
    except MonitorError as exc:
        _fail(exc)
    _edit(ctx, lambda e: e.set(order_id, values), dry_run)


@cli.command()
def remove(
    ctx: typer.Context,
    order_id: Annotated[str, typer.Argument(help="The order's id.", autocompletion=_order_ids)],
    dry_run: Annotated[bool, _DRY_RUN] = False,
) -> None:
    """Remove an order and its own comment lines from the watchlist (its stored history stays in the state)."""
    _edit(ctx, lambda e: e.remove(order_id), dry_run)


@cli.command()
def archive(
    ctx: typer.Context,
    order_id: Annotated[str, typer.Argument(help="The order's id.", autocompletion=_order_ids)],
    dry_run: Annotated[bool, _DRY_RUN] = False,
) -> None:
    """Mark an order archived = true: no more polling or alerts, hidden from status; report still works."""
    _edit(ctx, lambda e: e.set(order_id, {"archived": "true"}), dry_run)


@cli.command("import")
def import_(
    ctx: typer.Context,
    sources: Annotated[list[str], typer.Argument(metavar="SOURCE...", help="An .eml file, an mbox file, a Maildir "
                                                 "folder, or - for pasted text on standard input.")],
    dry_run: Annotated[bool, _DRY_RUN] = False,
    as_json: Annotated[bool, typer.Option("--json", help='Print {"imported": [...], "updated": [...], '
                                          '"skipped": [...]}.')] = False,
) -> None:
    """Read orders, tracking numbers and deadlines from marketplace mails into the watchlist; never overwrites."""
    from monitor.inbox import import_mails, read_source

    path = config_path(ctx.obj.config)
    stdin = sys.stdin.read() if "-" in sources else None
    try:
        mails = [m for source in sources for m in read_source(source, stdin, _now().date())]
        outcome, diff = import_mails(path, mails, load_registry(), dry_run)
    except MonitorError as exc:
        _fail(exc)
    if as_json:
        typer.echo(json.dumps(outcome.as_json(), ensure_ascii=False, indent=2, default=str))
        return
    for section, items in (("imported", outcome.imported), ("updated", outcome.updated), ("skipped", outcome.skipped)):
        for it in items:
            detail = it.get("why") or ", ".join(it["changes"])
            number = f"  {it['tracking']}" if section == "skipped" and it["tracking"] else ""
            typer.echo(printable(f"{section:<9}{it['order'] or '-'}  {it['shop'] or '-'}{number}  {detail}  "
                                 f"({it['source']})", newlines=False))
    if dry_run:
        typer.echo(diff, nl=False)
        typer.echo("(dry run: nothing written)")
    elif outcome.imported or outcome.updated:
        typer.echo(f"saved {path} (the previous version is in {path.name}.bak); a running tracking-monitor picks it "
                   "up within seconds")
    else:
        typer.echo(f"{path}: nothing to change")


@cli.command("notify-test")
def notify_test(
    ctx: typer.Context,
    destination: Annotated[list[str] | None, typer.Option("--destination", "-d", help="Only this destination (by name); may be repeated.")] = None,
) -> None:
    """Send one test message to each destination; print each one's result; exit 1 if any failed."""
    app = _load(ctx.obj, _now, sending=True)
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
    with _state_errors(app):
        store = _store(app)
        rows = Notifier.for_app(app, store).report(_now())
        store.close()
    if as_json:
        _json_array(rows)
        return
    if not rows:
        typer.echo("outbox empty: every alert was delivered")
        return
    zone, lang = app.watchlist.monitor.zone, app.watchlist.monitor.language

    def local(value: object) -> str:  # always with its time: "until 2 Dec" would be read as the end of 2 Dec
        return fmt_deadline(datetime.fromisoformat(str(value)).astimezone(zone), lang)

    for r in rows:
        then = {"waiting": "goes out at the next delivery", "retrying": "next try {}", "held": "quiet hours until {}",
                "expired": "gave up {}", "orphaned": "its destination is no longer in the watchlist"}[str(r["state"])]
        if "{}" in then:
            then = then.format(local(r["expired"] or r["next_attempt"]))
        attempts = counted(int(r["attempts"]), "attempt")
        title, error = printable(str(r["title"]), newlines=False), printable(str(r["last_error"]), newlines=False)
        typer.echo(f"{r['state']:<9}{str(r['severity']).upper():<8}{printable(r['order'] or '-')}  {title}\n"
                   f"         to {r['destination']}; queued {local(r['queued'])}, {attempts}; {then}"
                   + (f"\n         last error: {error}" if error else ""))


@cli.command("backup")
def backup_command(
    ctx: typer.Context,
    to: Annotated[Path | None, typer.Option("--to", help="Write the copy to this file instead of backups/ beside "
                                                            "the state.")] = None,
) -> None:
    """Copy the state now (online: the daemon may run), check the copy whole, then rename it into place."""
    from monitor.backup import backup, rolling_backup

    app = _load(ctx.obj, _now)
    source = state_file(app.state_dir)
    hand_back(app.state_dir)
    with _state_errors(app):
        if to is None:
            day = _now().astimezone(app.watchlist.monitor.zone).date()
            to = rolling_backup(source, app.watchlist.monitor.backups, day, again=True)
        else:
            backup(source, to)
    assert to is not None
    typer.echo(f"{to}: backup of {source}, {to.stat().st_size / 2**20:.1f} MiB, integrity check ok")


def entry() -> None:
    """Console-script entry point: never a traceback for a known error."""
    try:
        cli()
    except KeyboardInterrupt:
        raise SystemExit(130) from None
