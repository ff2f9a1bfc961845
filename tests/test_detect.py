"""Tracking-number detection as a user meets it: formats, check digits, ranking, App.source and `detect`."""
from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from carriers.detect import (
    Candidate,
    Check,
    candidates,
    detect,
    dhl_check_digit,
    fedex12_check_digit,
    mod10_check_digit,
    rank,
    s10_check_digit,
    ups_check_digit,
)
from monitor.cli import cli
from monitor.config import TERMINAL, App
from monitor.watchlist import Order, Watchlist
from tests.helpers import ScriptedCarrier

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"

# Published numbers: the UPU's own S10 example, and the valid/invalid test numbers of
# jkeen/tracking_number_data (couriers/*.json) and of public La Poste client READMEs.
VALID = [
    # number, format, the carrier a user with every adapter configured would be sent to first
    ("RB123456785GB", "UPU S10", "laposte"),
    ("RB123456785FR", "UPU S10", "laposte"),
    ("EA123456785US", "UPU S10", "usps"),
    ("RR123456785DE", "UPU S10", "dhl"),
    ("1Z5R89390357567127", "UPS 1Z", "ups"),
    ("1Z879E930346834440", "UPS 1Z", "ups"),
    ("1Z410E7W0392751591", "UPS 1Z", "ups"),
    ("1Z8V92A70367203024", "UPS 1Z", "ups"),
    ("9400111201080805483016", "USPS IMpb", "usps"),
    ("9505511069605048600624", "USPS IMpb", "usps"),
    ("92748931507708513018050063", "USPS IMpb", "usps"),  # 26 digits
    ("420221539101026837331000039521", "USPS IMpb", "usps"),  # 420 + ZIP before the IMpb
    ("4201002334249200190132607600833457", "USPS IMpb", "usps"),  # 420 + ZIP+4
    ("03071790000523483741", "USPS 20-digit", "usps"),
    ("71969010756003077385", "USPS 20-digit", "usps"),  # check digit computed with the dropped "91"
    ("986578788855", "FedEx Express 12-digit", "fedex"),
    ("477179081230", "FedEx Express 12-digit", "fedex"),
    ("041441760228964", "FedEx Ground 15-digit", "fedex"),
    ("568283610012734", "FedEx Ground 15-digit", "fedex"),
    ("9611020987654312345672", "FedEx Ground 96", "fedex"),
    ("3318810025", "DHL Express", "dhl"),
    ("73891051146", "DHL Express", "dhl"),
    ("LP00123456789012", "Cainiao LP", "cainiao"),
    ("YT2229521272164446", "YunExpress YT", "17track"),
    ("6A15602676300", "Colissimo", "laposte"),
    ("6M17554710224", "Colissimo", "laposte"),
    # DHL piece ids and DHL eCommerce: jkeen/tracking_number_data couriers/dhl.json's published numbers, and
    # the JJD examples of frankieren.de and of a nolp.dhl.de tracking link; none has a check digit.
    ("JJD0099999999", "DHL piece id JJD", "dhl"),
    ("JJD1298765432109", "DHL piece id JJD", "dhl"),
    ("JJD1410100091828", "DHL piece id JJD", "dhl"),
    ("JVGL0999999990", "DHL piece id JVGL", "dhl"),
    ("GM2951173225174494", "DHL eCommerce GM", "dhl"),
    ("GM295117494011169042", "DHL eCommerce GM", "dhl"),
    ("DEMO-TRANSIT", "DEMO prefix", "demo"),
]
EVERY_ADAPTER = {"demo", "17track", "aftership", "dhl", "laposte", "usps", "ups", "fedex", "cainiao"}


@pytest.mark.parametrize(("number", "fmt", "first"), VALID)
def test_published_numbers_are_recognised(number: str, fmt: str, first: str) -> None:
    """Each real-shaped number fits its format with a correct check digit and goes to the right carrier."""
    found = detect(number)
    assert [m.format for m in found.matches] == [fmt]
    check = found.matches[0].check
    assert check is None or check.ok, check
    assert found.problems == ()
    assert rank(number, EVERY_ADAPTER)[0].carrier == first


