"""Orders and tracking numbers read from marketplace e-mails and pasted text: pure extraction, no I/O.

A mail becomes a `Mail` (its text with HTML turned into lines and link targets kept, every sender domain it
carries, forwarded or attached copies included, and its date); `extract` finds in it the orders, the tracking
numbers and the dates a watchlist needs. The facts about marketplaces (domains, order-id shapes, phrases in
English and French) are data tables below; tracking numbers are only taken in a format of carriers/detect.py,
digit-only ones only with their check digit right and a tracking word beside them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from email.message import EmailMessage, Message
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser

from carriers.detect import formats, normalize

# A candidate below this confidence is listed as skipped, never imported.
THRESHOLD = 0.6
MAX_ITEM = 80  # characters of an item name kept
MAX_SOURCE = 200  # characters of a Message-ID kept in `source`


@dataclass(frozen=True)
class Marketplace:
    """A marketplace: the labels of its sender domains and the shape of its order ids."""

    name: str
    labels: tuple[str, ...]  # a sender domain with one of these labels is this marketplace's (any country's TLD)
    order_id: str  # regular expression of an order id
    needs_label: bool  # a bare run of digits is an order id only right after "Order number:" or alike


# Most distinctive shapes first: an id claimed by one is not read again by a later one.
MARKETPLACES = (
    Marketplace("Temu", ("temu",), r"PO-\d{3}-\d{8,20}", False),
    Marketplace("Amazon", ("amazon",), r"\d{3}-\d{7}-\d{7}", False),
    Marketplace("eBay", ("ebay",), r"\d{2}-\d{5}-\d{5}", False),
    Marketplace("AliExpress", ("aliexpress",), r"\d{16}", True),
    # Alibaba.com's Trade Assurance order numbers are long digit runs (its pages show 15 to 19 digits).
    Marketplace("Alibaba", ("alibaba",), r"\d{15,19}", True),
)
# What stands right before an order id: "Order number:", "Order #", "N° de commande :", "Commande n°".
_ORDER_LABEL = (r"(?:order(?:\s*(?:id|no\.?|number|#))?|(?:n°|num[ée]ro|no\.?)\s*de\s*commande|"
                r"commande(?:\s*(?:n°|num[ée]ro|no\.?))?|id\s*de\s*commande)\s*[:#]?\s*")

# Words that say the number beside them is a tracking number (lower case; matched in the text before it).
TRACKING_WORDS = ("tracking", "suivi", "waybill", "shipment number", "numéro de colis", "n° de colis",
                  "sendungsnummer")
# (the check digit is right, or there is none; the number has letters) -> confidence before context.
_BASE = {
    (True, True): 0.9,  # 1Z…, S10 (RB123456785CN) with a right check digit: hard to be anything else
    (True, False): 0.35,  # digits only: one run in ten passes a mod-10 check by chance
    (False, True): 0.4,  # LP…, YT…, JJD…: a prefix but no check digit
    (False, False): 0.1,
}
_CONTEXT = 0.3  # a tracking word before it on its line (or the line above), or a tracking link around it
_NO_CHECK = "no check digit in this format"
# Formats whose shape catches ordinary words: DEMO matches "DEMONSTRATION".
_IGNORED_FORMATS = ("DEMO prefix",)

# The month names of English and French dates, with their common abbreviations.
MONTHS = {
    **dict.fromkeys(("jan", "january", "janv", "janvier"), 1),
    **dict.fromkeys(("feb", "february", "fév", "fev", "févr", "fevr", "février", "fevrier"), 2),
    **dict.fromkeys(("mar", "march", "mars"), 3),
    **dict.fromkeys(("apr", "april", "avr", "avril"), 4),
    **dict.fromkeys(("may", "mai"), 5),
    **dict.fromkeys(("jun", "june", "juin"), 6),
    **dict.fromkeys(("jul", "july", "juil", "juillet"), 7),
    **dict.fromkeys(("aug", "august", "août", "aout"), 8),
    **dict.fromkeys(("sep", "sept", "september", "septembre"), 9),
    **dict.fromkeys(("oct", "october", "octobre"), 10),
    **dict.fromkeys(("nov", "november", "novembre"), 11),
    **dict.fromkeys(("dec", "december", "déc", "décembre", "decembre"), 12),
}
_MONTH = "(?P<month>" + "|".join(sorted(map(re.escape, MONTHS), key=len, reverse=True)) + r")\.?"
_DATES = (  # numeric dates are read day first, as European marketplaces and French mails write them
    re.compile(r"(?P<year>\d{4})-(?P<mnum>\d{1,2})-(?P<day>\d{1,2})"),
    re.compile(r"(?P<day>\d{1,2})[/.](?P<mnum>\d{1,2})[/.](?P<year>\d{4})"),
    re.compile(rf"(?P<day>\d{{1,2}})(?:er)?\s+{_MONTH}(?:,?\s+(?P<year>\d{{4}}))?", re.I),
    re.compile(rf"{_MONTH}\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(?P<year>\d{{4}}))?", re.I),
)

# Phrases (lower case, at the start of a label) after which a line gives a date, in English and French.
ORDER_DATE = ("order date", "ordered on", "order placed", "order time", "purchased on", "date de commande",
              "date de la commande", "heure de la commande", "commandé le", "commande passée le", "passée le")
PROMISED = ("estimated delivery", "expected delivery", "delivery estimate", "arriving", "delivered by",
            "estimated arrival", "guaranteed delivery", "livraison estimée", "livraison prévue", "date de livraison",
            "arrivée estimée", "livré d'ici", "livraison garantie")
ITEM = ("item", "product", "article", "produit")
# Buyer-protection countdowns: (pattern, what the days count from).
PROTECTION = (
    (re.compile(r"(?:buyer|purchase)\s+protection\D{0,30}?(?:ends|expires)\s+in\s+(\d{1,3})\s+days?", re.I), "mail"),
    (re.compile(r"protection\s+(?:acheteur|des\s+achats)\D{0,30}?(?:expire|se\s+termine|prend\s+fin)\s+dans\s+"
                r"(\d{1,3})\s+jours?", re.I), "mail"),
    (re.compile(r"(\d{1,3})\s+days?\s+(?:left|remaining)\s+(?:of|on|for)\s+(?:your\s+)?(?:buyer|purchase)\s+"
                r"protection", re.I), "mail"),
    (re.compile(r"(?:buyer|purchase)\s+protection\s*[:\-]?\s*(\d{1,3})\s+days?", re.I), "order"),
    (re.compile(r"protection\s+(?:acheteur|des\s+achats)\s*:?\s*(\d{1,3})\s+jours?", re.I), "order"),
)
# Buyer protection given as a date: "Buyer protection ends on Jan 20, 2027", "Protection acheteur jusqu'au …".
_PROTECTION_DATE = re.compile(r"(?:buyer|purchase)\s+protection\s+(?:ends|expires|until)|protection\s+"
                              r"(?:acheteur|des\s+achats)\s+(?:jusqu'au|expire\s+le|se\s+termine\s+le)", re.I)
# The header lines a forwarded mail quotes, in English, French and German mail programs.
_FORWARDED_FROM = re.compile(r"^[>\s*]*(?:from|de|von)\s*:\s*(?P<who>.+)$", re.I | re.M)
_FORWARDED_DATE = re.compile(r"^[>\s*]*(?:date|sent|envoyé|gesendet)\s*:\s*(?P<when>.+)$", re.I | re.M)


@dataclass(frozen=True)
class Mail:
    """What extraction reads of one message or pasted text."""

    text: str
    domains: tuple[str, ...] = ()  # sender domains, the outer one first, then forwarded and attached copies'
    sent: date | None = None  # the original's date when a forwarded copy says it, else the message's
    source: str = "pasted text"
    read_on: date | None = None  # the day its countdowns ("ends in 40 days") count from; None: `sent`


@dataclass(frozen=True)
class Tracking:
    """A tracking-number candidate, how sure extraction is of it (0–1) and why."""

    number: str
    confidence: float
    reason: str


@dataclass(frozen=True)
class Skipped:
    """Something found but not taken, and why."""

    what: str  # the number or order id
    why: str
    order_id: str | None = None


@dataclass
class Found:
    """One order as a mail describes it; None: the mail does not say."""

    order_id: str
    shop: str
    source: str
    ordered_on: date | None = None
    promised_by: date | None = None
    protection_ends: date | None = None
    item: str = ""
    tracking: list[Tracking] = field(default_factory=list)


@dataclass(frozen=True)
class Extraction:
    """Everything one mail gave: its orders, and what was seen but left out."""

    orders: tuple[Found, ...]
    skipped: tuple[Skipped, ...]


# ---------------------------------------------------------------- reading a message


class _Text(HTMLParser):
    """HTML to text: blocks and rows on their own lines, cells apart, link targets kept after the link text."""

    _BLOCKS = frozenset({"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "hr", "section"})
    _HIDDEN = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Open a block, a cell, a hidden element or a link."""
        if tag in self._HIDDEN:
            self.hidden += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append("\t")
        elif tag == "a":
            self.links.append(dict(attrs).get("href") or "")

    def handle_endtag(self, tag: str) -> None:
        """Close it; a link's target follows its text, since tracking links carry the number."""
        if tag in self._HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in self._BLOCKS:
            self.parts.append("\n")
        elif tag == "a" and self.links:
            href = self.links.pop()
            if href.startswith(("http://", "https://")):
                self.parts.append(f" <{href}> ")

    def handle_data(self, data: str) -> None:
        """Visible text, its runs of spaces made one."""
        if not self.hidden:
            self.parts.append(re.sub(r"[ \t\r\n\u00a0]+", " ", data))


