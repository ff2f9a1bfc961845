"""The evidence report for a dispute: an order's facts, its whole stored tracking history, the alerts
tracking-monitor gave the buyer, and a SHA-256 over the records so the buyer can show nothing was edited.
The buyer's notes (a suggested dispute text and what to do) are kept apart: the evidence holds facts only.

What is hashed: the `records` object of the JSON report (order facts as written in the watchlist, the zone,
every tracking number with when it was first seen, every stored event, every alert and its deliveries; all
instants in UTC), serialised as canonical JSON: keys sorted, separators "," and ":", UTF-8, no ASCII escaping.
Values that depend on when the report is made (days overdue, countdowns) are shown but not hashed, so the
same records always give the same SHA-256.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from monitor import __version__
from monitor.config import TERMINAL
from monitor.durations import format_duration
from monitor.lifecycle import Archived, archived, tracking_state
from monitor.messages import EVENT_KIND_NAMES, days, fmt_date, fmt_deadline
from monitor.rules import History, OrderWindow, delivered_at, instant, order_windows
from monitor.store import SentAlert, StoredEvent
from monitor.watchlist import Order
from monitor.windows import DEFAULT_TABLE, MARKETPLACES, WindowTable

# /2: the buyer's notes (dispute text, checklist) left the report; the records and their SHA-256 did not change.
FORMAT = "tracking-monitor-report/2"
FORMATS = ("md", "html", "json", "pdf")
# An output file's extension -> the format it gets when --format is not given.
EXTENSIONS = {"md": "md", "markdown": "md", "html": "html", "htm": "html", "json": "json", "pdf": "pdf"}
# The command that re-checks a JSON report's SHA-256, as printed in every report and in the README.
RECHECK = ("python3 -c 'import hashlib,json,sys; r=json.load(open(sys.argv[1]))[\"records\"]; "
           "print(hashlib.sha256(json.dumps(r,sort_keys=True,separators=(\",\",\":\"),ensure_ascii=False)"
           ".encode()).hexdigest())' REPORT.json")


def canonical_sha256(records: dict[str, Any]) -> str:
    """SHA-256 of the records as canonical JSON (sorted keys, no spaces, UTF-8)."""
    text = json.dumps(records, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _utc(value: datetime) -> str:
    return value.astimezone(ZoneInfo("UTC")).isoformat()


def _plain(value: Any) -> Any:
    """A watchlist value as JSON: dates in ISO form, durations as written ("15d")."""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class Report:
    """Everything a report says, ready to render in any format."""

    order: Order
    lang: str
    zone: ZoneInfo
    now: datetime
    state: str
    events: list[StoredEvent]
    alerts: list[SentAlert]
    delivered: datetime | None
    archived: Archived | None
    records: dict[str, Any]
    sha256: str
    handover: str = ""  # the destination carrier's number (and that carrier), when a source reported one
    windows: tuple[OrderWindow, ...] = ()  # every protection window, typed or computed (shown, not hashed)

    # ------------------------------------------------------------ derived values (shown, not hashed)

    @property
    def today(self) -> date:
        """The report's day in the watchlist's zone."""
        return self.now.astimezone(self.zone).date()

    def local(self, value: datetime) -> datetime:
        """An instant in the watchlist's zone."""
        return value.astimezone(self.zone)

    @property
    def days_overdue(self) -> int | None:
        """Days past the promised day, up to delivery or today; None without a promise."""
        promised = self.order.promised_by
        if promised is None:
            return None
        end = self.local(self.delivered).date() if self.delivered else self.today
        return max(0, (end - promised).days)

    @property
    def days_waiting(self) -> int:
        """Days from the order to delivery, or to today."""
        end = self.local(self.delivered).date() if self.delivered else self.today
        return (end - instant(self.order.ordered_on, self.zone).date()).days

    @property
    def protection_left(self) -> int | None:
        """Calendar days until buyer protection ends (negative once it has)."""
        ends = self.order.protection_ends
        return None if ends is None else (instant(ends, self.zone).date() - self.today).days

    @property
    def last_event(self) -> StoredEvent | None:
        """The latest stored event."""
        return self.events[-1] if self.events else None

    def t(self, key: str, **params: Any) -> str:
        """A label in the report's language."""
        return TEXT[self.lang][key].format(**params)

    def when(self, value: datetime) -> str:
        """An instant for a table: 2026-11-21 14:05, in the watchlist's zone."""
        return f"{self.local(value):%Y-%m-%d %H:%M}"

    def day(self, value: date | datetime) -> str:
        """A day for a sentence, as people write it."""
        return fmt_date(self.local(value) if isinstance(value, datetime) and value.tzinfo else value, self.lang)

    def event_name(self, kind: str) -> str:
        """What an event kind means, in the report's language."""
        return EVENT_KIND_NAMES[self.lang].get(kind) or STATES[self.lang].get(kind) or kind.replace("_", " ")

    # ------------------------------------------------------------ sections

    def facts(self) -> list[tuple[str, str]]:
        """(label, value) rows about the order, only those it has."""
        o, rows = self.order, []

        def add(label: str, value: object) -> None:
            if value not in (None, ""):
                rows.append((self.t(label), str(value)))

        add("f_id", o.id)
        add("f_shop", o.shop)
        add("f_item", o.item)
        add("f_ordered", _iso(o.ordered_on))
        add("f_tracking", o.tracking)
        add("f_carrier", self.records["carrier"] or None)
        add("f_handover", self.handover)
        add("f_tracking_since", _iso(o.tracking_since) if o.tracking_since else None)
        add("f_state", STATES[self.lang].get(self.state, self.state))
        add("f_promised", _iso(o.promised_by) if o.promised_by else None)
        add("f_protection", self.when(instant(o.protection_ends, self.zone)) if o.protection_ends else None)
        add("f_delivered", self.when(self.delivered) if self.delivered else None)
        add("f_refund", format_duration(o.refund_window) if o.refund_window else None)
        add("f_contacted", _iso(o.seller_contacted_on) if o.seller_contacted_on else None)
        if o.dispute:
            add("f_dispute_opened", _iso(o.dispute.opened_on) if o.dispute.opened_on else None)
            add("f_dispute_wait", _iso(o.dispute.wait_until) if o.dispute.wait_until else None)
        add("f_waiting", days(self.days_waiting, self.lang))
        if self.days_overdue is not None:
            add("f_overdue", days(self.days_overdue, self.lang))
        if self.protection_left is not None:
            left = self.protection_left
            add("f_protection_left", self.t("ended_ago", n=days(-left, self.lang)) if left < 0 else days(left, self.lang))
        for w in self.windows:  # each computed one with its date and where that date comes from (f_protection: typed)
            if w.row is None:
                continue
            end = fmt_deadline(self.local(w.ends), self.lang) if w.ends else self.t("w_unknown")
            span = self.t("w_from", opens=self.day(w.opens), end=end) if w.opens else end
            rows.append((w.title, f"{span}. {w.computed}"))
        if self.archived:
            add("f_archived", self.t("archived_user") if self.archived.by_user else
                self.t("archived_auto", when=fmt_deadline(self.local(self.archived.since or self.now), self.lang)))
        return rows

    def dispute_text(self) -> str:
        """A short text to paste into the dispute, following domain.md's habits, in the report's language."""
        o, t, lang = self.order, self.t, self.lang
        label = " · ".join(p for p in (o.item, o.shop) if p)
        parts = [t("d_order", id=o.id, label=f" ({label})" if label else "", ordered=self.day(o.ordered_on))]
        if o.promised_by:
            late = self.days_overdue or 0
            key = "d_promised_late" if late and not self.delivered else "d_promised"
            parts.append(t(key, promised=self.day(o.promised_by), late=days(late, lang)))
        last = self.last_event
        if self.delivered:
            parts.append(t("d_delivered", when=self.day(self.delivered)))
        elif not o.tracking:
            parts.append(t("d_no_tracking", age=days(self.days_waiting, lang)))
        elif last is None:
            parts.append(t("d_no_events", number=o.tracking))
        elif self.state == "returned" or last.kind in ("returning", "returned"):
            parts.append(t("d_returned", number=o.tracking, when=self.day(last.time), text=last.description))
        else:
            where = t("d_at", where=last.location) if last.location else ""
            parts.append(t("d_last", number=o.tracking, when=self.day(last.time), text=last.description, where=where,
                           age=days((self.today - self.local(last.time).date()).days, lang)))
        contacted = self.day(o.seller_contacted_on) if o.seller_contacted_on else t("d_contact_date")
        parts.append(t("d_contacted_delivered" if self.delivered else "d_contacted", when=contacted))
        parts.append(t("d_ask_delivered" if self.delivered else "d_ask"))
        parts.append(t("d_evidence", sha=self.sha256[:16]))
        return " ".join(parts)

    def checklist(self) -> list[str]:
        """What to do and not do around the dispute (domain.md's dispute habits), for where the order stands."""
        o, t = self.order, self.t
        items = [] if o.seller_contacted_on else [t("c_contact", id=o.id)]
        opened = o.dispute.opened_on if o.dispute else None
        wait = o.dispute.wait_until if o.dispute else None
        left = self.protection_left
        if opened:
            items.append(t("c_open", when=self.day(opened)))
            if wait and not self.delivered:
                passed = instant(wait, self.zone).date() < self.today
                items.append(t("c_wait_passed" if passed else "c_wait", when=self.day(wait)))
        elif left is not None and not self.delivered:
            ends = self.local(instant(o.protection_ends, self.zone))
            items.append(t("c_protection" if left >= 0 else "c_ended", when=fmt_deadline(ends, self.lang)))
            # The marketplace's window after completion (AliExpress's), as windows.py and any override give it.
            after = [(w.row, w.ends) for w in self.windows if left < 0 and w.row and w.ends
                     and w.row.counted_from[0] == "completion" and w.row.applies_to in MARKETPLACES]
            items += [t("c_after_completion", shop=MARKETPLACES[row.applies_to], n=days(row.length.days, self.lang),
                        until=fmt_deadline(until, self.lang)) for row, until in after]
        if not opened:
            items.append(t("c_one"))
        items += [t(k) for k in ("c_cancel", "c_scam", "c_keep")]
        return items

    def as_json(self) -> dict[str, Any]:
        """The JSON report: derived values for reading, the records and their SHA-256 for checking; no advice."""
        last = self.last_event
        return {
            "format": FORMAT,
            "generated_at": _utc(self.now),
            "generator": f"tracking-monitor {__version__}",
            "language": self.lang,
            "summary": {
                "state": self.state,
                "delivered_at": _utc(self.delivered) if self.delivered else None,
                "days_since_order": self.days_waiting,
                "days_overdue": self.days_overdue,
                "days_to_protection_end": self.protection_left,
                "last_event": {"time": _utc(last.time), "description": last.description} if last else None,
                "archived": None if self.archived is None else (
                    "by_user" if self.archived.by_user else "windows_closed"),
                "windows": [w.as_json() for w in self.windows],
            },
            "records": self.records,
            "sha256": self.sha256,
        }


