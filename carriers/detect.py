"""Tracking-number formats and check digits → candidate carriers, ranked by likelihood and configuration."""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from itertools import cycle

_SPACES = re.compile(r"[\s\u00a0]+")
_PLAUSIBLE = re.compile(r"[A-Z0-9\-]{4,40}")

# Aggregators cover thousands of carriers and detect the carrier themselves; in this order of preference.
AGGREGATORS = ("17track", "aftership")
_WRONG_CHECK = 0.3  # a wrong check digit keeps the candidate but weighs it this much less


def normalize(number: str) -> str:
    """Strip spaces and upper-case, as every carrier expects."""
    return _SPACES.sub("", number).upper()


def shape_problem(number: str) -> str | None:
    """Why a normalized, non-empty `number` cannot be a tracking number, or None when it can be one."""
    if _PLAUSIBLE.fullmatch(number):
        return None
    bad = "".join(dict.fromkeys(c for c in number if not re.fullmatch(r"[A-Z0-9\-]", c)))
    why = f"has characters a tracking number cannot have ({' '.join(bad)})" if bad else f"is {len(number)} characters long"
    return f"{why}; expected 4 to 40 letters, digits or dashes"


# --- Check digits. Each takes the digits the check covers and returns the digit expected after them. ---
# The readings below were confirmed against jkeen/tracking_number_data (couriers/*.json: algorithm names,
# weights and published valid/invalid numbers) and jkeen/tracking_number's ChecksumValidations, which
# interpret them; tests/test_detect.py replays those published numbers.

def s10_check_digit(serial: str) -> int:
    """UPU S10 check digit of the 8-digit serial number."""
    # UPU standard S10 (jkeen's validates_s10?): weights 8,6,4,2,3,5,9,7, C = 11 − (sum mod 11), then
    # 10 → 0 and 11 → 5. The standard's example: RB123456785GB.
    c = 11 - sum(int(d) * w for d, w in zip(serial, (8, 6, 4, 2, 3, 5, 9, 7), strict=True)) % 11
    return {10: 0, 11: 5}.get(c, c)


def ups_check_digit(body: str) -> int:
    """UPS check digit of the 15 characters between "1Z" and the check digit."""
    # codeproject.com/Articles/21224 "Calculating the UPS Tracking Number Check Digit" and couriers/ups.json
    # (mod10, odds_multiplier 2): a letter counts as (ASCII − 3) mod 10 (A=2 … J=1, K=2 …); every second
    # character (2nd, 4th, … of the 15) is doubled, with no digit-sum as in Luhn; check = −sum mod 10.
    total = 0
    for i, ch in enumerate(body):
        value = int(ch) if ch.isdigit() else (ord(ch) - 3) % 10
        total += value * (2 if i % 2 else 1)
    return -total % 10


def mod10_check_digit(digits: str) -> int:
    """The GS1 mod 10 check digit (weights 3, 1, 3, … from the rightmost digit) of SSCCs, USPS and FedEx Ground."""
    # couriers/usps.json and fedex.json ("mod10" with a ×3 multiplier on even or odd positions, whichever puts
    # it on the rightmost digit), which cite USPS Publication 199 (IMpb) and FedEx Ground's label specification;
    # it is the GS1 General Specifications' check digit, which ends every SSCC-18.
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return -total % 10


def fedex12_check_digit(serial: str) -> int:
    """FedEx Express 12-digit check digit of the 11-digit serial number."""
    # couriers/fedex.json "FedEx Express (12)": weights 3,1,7,3,1,7,… from the left of the 11 digits (that is
    # 1,3,7,… from the right), sum mod 11, then mod 10 (a remainder of 10 gives 0).
    return sum(int(d) * w for d, w in zip(reversed(serial), cycle((1, 3, 7)))) % 11 % 10


def dhl_check_digit(serial: str) -> int:
    """DHL Express waybill check digit: the serial number (all digits but the last) mod 7."""
    # couriers/dhl.json "DHL Express" (mod7) and its published waybills, e.g. 3318810025.
    return int(serial) % 7


# --- Formats ---

@dataclass(frozen=True)
class Check:
    """A check-digit verdict: the character found in the number and the digit the algorithm expects."""

    found: str
    expected: str

    @property
    def ok(self) -> bool:
        """True when the number's check digit is the expected one."""
        return self.found == self.expected


@dataclass(frozen=True)
class Hint:
    """A carrier a format points at, how strongly (0–1, when the check digit is right), and why it fits."""

    carrier: str
    score: float
    why: str = ""