def html_text(html: str) -> str:
    """The text of an HTML document, one line per block or table row."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    lines = (line.strip() for line in "".join(parser.parts).split("\n"))
    return "\n".join(line for line in lines if line)


def _domains(header: str | None) -> list[str]:
    return [addr.rpartition("@")[2].lower().strip(">. ") for _, addr in getaddresses([header or ""]) if "@" in addr]


def _mail_date(header: str | None) -> date | None:
    try:
        return parsedate_to_datetime(header).date() if header else None
    except (TypeError, ValueError, IndexError):
        return None


def _texts(msg: Message) -> tuple[list[str], list[str], date | None]:
    """The texts of a message's parts, the senders of the messages attached to it, and the first one's date."""
    texts: list[str] = []
    senders: list[str] = []
    attached_date: date | None = None
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "message/rfc822":
            inner = part.get_payload(0) if part.is_multipart() else None
            if isinstance(inner, Message):
                senders += _domains(inner.get("From"))
                attached_date = attached_date or _mail_date(inner.get("Date"))
                texts.append(f"From: {inner.get('From', '')}\nSubject: {inner.get('Subject', '')}")
            continue  # its own parts come next in walk()
        if part.get_content_maintype() != "text" or part.get_content_disposition() == "attachment":
            continue
        try:
            body = part.get_content() if isinstance(part, EmailMessage) else part.get_payload(decode=True).decode()
        except (LookupError, UnicodeError, AttributeError):  # an unknown charset: read it as Latin-1
            raw = part.get_payload(decode=True)
            body = raw.decode("latin-1") if isinstance(raw, bytes) else ""
        texts.append(html_text(body) if ctype == "text/html" else body)
    return texts, senders, attached_date


def message_id(msg: Message) -> str:
    """The message's Message-ID as `source` names it: printable, at most MAX_SOURCE characters."""
    mid = "".join(c for c in str(msg.get("Message-ID", "") or "") if c.isprintable()).strip()
    return mid[:MAX_SOURCE]