INVALID = [
    # number, format, found, expected, the words a user reads
    ("RB123456786US", "UPU S10", "6", "5", "probably a typo"),
    ("1Z879E930346834441", "UPS 1Z", "1", "0", "probably a typo"),
    ("1Z879E93034683444A", "UPS 1Z", "A", "0", "probably a typo"),
    ("9400111201080805483017", "USPS IMpb", "7", "6", "probably a typo"),
    ("4201028200009261290113185417468511", "USPS IMpb", "1", "0", "probably a typo"),
    ("9600000000000000000001", "FedEx Ground 96", "1", "0", "probably a typo"),
    ("03071790000523483742", "USPS 20-digit", "2", "1", "a number from another carrier"),
    ("996578788855", "FedEx Express 12-digit", "5", "6", "a number from another carrier"),
    ("568283610012732", "FedEx Ground 15-digit", "2", "4", "a number from another carrier"),
    ("3318810010", "DHL Express", "0", "4", "a number from another carrier"),
]


@pytest.mark.parametrize(("number", "fmt", "found", "expected", "words"), INVALID)
def test_a_wrong_check_digit_is_said_plainly_and_ranked_lower(
        number: str, fmt: str, found: str, expected: str, words: str) -> None:
    """A wrong check digit is named with the one expected; the carrier stays a candidate, below the aggregators."""
    result = detect(number)
    (match,) = result.matches
    assert (match.format, match.check and match.check.found, match.check and match.check.expected) == (
        fmt, found, expected)
    (problem,) = result.problems
    assert f"{found} where {expected} was expected" in problem and words in problem
    order = [c.carrier for c in result.candidates]
    direct = next(c for c in order if c not in ("17track", "aftership"))
    assert order.index(direct) > order.index("17track")


# A GS1 SSCC behind its "00" application identifier is 20 digits whose check digit also passes the USPS
# 20-digit check (leading zeros weigh nothing), so both formats fit; the ranking must say which is likelier.
# 00340434…: DHL's developer-portal sandbox numbers; 00157035381410375177: biip's SSCC example (GS1 Denmark).
SSCC = [
    # number, formats fitted, carriers in the order they would be asked with every adapter configured
    ("00340434161094042557", ["GS1 SSCC", "USPS 20-digit"], ["dhl", "usps", "17track", "aftership"]),
    ("00340434161094022115", ["GS1 SSCC", "USPS 20-digit"], ["dhl", "usps", "17track", "aftership"]),
    ("00340434161094015902", ["GS1 SSCC", "USPS 20-digit"], ["dhl", "usps", "17track", "aftership"]),
    # Another company's SSCC: no carrier is known from it, USPS stays a candidate below the aggregators.
    ("00157035381410375177", ["GS1 SSCC", "USPS 20-digit"], ["usps", "17track", "aftership"]),
]


@pytest.mark.parametrize(("number", "fmts", "order"), SSCC)
def test_an_sscc_goes_to_dhl_when_dhl_issued_it_and_usps_is_explained_lower(
        number: str, fmts: list[str], order: list[str]) -> None:
    """A DHL Paket number (00340434…) ranks DHL first; USPS, whose check every SSCC passes, says why it is lower."""
    found = detect(number)
    assert [m.format for m in found.matches] == fmts and found.problems == ()
    assert all(m.check is not None and m.check.ok for m in found.matches)
    assert [c.carrier for c in rank(number, EVERY_ADAPTER)] == order
    ranked = [c.carrier for c in found.candidates]
    usps = next(c for c in found.candidates if c.carrier == "usps")
    assert "every GS1 SSCC" in usps.reason and ranked.index("usps") > ranked.index("17track")
    if "dhl" in ranked:
        assert ranked[0] == "dhl" and "DHL Paket" in found.candidates[0].reason
    else:
        assert "carrier unknown" in found.matches[0].summary()