@dataclass(frozen=True)
class Match:
    """One format the number fits: its check-digit verdict and the carriers it points at."""

    format: str
    hints: tuple[Hint, ...]
    check: Check | None = None  # None: the format has no check digit
    note: str = ""  # e.g. the origin country of an S10 number
    # A wrong check digit in a distinctive format (1Z…, S10) is a typo; in bare digits (a 10-digit DHL
    # waybill) it more likely means the number belongs to another carrier.
    distinctive: bool = True

    def summary(self) -> str:
        """The format, its note and its check-digit verdict in one phrase."""
        text = self.format + (f", {self.note}" if self.note else "")
        if self.check is None:
            return text + ", no check digit"
        if self.check.ok:
            return text + ", check digit correct"
        return text + f", but its check digit is {self.check.found} where {self.check.expected} was expected"

    def problem(self) -> str | None:
        """A plain sentence about a wrong check digit, or None."""
        if self.check is None or self.check.ok:
            return None
        c = self.check
        if self.distinctive:
            return (f"check digit is {c.found} where {c.expected} was expected for a {self.format} number: "
                    "probably a typo in the number")
        return (f"if this is a {self.format} number, its check digit is wrong ({c.found} where {c.expected} "
                "was expected): a typo, or a number from another carrier")


def _check(found: str, expected: int) -> Check:
    return Check(found, str(expected))


# Origins most seen on marketplace parcels (names from the UPU member list in couriers/s10.json);
# any other code is shown as it is.
ORIGINS = {
    "CN": "China (China Post)", "HK": "Hong Kong (Hongkong Post)", "SG": "Singapore (SingPost)",
    "TW": "Taiwan (Chunghwa Post)", "JP": "Japan (Japan Post)", "KR": "South Korea (Korea Post)",
    "MY": "Malaysia (Pos Malaysia)", "TH": "Thailand (Thailand Post)", "IN": "India (India Post)",
    "FR": "France (La Poste)", "DE": "Germany (Deutsche Post)", "GB": "United Kingdom (Royal Mail)",
    "NL": "Netherlands (PostNL)", "BE": "Belgium (bpost)", "CH": "Switzerland (Swiss Post)",
    "ES": "Spain (Correos)", "IT": "Italy (Poste Italiane)", "PL": "Poland (Poczta Polska)",
    "LT": "Lithuania (Lietuvos paštas)", "LV": "Latvia (Latvijas Pastas)", "EE": "Estonia (Omniva)",
    "SE": "Sweden (PostNord)", "US": "United States (USPS)", "CA": "Canada (Canada Post)",
    "AU": "Australia (Australia Post)", "BR": "Brazil (Correios)", "TR": "Türkiye (PTT)",
    "IL": "Israel (Israel Post)", "UA": "Ukraine (Ukrposhta)",
}
# National posts with a direct adapter: La Poste, USPS, and Deutsche Post, whose international registered
# mail and Warenpost DHL's unified tracking covers (developer.dhl.com, Shipment Tracking - Unified, scope).
_POST_ADAPTERS = {"FR": "laposte", "US": "usps", "DE": "dhl"}


def _s10(m: re.Match[str]) -> Match:
    origin = m["origin"]
    direct = _POST_ADAPTERS.get(origin)
    hints = [Hint(direct, 0.9, "the origin post's own tracking")] if direct else []
    if origin != "FR":
        # Only the French leg: an aggregator that follows the origin post too is the likelier answer.
        hints.append(Hint("laposte", 0.25, "La Poste tracks international mail once it reaches France"))
    return Match("UPU S10", tuple(hints), _check(m["check"], s10_check_digit(m["serial"])),
                 f"origin {ORIGINS.get(origin, origin)}")


def _bare(name: str, carrier: str, score: float, check_digit: Callable[[str], int]) -> Callable[[re.Match[str]], Match]:
    """A format of bare digits whose last digit checks the others."""
    return lambda m: Match(name, (Hint(carrier, score),), _check(m[0][-1], check_digit(m[0][:-1])), distinctive=False)


def _usps20(m: re.Match[str]) -> Match:
    # The 20-digit form may be a 22-digit IMpb printed without its "91" application identifier, whose check
    # digit still covers the 91 (couriers/usps.json "USPS 91", prepend_if); other 20-digit numbers omit it.
    n = m[0]
    plain, with_91 = mod10_check_digit(n[:-1]), mod10_check_digit("91" + n[:-1])
    check = _check(n[-1], with_91 if n[-1] == str(with_91) else plain)
    # "00" + 18 digits is how a GS1 SSCC is printed, and its GS1 check digit is this one (the two zeros weigh
    # nothing): a right check digit is no evidence for USPS then, so USPS goes below the aggregators.
    hint = Hint("usps", 0.6)
    if n.startswith("00"):
        hint = Hint("usps", 0.25, "ranked low: every GS1 SSCC (00…) passes this check too")
    return Match("USPS 20-digit", (hint,), check, distinctive=False)