def from_message(msg: Message) -> Mail:
    """A Mail of an e-mail: every text part (HTML turned into text), every sender domain, the original's date."""
    texts, attached, attached_date = _texts(msg)
    text = "\n".join([f"Subject: {msg.get('Subject', '')}", *texts])
    forwarded = [d for m in _FORWARDED_FROM.finditer(text) for d in _domains(m["who"])]
    quoted = next((d for m in _FORWARDED_DATE.finditer(text) if (d := _quoted_date(m["when"]))), None)
    mid = message_id(msg)
    return Mail(text, tuple(dict.fromkeys([*_domains(msg.get("From")), *attached, *forwarded])),
                attached_date or quoted or _mail_date(msg.get("Date")), f"mail {mid}" if mid else "mail")


def from_text(text: str, today: date | None = None) -> Mail:
    """A Mail of pasted text (a copied order page or mail); `today` stands for its date."""
    forwarded = [d for m in _FORWARDED_FROM.finditer(text) for d in _domains(m["who"])]
    quoted = next((d for m in _FORWARDED_DATE.finditer(text) if (d := _quoted_date(m["when"]))), None)
    if "<html" in text[:2000].lower() or "<body" in text[:2000].lower():
        text = html_text(text)
    # Pasted today: its countdowns count from today, but today is no order date.
    return Mail(text, tuple(dict.fromkeys(forwarded)), quoted, "pasted text", read_on=today)


def _quoted_date(text: str) -> date | None:
    """The date of a forwarded header line: RFC 2822 as mail programs quote it, or a written date."""
    return _mail_date(text.strip()) or next(iter(dates_in(text, None)), None)