def _iso(value: date | datetime) -> str:
    return value.isoformat(sep=" ", timespec="minutes") if isinstance(value, datetime) else value.isoformat()


def build(order: Order, hist: History, numbers: list[tuple[str, datetime]], events: list[StoredEvent],
          alerts: list[SentAlert], *, carrier: str, polled: bool, zone: ZoneInfo, now: datetime, lang: str,
          windows: WindowTable = DEFAULT_TABLE) -> Report:
    """Assemble a report from what the watchlist and the state hold about one order."""
    facts = {k: _plain(v) for k, v in order.model_dump(exclude_none=True).items()}
    records = {
        "order": facts,
        "timezone": zone.key,
        "carrier": carrier,
        "tracking_numbers": [{"number": n, "first_seen": _utc(t)} for n, t in numbers],
        "events": [
            {"time": _utc(e.time), "source": e.source, "number": e.number, "kind": e.kind, "code": e.code,
             "description": e.description, "location": e.location, "recorded": _utc(e.recorded)}
            for e in events
        ],
        "alerts": [
            {"kind": a.kind, "severity": a.severity, "first_notified": _utc(a.first_at), "title": a.title,
             "deliveries": [{"destination": d, "sent_at": _utc(s) if s else None} for d, s in a.deliveries]}
            for a in alerts
        ],
    }
    received = delivered_at(order, hist, zone)
    received = received if received is not None and received <= now else None
    return Report(order, lang, zone, now, tracking_state(order, hist, polled), events, alerts, received,
                  archived(order, hist, now, zone, windows), records, canonical_sha256(records),
                  f"{ho.number} ({ho.carrier})" if (ho := hist.handover) and ho.carrier else ho.number if ho else "",
                  tuple(order_windows(order, received, zone, windows, lang)))