# The first six digits of SSCCs whose issuer is known (the extension digit, then the start of the GS1 company
# prefix) → the carrier tracking them. Only DHL Paket's is confirmed: 00340434… are the sample numbers of DHL's
# developer portal (Shipment Tracking: 00340434161094042557 …; its sandbox answers 00340434161094022115 with
# the piece identifier 340434161094022115, as the dhl_tracking crate's README records) and the 20-digit
# "Deutsche Post DHL" numbers of jkeen/tracking_number_data issue #30; all end in a right GS1 check digit.
# Other DHL prefixes may exist (karrio-dashboard issue #262 proposes any "0034…") but none is published:
# such SSCCs stay "carrier unknown".
SSCC_ISSUERS = {"340434": ("dhl", "DHL Paket")}


def _sscc(m: re.Match[str]) -> Match | None:
    sscc = m["sscc"]
    check = _check(sscc[-1], mod10_check_digit(sscc[:-1]))
    issuer = SSCC_ISSUERS.get(sscc[:6])
    if issuer is None:
        # Without a known prefix only the check digit says "SSCC": when it is wrong these are just 20 digits.
        return Match("GS1 SSCC", (), check, "carrier unknown") if check.ok else None
    carrier, name = issuer
    return Match("GS1 SSCC", (Hint(carrier, 0.9, f"{name} labels its parcels with SSCCs"),), check,
                 f"{name} (prefix 00{sscc[:6]})")


def _dhl(name: str, why: str) -> Callable[[re.Match[str]], Match]:
    """A DHL format with a letter prefix and no published check digit."""
    return lambda m: Match(name, (Hint("dhl", 0.85, why),))


@dataclass(frozen=True)
class _Format:
    pattern: re.Pattern[str]
    build: Callable[[re.Match[str]], Match | None]  # None: the shape fits but the number is not of this format


def _fmt(pattern: str, build: Callable[[re.Match[str]], Match | None]) -> _Format:
    return _Format(re.compile(pattern), build)


# Shapes from ../shared/carriers.md "Tracking-number formats" and couriers/*.json; most distinctive first.
_FORMATS = (
    _fmt(r"DEMO.*", lambda m: Match("DEMO prefix", (Hint("demo", 1.0, "a scripted demo shipment"),))),
    _fmt(r"1Z(?P<body>[A-Z0-9]{15})(?P<check>[A-Z0-9])", lambda m: Match(
        "UPS 1Z", (Hint("ups", 0.95),), _check(m["check"], ups_check_digit(m["body"])))),
    _fmt(r"[A-Z]{2}(?P<serial>\d{8})(?P<check>\d)(?P<origin>[A-Z]{2})", _s10),
    # IMpb: application identifier 91–95, 22 or 26 digits, optionally behind the "420" + ZIP (or ZIP+4)
    # routing code, which the check digit does not cover (couriers/usps.json "USPS 91", "USPS 34v2").
    _fmt(r"(?:420(?:\d{5}|\d{9}))?(?P<impb>9[1-5](?:\d{20}|\d{24}))", lambda m: Match(
        "USPS IMpb", (Hint("usps", 0.9),), _check(m[0][-1], mod10_check_digit(m["impb"][:-1])))),
    # FedEx Ground 96: the check digit covers only the last 14 digits before it (couriers/fedex.json).
    _fmt(r"96\d{20}", lambda m: Match(
        "FedEx Ground 96", (Hint("fedex", 0.9),), _check(m[0][-1], mod10_check_digit(m[0][-15:-1])))),
    _fmt(r"LP\d{14}", lambda m: Match(
        "Cainiao LP", (Hint("cainiao", 0.9, "AliExpress Standard Shipping"),))),
    _fmt(r"YT\d{16}", lambda m: Match(
        "YunExpress YT", tuple(Hint(a, 0.9, "YunExpress has no direct adapter") for a in AGGREGATORS))),
    # Amazon Logistics: TBA + 12 digits, no check digit (jkeen's couriers/amazon.json, checksum "dummy").
    _fmt(r"TBA\d{12}", lambda m: Match(
        "Amazon Logistics TBA", tuple(Hint(a, 0.5, "Amazon Logistics has no direct adapter") for a in AGGREGATORS))),
    # Colissimo and Lettre suivie (6A…, 8R…, 1L…): no check digit is published. (The three real numbers in
    # public La Poste clients' READMEs do end in a GS1 mod 10 digit, but that is not documented: not enforced.)
    _fmt(r"\d[A-Z]\d{11}", lambda m: Match(
        "Colissimo", (Hint("laposte", 0.85, "La Poste tracks Colissimo"),))),
    # GS1 SSCC-18 behind its "00" application identifier: DHL Paket's parcel numbers (SSCC_ISSUERS).
    _fmt(r"00(?P<sscc>\d{18})", _sscc),
    # DHL piece ids and DHL eCommerce numbers: no check digit and no length is published by DHL. jkeen's
    # couriers/dhl.json takes J + 2–3 letters + 9–10 digits (valid: JJD0099999999, JVGL0999999990) and GM +
    # 10–39 digits (valid: GM2951173225174494, GM295117494011169042); German parcel sites print JJD + 13 digits
    # (JJD1298765432109); public parsers use JJD + 18 or 21, JVGL + 14 to 20, GM + 16 to 18. The ranges below
    # span those lengths, except jkeen's GM range, narrowed to the 16–22 digits seen so short GM… references
    # are not claimed: unconfirmed ranges, which an aggregator still covers when they miss a real number.
    _fmt(r"JJD\d{9,21}", _dhl("DHL piece id JJD", "DHL Paket and DHL Parcel piece ids")),
    _fmt(r"JVGL\d{9,20}", _dhl("DHL piece id JVGL", "DHL Parcel and DHL eCommerce piece ids")),
    _fmt(r"GM\d{16,22}", _dhl("DHL eCommerce GM", "DHL's unified tracking covers DHL eCommerce")),
    _fmt(r"\d{20}", _usps20),
    _fmt(r"\d{15}", _bare("FedEx Ground 15-digit", "fedex", 0.6, mod10_check_digit)),
    _fmt(r"\d{12}", _bare("FedEx Express 12-digit", "fedex", 0.6, fedex12_check_digit)),
    # Many carriers use 10–11 bare digits and one in seven passes mod 7: a weak hint even when it holds.
    _fmt(r"\d{10,11}", _bare("DHL Express", "dhl", 0.35, dhl_check_digit)),
)