# ---------------------------------------------------------------- dates


def dates_in(text: str, ref: date | None) -> list[date]:
    """Every date written in `text`, in order; a date without a year is the first such day not long before `ref`."""
    found: list[tuple[int, date]] = []
    taken: list[range] = []
    for pattern in _DATES:
        for m in pattern.finditer(text):
            if any(m.start() in r for r in taken):
                continue
            d = _date_of(m, ref)
            if d is not None:
                found.append((m.start(), d))
                taken.append(range(m.start(), m.end()))
    return [d for _, d in sorted(found, key=lambda p: p[0])]


def _date_of(m: re.Match[str], ref: date | None) -> date | None:
    groups = m.groupdict()
    month = int(groups["mnum"]) if groups.get("mnum") else MONTHS.get((groups.get("month") or "").lower().rstrip("."))
    if month is None:
        return None
    day = int(m["day"])
    if groups.get("year"):
        years = [int(m["year"])]
    elif ref is not None:  # "Dec 12" in a mail of 20 Nov 2026 is 2026-12-12; "Jan 5" in it, 2027-01-05
        years = [ref.year - 1, ref.year, ref.year + 1]
    else:
        return None
    for year in years:
        try:
            d = date(year, month, day)
        except ValueError:
            return None
        if ref is None or groups.get("year") or d >= ref - timedelta(days=60):
            return d
    return None


def _after(text: str, phrases: tuple[str, ...]) -> list[str]:
    """The rest of each line (and the line below, for a table cell) after one of the phrases."""
    pattern = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, phrases)) + r")\b[^\n]*(?:\n[^\n]*)?", re.I)
    return [m.group(0) for m in pattern.finditer(text)]


def _phrase_date(text: str, phrases: tuple[str, ...], ref: date | None, last: bool) -> date | None:
    """The date after the first of the phrases that gives one; of a range ("Dec 12 - Dec 20"), the last."""
    for rest in _after(text, phrases):
        first_line = rest.split("\n")[0]
        found = dates_in(first_line, ref) or dates_in(rest, ref)
        if found:
            return found[-1] if last else found[0]
    return None


# ---------------------------------------------------------------- the marketplace and its orders


def marketplace_of(domains: tuple[str, ...]) -> Marketplace | None:
    """The marketplace whose sender domain comes first among a mail's domains."""
    for domain in domains:
        labels = domain.split(".")
        for market in MARKETPLACES:
            if any(label in labels for label in market.labels):
                return market
    return None


def _order_ids(text: str, market: Marketplace | None) -> list[tuple[str, Marketplace]]:
    """Order ids in the text: the sender's marketplace's shape only, or every shape for an unknown sender."""
    found: dict[str, Marketplace] = {}
    claimed: list[range] = []
    for m in [market] if market else MARKETPLACES:
        shape = rf"(?<![\w-]){m.order_id}(?![\w-])"
        if m.needs_label:
            shape = rf"(?:{_ORDER_LABEL})(?P<id>{m.order_id})(?![\w-])"
        for hit in re.finditer(shape, text, re.I):
            span = hit.span("id") if m.needs_label else hit.span()
            if any(span[0] in r for r in claimed):
                continue
            claimed.append(range(*span))
            found.setdefault(text[span[0]:span[1]].upper(), m)
    return list(found.items())


def _item(text: str) -> str:
    """The item's name where a line says it plainly ("Item: …", "Article : …")."""
    m = re.search(r"^\s*(?:" + "|".join(ITEM) + r")s?\s*(?:name|name\(s\))?\s*:\s*(?P<name>[^\t\n<]{3,})", text,
                  re.I | re.M)
    if m is None:
        return ""
    name = m["name"].strip()
    return name if len(name) <= MAX_ITEM else name[: MAX_ITEM - 1].rstrip() + "…"


def _protection(text: str, ordered_on: date | None, sent: date | None) -> date | None:
    for pattern, anchor in PROTECTION:
        if m := pattern.search(text):
            start = sent if anchor == "mail" else (ordered_on or sent)
            return start + timedelta(days=int(m.group(1))) if start else None
    for m in _PROTECTION_DATE.finditer(text):
        line = text[m.end():].split("\n")[0]
        if found := dates_in(line, sent):
            return found[0]
    return None


# ---------------------------------------------------------------- tracking numbers