def test_a_dhl_sscc_with_a_wrong_check_digit_is_a_typo_still_sent_to_dhl_before_usps() -> None:
    """The 00340434 prefix is DHL's: a wrong last digit is named, and DHL stays above USPS."""
    found = detect("00340434161094042558")
    sscc = found.matches[0]
    assert (sscc.format, sscc.check) == ("GS1 SSCC", Check("8", "7"))
    assert "check digit is 8 where 7 was expected for a GS1 SSCC number: probably a typo" in found.problems[0]
    order = [c.carrier for c in found.candidates]
    assert order.index("dhl") < order.index("usps")


@pytest.mark.parametrize(("number", "fmts"), [
    ("00157035381410375178", ["USPS 20-digit"]),  # 00 + 18 digits, wrong GS1 check digit: not an SSCC
    ("12345678901234567890", ["USPS 20-digit"]),  # no 00 identifier
    ("0034043416109404255", []),  # 19 digits
    ("003404341610940425570", []),  # 21 digits
    ("340434161094042557", []),  # the bare 18-digit SSCC: DHL tracks the 20-digit form
    ("JJD12345678", []),  # JJD + 8 digits: shorter than any published
    ("JJD1234567890123456789012", []),  # JJD + 22 digits: longer than any published
    ("JVGL12345678", []),  # JVGL + 8 digits
    ("XJD0099999998", []),  # jkeen's invalid piece id
    ("GM123456789012345", []),  # GM + 15 digits
    ("GS295117494011169041", []),  # jkeen's invalid DHL eCommerce numbers
    ("GR295117494011169045", []),
])
def test_numbers_that_only_look_like_dhl_are_not_sent_to_dhl(number: str, fmts: list[str]) -> None:
    """Near misses of the DHL formats fit none of them and never point at DHL."""
    found = detect(number)
    assert [m.format for m in found.matches] == fmts
    assert "dhl" not in [c.carrier for c in found.candidates]


@pytest.mark.parametrize(("number", "origin"), [
    ("RB123456785CN", "origin China (China Post)"),
    ("LX123456785LT", "origin Lithuania (Lietuvos paštas)"),
    ("RB123456785QQ", "origin QQ"),  # not in the short list: shown as it is
])
def test_s10_names_its_origin(number: str, origin: str) -> None:
    """An S10 number says which country's post it came from."""
    (match,) = detect(number).matches
    assert match.note == origin and origin in match.summary()


def test_an_s10_from_abroad_goes_to_an_aggregator_first_and_la_poste_after() -> None:
    """La Poste only sees foreign mail once it reaches France: listed, below the aggregators."""
    assert [c.carrier for c in candidates("RB123456785CN")] == ["17track", "aftership", "laposte"]


@pytest.mark.parametrize(("raw", "normalized"), [
    (" 1z 879e 9303 4683 4440 ", "1Z879E930346834440"),
    ("rb\u00a0123 456 785 gb", "RB123456785GB"),
])
def test_spaces_and_case_do_not_matter(raw: str, normalized: str) -> None:
    """A number pasted with spaces or in lower case is detected as written by the carrier."""
    assert detect(raw).number == normalized and detect(raw) == detect(normalized)


@pytest.mark.parametrize(("raw", "words"), [
    ("", "empty"),
    ("   ", "empty"),
    ("ab", "is 2 characters long"),
    ("hello!", "cannot have (!)"),
    ("A" * 41, "is 41 characters long"),
])
def test_garbage_has_no_candidate_and_one_clear_problem(raw: str, words: str) -> None:
    """What cannot be a tracking number gets no carrier, and one sentence saying why."""
    found = detect(raw)
    assert found.candidates == () and len(found.problems) == 1 and words in found.problems[0]


def test_an_unknown_but_plausible_number_goes_to_the_aggregators() -> None:
    """No known format: the aggregators, which detect thousands of carriers themselves, are still asked."""
    found = detect("ABC12345")
    assert found.matches == () and found.problems == ()
    assert [c.carrier for c in found.candidates] == ["17track", "aftership"]
    assert "no known format" in found.candidates[0].reason