def formats(number: str) -> list[Match]:
    """Every known format the normalized `number` fits, most distinctive first."""
    return [match for f in _FORMATS if (m := f.pattern.fullmatch(number)) and (match := f.build(m))]


# --- Candidates ---

@dataclass(frozen=True)
class Candidate:
    """A carrier that may own a number, with the reason it was picked and how likely (0–1)."""

    carrier: str
    reason: str
    score: float = 0.0


@dataclass(frozen=True)
class Detection:
    """What a number's shape says: the normalized number, formats fitted, problems, ranked candidates."""

    number: str
    matches: tuple[Match, ...]
    problems: tuple[str, ...]
    candidates: tuple[Candidate, ...]  # most likely first, before any configuration is considered


def detect(number: str) -> Detection:
    """Formats, check-digit problems and candidate carriers for one tracking number."""
    n = normalize(number)
    if not n:
        return Detection(n, (), ("the tracking number is empty",), ())
    if why := shape_problem(n):
        return Detection(n, (), (f"{json.dumps(number.strip(), ensure_ascii=False)} {why}",), ())
    matches = formats(n)
    best: dict[str, Candidate] = {}
    for match in matches:
        penalty = 1.0 if match.check is None or match.check.ok else _WRONG_CHECK
        for hint in match.hints:
            reason = match.summary() + (f"; {hint.why}" if hint.why else "")
            cand = Candidate(hint.carrier, reason, round(hint.score * penalty, 2))
            if hint.carrier not in best or cand.score > best[hint.carrier].score:
                best[hint.carrier] = cand
    # Aggregators can be asked about any plausible number, below the direct carriers a clean format points at;
    # no real carrier knows the scripted DEMO numbers.
    if "demo" not in best:
        why = "aggregator: covers thousands of carriers and detects the carrier itself"
        for agg in AGGREGATORS:
            best.setdefault(agg, Candidate(agg, why, 0.3) if matches else Candidate(agg, f"no known format; {why}", 0.2))
    ranked = sorted(best.values(), key=lambda c: -c.score)  # stable: format order breaks ties
    problems = tuple(p for m in matches if (p := m.problem()))
    return Detection(n, tuple(matches), problems, tuple(ranked))


def candidates(number: str) -> list[Candidate]:
    """Carriers that may own `number`, most likely first."""
    return list(detect(number).candidates)


def rank(number_or_candidates: str | Iterable[Candidate], configured: Collection[str]) -> list[Candidate]:
    """Carriers in the order to ask them: configured direct ones by likelihood, then a configured aggregator
    (17track before aftership), then the unconfigured ones by likelihood."""
    found = candidates(number_or_candidates) if isinstance(number_or_candidates, str) else list(number_or_candidates)

    def group(c: Candidate) -> tuple[int, int]:
        if c.carrier not in configured:
            return 2, 0
        return (1, AGGREGATORS.index(c.carrier)) if c.carrier in AGGREGATORS else (0, 0)

    return sorted(found, key=group)  # stable: likelihood order within each group