_TOKEN = re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9]{8,40}(?![A-Za-z0-9])")
# Numbers printed in groups: "9400 1000 0000 0000 0000 00", "1Z 999 AA1 01 2345 678 4".
_GROUPED = re.compile(r"(?<!\w)(?:[A-Z0-9]{1,6} ){2,7}[A-Z0-9]{1,6}(?!\w)")
_URL = re.compile(r"<https?://[^>\s]*>|https?://\S+")


def _context(text: str, start: int) -> bool:
    """A tracking word before the number on its line (or on the line above, when the number starts its line, as
    under a table's heading), or a tracking link holding it."""
    line_start = text.rfind("\n", 0, start)
    before = text[line_start + 1:start]
    if not before.strip():
        before = text[text.rfind("\n", 0, max(line_start, 0)) + 1:start]
    before = before.lower()
    if any(word in before for word in TRACKING_WORDS):
        return True
    for url in _URL.finditer(text, max(0, start - 300), start + 60):
        if url.start() <= start < url.end() and any(w in url.group(0).lower() for w in ("track", "suivi")):
            return True
    return False


def tracking_numbers(text: str, exclude: set[str]) -> tuple[list[Tracking], list[Skipped]]:
    """Tracking numbers in the text by carrier format, each with its confidence and reason; and those left out."""
    best: dict[str, Tracking] = {}
    skipped: dict[str, Skipped] = {}
    spans = [(m.start(), m.group(0)) for m in _TOKEN.finditer(text)]
    for m in _GROUPED.finditer(text):
        # Words in capitals before the number ("USPS 9400 …") are dropped; digit groups never are, since the end of
        # a long number may pass a shorter format's check by chance.
        at = m.start()
        for group in m.group(0).split(" ")[:-1]:
            spans.append((at, text[at:m.end()]))
            if not group.isalpha():
                break
            at += len(group) + 1
    for start, raw in spans:
        number = normalize(raw)
        if number in exclude or number in best:
            continue
        matches = [m for m in formats(number) if m.format not in _IGNORED_FORMATS]
        if not matches:
            continue
        right = [m for m in matches if m.check is None or m.check.ok]
        if not right:
            skipped[number] = Skipped(number, matches[0].problem() or "wrong check digit")
            continue
        match = next((m for m in right if m.check is not None), right[0])
        checked = match.check is not None
        letters = any(c.isalpha() for c in number)
        confidence = _BASE[(checked, letters)]
        why = [match.summary() if checked else f"{match.format}, {_NO_CHECK}"]
        if _context(text, start):
            confidence += _CONTEXT
            why.append("a tracking word or link beside it")
        confidence = round(min(confidence, 1.0), 2)
        found = Tracking(number, confidence, "; ".join(why))
        if confidence < THRESHOLD:
            skipped[number] = Skipped(number, f"confidence {confidence} below {THRESHOLD}: {found.reason}"
                                      + ("" if letters else " (digits alone need a tracking word beside them)"))
        else:
            best[number] = found
            skipped.pop(number, None)
    return list(best.values()), list(skipped.values())


# ---------------------------------------------------------------- one mail


def extract(mail: Mail) -> Extraction:
    """The orders a mail describes and the numbers it gives; what is seen but unsure is in `skipped`."""
    market = marketplace_of(mail.domains)
    ids = _order_ids(mail.text, market)
    numbers, skipped = tracking_numbers(mail.text, {oid.replace("-", "") for oid, _ in ids} | {oid for oid, _ in ids})
    if not ids:
        why = "no order number in this text" + ("" if market else " and no marketplace sender")
        return Extraction((), tuple([*(Skipped(t.number, why) for t in numbers), *skipped]))
    ordered_on = _phrase_date(mail.text, ORDER_DATE, mail.sent, last=False) or mail.sent
    promised = _phrase_date(mail.text, PROMISED, ordered_on or mail.read_on or mail.sent, last=True)
    protection = _protection(mail.text, ordered_on, mail.read_on or mail.sent)
    item = _item(mail.text)
    orders = [Found(oid, m.name, mail.source, ordered_on, promised, protection, item) for oid, m in ids]
    if len(orders) == 1:
        orders[0].tracking = numbers
        skipped = [Skipped(s.what, s.why, orders[0].order_id) for s in skipped]
    else:  # several orders in one mail: a number cannot be given to one of them
        skipped += [Skipped(t.number, "this mail names several orders: cannot tell which one it belongs to")
                    for t in numbers]
    return Extraction(tuple(orders), tuple(skipped))