def test_demo_numbers_go_to_the_demo_carrier_only() -> None:
    """No real carrier knows the scripted DEMO- numbers: no aggregator is proposed."""
    assert [c.carrier for c in candidates("DEMO-STALLED")] == ["demo"]


# --- Ranking against a configuration ---

UPS = "1Z879E930346834440"


@pytest.mark.parametrize(("number", "configured", "order"), [
    (UPS, set(), ["ups", "17track", "aftership"]),
    (UPS, {"17track"}, ["17track", "ups", "aftership"]),
    (UPS, {"aftership", "17track"}, ["17track", "aftership", "ups"]),
    (UPS, {"ups", "aftership"}, ["ups", "aftership", "17track"]),
    ("RB123456785CN", {"laposte", "aftership"}, ["laposte", "aftership", "17track"]),
    ("RB123456785FR", {"17track"}, ["17track", "laposte", "aftership"]),
    ("YT2229521272164446", {"aftership"}, ["aftership", "17track"]),
    # A configured direct carrier is asked before a configured aggregator even with a doubtful check digit.
    ("3318810024", {"dhl", "17track"}, ["dhl", "17track", "aftership"]),
    ("LP00123456789012", {"ups", "fedex"}, ["cainiao", "17track", "aftership"]),
])
def test_rank_prefers_configured_carriers_then_a_configured_aggregator(
        number: str, configured: set[str], order: list[str]) -> None:
    """Configured direct carriers by likelihood, then 17track, then aftership, then what is not configured."""
    assert [c.carrier for c in rank(number, configured)] == order
    assert rank(candidates(number), configured) == rank(number, configured)


def test_rank_keeps_candidates_it_is_given() -> None:
    """rank() also orders a list of candidates, e.g. one already narrowed down by the caller."""
    listed = [Candidate("17track", "x", 0.3), Candidate("dhl", "y", 0.35)]
    assert [c.carrier for c in rank(listed, {"dhl"})] == ["dhl", "17track"]


def _app(tracking: str, usable: set[str], skipped: dict[str, str] | None = None, carrier: str = "auto") -> tuple[App, Order]:
    wl = Watchlist.model_validate({"monitor": {"timezone": "Europe/Paris"}, "orders": [
        {"id": "O1", "ordered_on": "2026-11-01", "tracking": tracking, "carrier": carrier}]})
    return App(Path("w.toml"), wl, {c: ScriptedCarrier() for c in usable}, skipped or {}, {TERMINAL: None}), wl.orders[0]


@pytest.mark.parametrize(("tracking", "usable", "source"), [
    (UPS, {"ups", "17track"}, "ups"),
    (UPS, {"17track", "aftership"}, "17track"),
    ("RB123456785CN", {"laposte", "17track"}, "laposte"),
    ("LP00123456789012", {"aftership"}, "aftership"),
    ("ABC12345", {"dhl", "aftership"}, "aftership"),
    ("DEMO-TRANSIT", {"17track"}, None),
])
def test_source_asks_the_best_usable_carrier(tracking: str, usable: set[str], source: str | None) -> None:
    """carrier = "auto" polls the first usable carrier in rank order, or nothing."""
    app, order = _app(tracking, usable)
    assert app.source(order) == ((source, tracking) if source else None)


@pytest.mark.parametrize(("tracking", "routes", "chain"), [
    ("6A15602676300", {}, ["laposte", "17track", "aftership"]),
    ("RB123456785CN", {}, ["laposte", "17track", "aftership"]),
    ("YT2229521272164446", {}, ["17track", "aftership"]),
    ("6A15602676300", {"6A15602676300": "aftership"}, ["aftership"]),  # the carrier that answered before
])
def test_sources_is_the_chain_to_try_when_a_carrier_answers_not_found(
        tracking: str, routes: dict[str, str], chain: list[str]) -> None:
    """Every usable candidate in rank order, unless a carrier already answered for this number."""
    app, order = _app(tracking, {"laposte", "17track", "aftership", "ups"})
    assert app.sources(order, routes) == [(c, tracking) for c in chain]