# ---------------------------------------------------------------- Markdown


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def to_markdown(r: Report) -> str:
    """The report as Markdown: readable as plain text, renders as tables."""
    out = [f"# {r.t('title', id=_cell(r.order.id))}", "",
           r.t("generated", when=fmt_deadline(r.local(r.now), r.lang), version=__version__, zone=r.zone.key), "",
           f"## {r.t('h_order')}", "", "| | |", "|---|---|"]
    out += [f"| {_cell(k)} | {_cell(v)} |" for k, v in r.facts()]
    out += ["", f"## {r.t('h_events')}", ""]
    if r.events:
        out += [f"| # | {r.t('col_time')} | {r.t('col_event')} | {r.t('col_where')} | {r.t('col_source')} "
                f"| {r.t('col_recorded')} |", "|---|---|---|---|---|---|"]
        for i, e in enumerate(r.events, 1):
            what = f"{e.description} ({r.event_name(e.kind)}{', ' + e.code if e.code else ''})"
            source = e.source + (f" {e.number}" if e.number != r.order.tracking else "")
            out.append(f"| {i} | {r.when(e.time)} | {_cell(what)} | {_cell(e.location)} | {_cell(source)} "
                       f"| {r.when(e.recorded)} |")
    else:
        out.append(r.t("no_events"))
    out += ["", f"## {r.t('h_alerts')}", "", r.t("alerts_what"), ""]
    if r.alerts:
        out += [f"| {r.t('col_first')} | {r.t('col_alert')} | {r.t('col_sent')} |", "|---|---|---|"]
        for a in r.alerts:
            out.append(f"| {r.when(a.first_at)} | {_cell(f'{a.severity.upper()}: {a.title or a.kind}')} "
                       f"| {_cell(deliveries(r, a))} |")
    else:
        out.append(r.t("no_alerts"))
    out += ["", f"## {r.t('h_integrity')}", "", r.t("hash_intro"), "", f"`{r.sha256}`", "",
            r.t("hash_how", id=r.order.id), "", f"    {RECHECK}", ""]
    return "\n".join(out)