@pytest.mark.parametrize(("tracking", "skipped", "why"), [
    ("LP00123456789012", {"cainiao": "disabled in the watchlist"},
     "cainiao: disabled in the watchlist (an aggregator would do too: 17track or aftership)"),
    (UPS, {}, "ups: not installed (an aggregator would do too: 17track or aftership)"),
    ("DEMO-TRANSIT", {}, "demo: not installed"),
])
def test_why_no_source_names_the_carrier_wanted_and_the_aggregators(
        tracking: str, skipped: dict[str, str], why: str) -> None:
    """The one-line reason an order is not polled names what to configure."""
    app, order = _app(tracking, set(), skipped)
    assert app.source(order) is None and app.why_no_source(order) == why


def test_an_explicit_carrier_is_not_second_guessed() -> None:
    """carrier = "dhl" polls DHL even for a number shaped like UPS's, and only DHL."""
    app, order = _app(UPS, {"ups"}, {"dhl": "no api_key"}, carrier="dhl")
    assert app.source(order) is None and app.why_no_source(order) == "dhl: no api_key"


# --- Check-digit properties ---
# Each scheme's published guarantee: a mod-10 scheme with weights 3/1 catches every single-digit change;
# the others miss only the changes named below, which the tests assert rather than hide.

def _digits(n: int) -> st.SearchStrategy[str]:
    return st.text("0123456789", min_size=n, max_size=n)


def _detected(number: str, fmt: str) -> bool:
    """Whether `number` still fits `fmt` with a correct check digit."""
    return any(m.format == fmt and m.check is not None and m.check.ok for m in detect(number).matches)


a_change = st.tuples(st.integers(0, 40), st.integers(1, 9))  # (position, how much to add mod 10)


def _mutate(number: str, positions: Sequence[int], pick: tuple[int, int]) -> tuple[int, int, str]:
    """One digit at one of `positions` changed by a non-zero amount: (index, signed difference, new number)."""
    i = positions[pick[0] % len(positions)]
    old = int(number[i])
    new = (old + pick[1]) % 10
    return i, new - old, f"{number[:i]}{new}{number[i + 1:]}"


@given(st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=4, max_size=4), _digits(8), a_change)
def test_s10_property(letters: str, serial: str, pick: tuple[int, int]) -> None:
    """Valid S10 numbers are detected; a changed digit is caught unless the check digit is 5.

    C = 11 − (sum mod 11) maps the remainders 0 and 6 both to 5 (11 → 5), so a change of the serial that
    moves the remainder between 0 and 6 keeps a 5 valid (RB123456785GB → RB323456785GB below)."""
    number = f"{letters[:2]}{serial}{s10_check_digit(serial)}{letters[2:]}"
    assert _detected(number, "UPU S10")
    i, _, changed = _mutate(number, range(2, 11), pick)
    assert not _detected(changed, "UPU S10") or (i < 10 and number[10] == "5")