def deliveries(r: Report, alert: SentAlert) -> str:
    """How an alert reached the buyer: "printed in the buyer's terminal 2026-11-21 10:00, url:1a2b not sent yet"."""
    return ", ".join(f"{r.t('on_terminal') if d == TERMINAL else d} {r.when(s) if s else r.t('pending')}"
                     for d, s in alert.deliveries) or r.t("pending")


def to_notes(r: Report) -> str:
    """The buyer's notes, kept out of the evidence: the dispute text to paste and what to do, as plain text."""
    return "\n".join([r.t("notes_title", id=r.order.id), "", r.t("h_dispute"), r.dispute_text(), "",
                      r.t("h_checklist"), *(f"- {item}" for item in r.checklist()), ""])


# ---------------------------------------------------------------- texts

STATES = {
    "en": {"delivered": "delivered", "failing": "tracking source failing", "pending": "not polled yet",
           "no source": "not followed (no configured source can track this number)", "no tracking": "no tracking number",
           "not_found": "unknown to the carrier", "info_received": "label created", "in_transit": "in transit",
           "available_for_pickup": "available for pickup", "out_for_delivery": "out for delivery",
           "delivery_failed": "delivery failed", "exception": "carrier exception", "returned": "returned to sender",
           "expired": "tracking expired", "unknown": "unknown", "exported": "left the origin country",
           "arrived": "arrived in the destination country", "customs": "customs", "picked_up": "picked up"},
    "fr": {"delivered": "livré", "failing": "source de suivi en échec", "pending": "pas encore interrogé",
           "no source": "non suivi (aucune source configurée ne peut suivre ce numéro)", "no tracking": "pas de numéro de suivi",
           "not_found": "inconnu du transporteur", "info_received": "étiquette créée", "in_transit": "en transit",
           "available_for_pickup": "disponible au retrait", "out_for_delivery": "en cours de livraison",
           "delivery_failed": "échec de livraison", "exception": "incident transporteur",
           "returned": "renvoyé à l'expéditeur", "expired": "suivi expiré", "unknown": "inconnu",
           "exported": "a quitté le pays d'origine", "arrived": "arrivé dans le pays de destination",
           "customs": "douane", "picked_up": "pris en charge"},
}

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Evidence report: order {id}",
        "generated": "Made on {when} by tracking-monitor {version}. Times are in {zone}.",
        "h_order": "Order", "h_timeline": "Timeline", "h_events": "Tracking events (every one ever recorded)",
        "h_alerts": "Alerts tracking-monitor gave the buyer",
        "alerts_what": "Reminders tracking-monitor gave the buyer, with when each was first raised. They went only "
                       "where the buyer had set alerts to go, never to the seller or the platform.",
        "h_integrity": "Integrity",
        "notes_title": "For you, not for the mediator: these notes about order {id} are not in the report.",
        "h_dispute": "Suggested dispute text (paste it into the dispute; fill in what is in [brackets]):",
        "h_checklist": "Before you send it:",
        "f_id": "Order number", "f_shop": "Shop", "f_item": "Item", "f_ordered": "Ordered on",
        "f_tracking": "Tracking number", "f_carrier": "Carrier", "f_tracking_since": "Tracking number given on",
        "f_handover": "Number at the destination carrier",
        "f_state": "Tracking status", "f_promised": "Delivery promised by", "f_protection": "Buyer protection ends",
        "f_delivered": "Delivered", "f_refund": "Refund window after delivery", "f_contacted": "Seller contacted on",
        "f_dispute_opened": "Dispute opened on", "f_dispute_wait": "Mediator asked to wait until",
        "f_waiting": "Days since the order", "f_overdue": "Days past the promised date",
        "f_protection_left": "Buyer protection left", "f_archived": "Archived",
        "ended_ago": "ended {n} ago", "archived_user": "yes, by the buyer",
        "w_from": "from {opens} until {end}", "w_unknown": "end not known yet",
        "archived_auto": "yes, automatically: every window closed on {when}",
        "col_time": "Time", "col_event": "Event", "col_where": "Place", "col_source": "Source",
        "col_recorded": "Recorded", "col_first": "First raised", "col_alert": "Alert",
        "col_sent": "How the buyer got it",
        "no_events": "No tracking event was ever recorded for this order.",
        "no_alerts": "tracking-monitor has given the buyer no alert about this order.", "pending": "not sent yet",
        "on_terminal": "printed in the buyer's terminal",
        "legend_ordered": "ordered", "legend_promised": "promised by", "legend_protection": "protection ends",
        "legend_delivered": "delivered", "legend_today": "today", "legend_dispute": "dispute opened",
        "legend_wait": "mediator's date",
        "legend_event": "tracking event", "legend_problem": "problem event",
        "hash_intro": "SHA-256 of the records in this report (the order as written in the watchlist, the tracking "
                      "numbers, every event and every alert):",
        "hash_how": "The records are the \"records\" object of `tracking-monitor report {id} --format json`, hashed "
                    "as canonical JSON (keys sorted, no spaces, UTF-8). The same records always give the same "
                    "SHA-256; anyone holding the JSON report can re-check it with:",
        "d_order": "Order {id}{label} was placed on {ordered}.",
        "d_promised": "The seller promised delivery by {promised}.",
        "d_promised_late": "The seller promised delivery by {promised}; it is now {late} past that date.",
        "d_delivered": "The parcel was delivered on {when}.",
        "d_no_tracking": "The seller has still not given a tracking number, {age} after the order.",
        "d_no_events": "The tracking number {number} given by the seller shows no information at the carrier.",
        "d_returned": "The tracking of {number} shows that the parcel was returned to the sender on {when} "
                      "(\u201c{text}\u201d); I never received it.",
        "d_last": "The last tracking event for {number} is \u201c{text}\u201d{where} on {when}, {age} ago; the "
                  "parcel has not been delivered.",
        "d_at": " at {where}",
        "d_contact_date": "[date]",
        "d_contacted": "I contacted the seller through the platform's messages on {when} without getting the parcel.",
        "d_contacted_delivered": "I contacted the seller through the platform's messages on {when}.",
        "d_ask": "As the item was not received, I ask for a full refund.",
        "d_ask_delivered": "The item I received [describe the problem]; photos and the unboxing video are "
                           "attached. I ask for a refund.",
        "d_evidence": "The complete tracking history recorded by tracking-monitor is attached (SHA-256 {sha}…).",
        "c_contact": "Contact the seller in the platform's messages first (platforms value that), then note the "
                     "date: tracking-monitor set {id} seller_contacted_on=DATE.",
        "c_protection": "Buyer protection ends on {when}: open the dispute before then, or get it extended first and "
                        "check that the new date shows on the order.",
        "c_ended": "Buyer protection ended on {when}: if the order is still open, open a \u201cnot received\u201d "
                   "dispute at once.",
        "c_after_completion": "If it has completed, {shop} still takes a refund request for {n} after completion "
                              "(until {until} if it completed when buyer protection ended).",
        "c_open": "A dispute has been open since {when}: do not open another one; add this report to it.",
        "c_wait": "The mediator asked to wait until {when}: on that day, if the parcel has still not come, make a "
                  "new report and add it to the dispute (it shows the tracking up to that day).",
        "c_wait_passed": "The mediator's date ({when}) has passed: make a new report now and add it to the dispute.",
        "c_one": "Open only one dispute for this order.",
        "c_cancel": "If you must withdraw it, \u201ccancel\u201d the dispute (it can be reopened); never \u201cclose\u201d "
                    "or \u201caccept\u201d it (final).",
        "c_scam": "Never close the dispute on a promise: a seller asking you to close it, or offering a refund "
                  "outside the platform, is a known scam.",
        "c_keep": "Keep every message and screenshot, and attach this report.",
    },
    "fr": {
        "title": "Dossier de preuves : commande {id}",
        "generated": "Établi le {when} par tracking-monitor {version}. Heures de {zone}.",
        "h_order": "Commande", "h_timeline": "Chronologie",
        "h_events": "Événements de suivi (tous ceux jamais enregistrés)",
        "h_alerts": "Alertes données à l'acheteur par tracking-monitor",
        "alerts_what": "Les rappels donnés à l'acheteur par tracking-monitor, avec le moment où chacun a été levé. "
                       "Ils ne sont allés que là où l'acheteur avait choisi de recevoir ses alertes, jamais au vendeur "
                       "ni à la plateforme.",
        "h_integrity": "Intégrité",
        "notes_title": "Pour vous, pas pour le médiateur : ces notes sur la commande {id} ne sont pas dans le "
                       "dossier.",
        "h_dispute": "Texte de litige proposé (collez-le dans le litige ; complétez ce qui est entre [crochets]) :",
        "h_checklist": "Avant de l'envoyer :",
        "f_id": "Numéro de commande", "f_shop": "Boutique", "f_item": "Article", "f_ordered": "Commandé le",
        "f_tracking": "Numéro de suivi", "f_carrier": "Transporteur", "f_tracking_since": "Numéro de suivi donné le",
        "f_handover": "Numéro chez le transporteur de destination",
        "f_state": "État du suivi", "f_promised": "Livraison promise avant le",
        "f_protection": "Fin de la protection acheteur", "f_delivered": "Livré",
        "f_refund": "Délai de remboursement après livraison", "f_contacted": "Vendeur contacté le",
        "f_dispute_opened": "Litige ouvert le", "f_dispute_wait": "Le médiateur a demandé d'attendre jusqu'au",
        "f_waiting": "Jours depuis la commande", "f_overdue": "Jours de retard sur la date promise",
        "f_protection_left": "Protection acheteur restante", "f_archived": "Archivée",
        "ended_ago": "terminée depuis {n}", "archived_user": "oui, par l'acheteur",
        "w_from": "du {opens} au {end}", "w_unknown": "fin pas encore connue",
        "archived_auto": "oui, automatiquement : tous les délais sont clos depuis le {when}",
        "col_time": "Date", "col_event": "Événement", "col_where": "Lieu", "col_source": "Source",
        "col_recorded": "Enregistré", "col_first": "Première alerte", "col_alert": "Alerte",
        "col_sent": "Reçue par l'acheteur",
        "no_events": "Aucun événement de suivi n'a jamais été enregistré pour cette commande.",
        "no_alerts": "tracking-monitor n'a donné aucune alerte à l'acheteur sur cette commande.",
        "pending": "pas encore envoyée", "on_terminal": "affichée dans le terminal de l'acheteur",
        "legend_ordered": "commande", "legend_promised": "date promise", "legend_protection": "fin de protection",
        "legend_delivered": "livraison", "legend_today": "aujourd'hui", "legend_dispute": "litige ouvert",
        "legend_wait": "date du médiateur",
        "legend_event": "événement de suivi", "legend_problem": "incident",
        "hash_intro": "SHA-256 des données de ce dossier (la commande telle qu'écrite dans la liste, les numéros de "
                      "suivi, chaque événement et chaque alerte) :",
        "hash_how": "Les données sont l'objet \"records\" de `tracking-monitor report {id} --format json`, haché en "
                    "JSON canonique (clés triées, sans espaces, UTF-8). Les mêmes données donnent toujours le même "
                    "SHA-256 ; qui détient le rapport JSON peut le vérifier avec :",
        "d_order": "La commande {id}{label} a été passée le {ordered}.",
        "d_promised": "Le vendeur a promis une livraison avant le {promised}.",
        "d_promised_late": "Le vendeur a promis une livraison avant le {promised} ; cette date est dépassée de {late}.",
        "d_delivered": "Le colis a été livré le {when}.",
        "d_no_tracking": "Le vendeur n'a toujours donné aucun numéro de suivi, {age} après la commande.",
        "d_no_events": "Le numéro de suivi {number} donné par le vendeur n'affiche aucune information chez le "
                       "transporteur.",
        "d_returned": "Le suivi de {number} indique que le colis a été renvoyé à l'expéditeur le {when} "
                      "(« {text} ») ; je ne l'ai jamais reçu.",
        "d_last": "Le dernier événement de suivi de {number} est « {text} »{where} le {when}, il y a {age} ; le "
                  "colis n'a pas été livré.",
        "d_at": " à {where}",
        "d_contact_date": "[date]",
        "d_contacted": "J'ai contacté le vendeur par la messagerie de la plateforme le {when}, sans recevoir le colis.",
        "d_contacted_delivered": "J'ai contacté le vendeur par la messagerie de la plateforme le {when}.",
        "d_ask": "L'article n'ayant pas été reçu, je demande un remboursement complet.",
        "d_ask_delivered": "L'article reçu [décrivez le problème] ; les photos et la vidéo du déballage sont jointes. "
                           "Je demande un remboursement.",
        "d_evidence": "L'historique de suivi complet enregistré par tracking-monitor est joint (SHA-256 {sha}…).",
        "c_contact": "Contactez d'abord le vendeur par la messagerie de la plateforme (les plateformes en tiennent "
                     "compte), puis notez la date : tracking-monitor set {id} seller_contacted_on=DATE.",
        "c_protection": "La protection acheteur se termine le {when} : ouvrez le litige avant, ou obtenez d'abord une "
                        "prolongation et vérifiez que la nouvelle date apparaît sur la commande.",
        "c_ended": "La protection acheteur s'est terminée le {when} : si la commande est encore ouverte, ouvrez "
                   "tout de suite un litige « non reçu ».",
        "c_after_completion": "Si elle est clôturée, {shop} accepte encore une demande de remboursement pendant {n} "
                              "après la clôture (jusqu'au {until} si elle s'est clôturée à la fin de la protection).",
        "c_open": "Un litige est ouvert depuis le {when} : n'en ouvrez pas d'autre ; joignez-y ce dossier.",
        "c_wait": "Le médiateur a demandé d'attendre jusqu'au {when} : ce jour-là, si le colis n'est toujours pas "
                  "arrivé, établissez un nouveau dossier et joignez-le au litige (il montre le suivi jusqu'à ce jour).",
        "c_wait_passed": "La date du médiateur ({when}) est passée : établissez un nouveau dossier maintenant et "
                         "joignez-le au litige.",
        "c_one": "N'ouvrez qu'un seul litige pour cette commande.",
        "c_cancel": "S'il faut le retirer, « annulez » le litige (il peut être rouvert) ; ne le « fermez » ni ne "
                    "l'« acceptez » jamais (définitif).",
        "c_scam": "Ne fermez jamais le litige sur une promesse : un vendeur qui demande de le fermer, ou propose un "
                  "remboursement hors plateforme, est une arnaque connue.",
        "c_keep": "Gardez tous les messages et captures d'écran, et joignez ce dossier.",
    },
}