@given(st.text("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=15, max_size=15), a_change)
def test_ups_property(body: str, pick: tuple[int, int]) -> None:
    """Valid 1Z numbers are detected; a changed digit is caught except by ±5 where the scheme doubles it."""
    number = f"1Z{body}{ups_check_digit(body)}"
    assert _detected(number, "UPS 1Z")
    i, diff, changed = _mutate(number, [i for i in range(2, 18) if number[i].isdigit()], pick)
    doubled = i < 17 and (i - 2) % 2 == 1
    assert _detected(changed, "UPS 1Z") == (doubled and abs(diff) == 5)


@pytest.mark.parametrize(("fmt", "prefix", "free", "covered_from"), [
    ("USPS IMpb", "92", 19, 0),
    ("USPS IMpb", "9405", 21, 0),  # 26 digits
    ("FedEx Ground 15-digit", "", 14, 0),
    ("FedEx Ground 96", "96", 19, 7),  # the check covers the last 14 digits only
    ("GS1 SSCC", "00340434", 11, 0),  # a DHL Paket number
    ("GS1 SSCC", "00", 17, 0),  # any SSCC behind its 00 identifier
])
@given(data=st.data())
def test_gs1_mod10_property(fmt: str, prefix: str, free: int, covered_from: int, data: st.DataObject) -> None:
    """Weights 3/1 mod 10 catch every single-digit change in the digits they cover."""
    body = prefix + data.draw(_digits(free))
    number = body + str(mod10_check_digit(body[covered_from:]))
    assert _detected(number, fmt)
    i, _, changed = _mutate(number, range(len(prefix), len(number)), data.draw(a_change))
    assert _detected(changed, fmt) == (i < covered_from)


@given(_digits(19), st.booleans(), a_change)
def test_usps20_property(payload: str, with_91: bool, pick: tuple[int, int]) -> None:
    """20-digit numbers are valid in two readings (with or without the dropped "91"), 28 apart in weighted sum:
    a change is missed exactly when it moves the sum onto the other reading (+2 mod 10 from the plain one, +8
    from the 91 one), with weight 1 on the check digit, 3 on the digit before, and so on."""
    number = payload + str(mod10_check_digit(("91" if with_91 else "") + payload))
    assert _detected(number, "USPS 20-digit")
    i, diff, changed = _mutate(number, range(20), pick)
    weight = 1 if (20 - i) % 2 else 3
    assert _detected(changed, "USPS 20-digit") == ((weight * diff) % 10 == (8 if with_91 else 2))


@given(_digits(11), a_change)
def test_fedex12_property(serial: str, pick: tuple[int, int]) -> None:
    """Valid 12-digit numbers are detected; a changed digit is caught unless the check digit is 0
    (sum mod 11 mod 10 gives 0 for both remainders 0 and 10: 477179081230 → 077179081230 below)."""
    number = serial + str(fedex12_check_digit(serial))
    assert _detected(number, "FedEx Express 12-digit")
    i, _, changed = _mutate(number, range(12), pick)
    assert not _detected(changed, "FedEx Express 12-digit") or (i < 11 and number[-1] == "0")


@given(st.sampled_from([9, 10]), _digits(10), a_change)
def test_dhl_property(length: int, digits: str, pick: tuple[int, int]) -> None:
    """Valid waybills are detected; a changed digit is caught except a serial digit changed by ±7 (10ᵏ·7 ≡ 0 mod 7)."""
    serial = digits[:length]
    number = serial + str(dhl_check_digit(serial))
    assert _detected(number, "DHL Express")
    i, diff, changed = _mutate(number, range(len(number)), pick)
    assert _detected(changed, "DHL Express") == (i < len(number) - 1 and abs(diff) == 7)


@pytest.mark.parametrize(("valid", "also_valid", "fmt"), [
    ("RB123456785GB", "RB323456785GB", "UPU S10"),
    ("477179081230", "077179081230", "FedEx Express 12-digit"),
    ("1Z879E930346834440", "1Z829E930346834440", "UPS 1Z"),
    ("3318810025", "3388810025", "DHL Express"),
    ("03071790000523483741", "03071790000523483743", "USPS 20-digit"),
    ("1Z999AA10123456784", "1Z999A210123456784", "UPS 1Z"),  # A counts as 2
])
def test_the_single_changes_each_scheme_cannot_see(valid: str, also_valid: str, fmt: str) -> None:
    """The blind spots the properties allow, on real-shaped numbers: both numbers pass."""
    assert _detected(valid, fmt) and _detected(also_valid, fmt)


# --- The `detect` command ---

@pytest.fixture(autouse=True)
def no_config_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("TRACKING_MONITOR_CONFIG", "TRACKING_MONITOR_SECRETS_DIR", "CREDENTIALS_DIRECTORY"):
        monkeypatch.delenv(var, raising=False)


def invoke(*args: str, config: Path = EXAMPLE):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, ["--config", str(config), "detect", *args])


def test_detect_lists_the_candidates_in_order_with_their_status() -> None:
    """Plain lines, numbered in the order the carriers would be asked, each with its status and reason."""
    result = invoke("rb 123 456 785 cn")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.splitlines()[:3] == [
        "RB123456785CN", "format: UPU S10, origin China (China Post), check digit correct", f"config: {EXAMPLE}"]
    assert re.findall(r"^ *\d+\. (\S+)", out, re.M) == ["17track", "aftership", "laposte"]
    assert "La Poste tracks international mail once it reaches France" in out
    assert "\x1b" not in out  # piped: no colour codes


def test_detect_says_a_check_digit_is_wrong() -> None:
    """A typo in a UPS number is said plainly, and the number is still looked up."""
    result = invoke("1Z879E930346834441")
    assert result.exit_code == 0
    assert ("problem: check digit is 1 where 0 was expected for a UPS 1Z number: probably a typo in the number"
            in result.stdout)
    assert " ups " in result.stdout


def test_detect_sends_a_dhl_paket_number_to_dhl_before_usps() -> None:
    """A 00340434… number, once sent to USPS alone, is shown as a DHL Paket SSCC with DHL asked first."""
    result = invoke("0034 0434 1610 9404 2557")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "format: GS1 SSCC, DHL Paket (prefix 00340434), check digit correct" in out
    assert re.findall(r"^ *\d+\. (\S+)", out, re.M) == ["dhl", "17track", "aftership", "usps"]


def test_detect_shows_what_the_config_can_use(tmp_path: Path) -> None:
    """A usable carrier is marked and named as the one asked; a disabled one says why it is not asked."""
    assert "would ask: demo" in invoke("DEMO-TRANSIT").stdout
    off = tmp_path / "off.toml"
    off.write_text('[carriers.demo]\nenabled = false\n', encoding="utf-8")
    out = invoke("DEMO-TRANSIT", config=off).stdout
    assert "demo       1.00  would be asked if configured (disabled: set enabled = true in [carriers.demo] to use it)" in out
    assert "no usable carrier in this config can track it" in out


def test_detect_without_a_config_still_ranks_by_format(tmp_path: Path) -> None:
    """No config file: the format-based ranking, and a line saying no config was found."""
    missing = tmp_path / "none.toml"
    result = invoke("LP00123456789012", config=missing)
    assert result.exit_code == 0
    assert f"config: none found at {missing}: ranking by format only" in result.stdout
    assert " cainiao " in result.stdout and "would ask" not in result.stdout


def test_detect_with_a_broken_config_fails_like_every_command(tmp_path: Path) -> None:
    """A config that exists but is invalid is an error (exit 2) naming the file, not silently ignored."""
    bad = tmp_path / "bad.toml"
    bad.write_text("[monitor\n", encoding="utf-8")
    result = invoke("LP00123456789012", config=bad)
    assert result.exit_code == 2 and str(bad) in result.stderr


@pytest.mark.parametrize("garbage", ["", "hello!", "ab"])
def test_detect_rejects_garbage_with_exit_2(garbage: str) -> None:
    """Nothing to look up: one error line on stderr, nothing on stdout, exit 2."""
    result = invoke(garbage)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("error: ") and len(result.stderr.splitlines()) == 1


def test_detect_json() -> None:
    """--json: the number, formats with their check, problems, config and the ranked candidates."""
    result = invoke("--json", "3318810024")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["number"] == "3318810024" and data["config"] == str(EXAMPLE)
    assert data["formats"] == [{"format": "DHL Express", "note": None,
                                "check": {"found": "4", "expected": "5", "ok": False}}]
    assert "a number from another carrier" in data["problems"][0]
    assert [c["carrier"] for c in data["candidates"]] == ["17track", "aftership", "dhl"]
    assert all(set(c) == {"carrier", "score", "reason", "status", "usable"} for c in data["candidates"])
    garbage = invoke("--json", "!!")
    assert garbage.exit_code == 2 and json.loads(garbage.stdout)["candidates"] == []
